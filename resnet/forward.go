package resnet

import (
	"fmt"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// Forward runs the model on images x: [batch, channels, height, width] and
// returns the logits: [batch, classes], a slice of ws valid until ws is
// used again. With a training workspace it keeps what Backward needs.
func (m *Model) Forward(ws *Workspace, x []float32, batch int) ([]float32, error) {
	c, l := m.Config, m.layout
	if batch > ws.batch {
		return nil, fmt.Errorf("resnet: batch of %d images in a workspace sized for %d", batch, ws.batch)
	}
	if want := batch * c.Channels * c.ImageHeight * c.ImageWidth; len(x) < want {
		return nil, fmt.Errorf("resnet: %d input values for %d images of %d×%d×%d", len(x), batch, c.Channels, c.ImageHeight, c.ImageWidth)
	}
	m.Stem.Forward(ws.stem, ws.stemCols, x, batch, l.h, l.w, true)
	in := ws.stem
	if !l.small {
		nn.MaxPool2D(ws.pool, ws.poolArg, ws.stem, batch, l.stemH, l.stemW, l.width, 3, 2, 1)
		in = ws.pool
	}
	for i, b := range m.Blocks {
		b.forward(ws, &ws.blocks[i], in, batch)
		in = ws.blocks[i].out
	}
	last := l.last()
	pos := last.oh * last.ow
	m.Norm.Forward(ws.normed, in, ws.mean, ws.rstd, batch, pos)
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			avg := ws.pooled[b*l.final : (b+1)*l.final]
			clear(avg)
			for p := range pos {
				kernels.AddTo(avg, ws.normed[(b*pos+p)*l.final:][:l.final])
			}
			for j := range avg {
				avg[j] /= float32(pos)
			}
		}
	})
	m.Head.Forward(ws.logits, ws.pooled, batch)
	return ws.logits[:batch*c.Classes], nil
}

// forward runs one bottleneck on x: [batch, h, w, in] into a.out.
func (b *Block) forward(ws *Workspace, a *blockActs, x []float32, batch int) {
	s := b.shape
	b.Norm1.Forward(a.pre, x, a.mean1, a.rstd1, batch, s.h*s.w)
	short := x
	if b.Downsample != nil {
		b.Downsample.Forward(a.short, a.dsCols, a.pre, batch, s.h, s.w, false)
		short = a.short
	}
	b.Conv1.Forward(a.a, nil, a.pre, batch, s.h, s.w, false)
	b.Norm2.Forward(a.b, a.a, a.mean2, a.rstd2, batch, s.h*s.w)
	b.Conv2.Forward(a.c, a.cols2, a.b, batch, s.h, s.w, false)
	b.Norm3.Forward(a.d, a.c, a.mean3, a.rstd3, batch, s.oh*s.ow)
	b.Conv3.Forward(a.out, nil, a.d, batch, s.oh, s.ow, false)
	n := batch * s.oh * s.ow * s.out
	kernels.ParallelFor(n, 1<<14, func(lo, hi int) { kernels.AddTo(a.out[lo:hi], short[lo:hi]) })
}

// Backward propagates dlogits: [batch, classes], the gradient of the loss
// with respect to the logits of the last Forward on ws, back through the
// model, adding every parameter's gradient into its Grad (clear them with
// ZeroGrad between steps). ws must be a training workspace.
func (m *Model) Backward(ws *Workspace, dlogits []float32, batch int) error {
	if !ws.train {
		return errNotTraining
	}
	l, g := m.layout, ws.grads
	m.Head.Backward(g.dpooled, dlogits, ws.pooled, batch)
	if m.frozenBody {
		return nil
	}
	last := l.last()
	pos := last.oh * last.ow
	dn := g.dnormed[:batch*pos*l.final]
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			d := g.dpooled[b*l.final : (b+1)*l.final]
			for p := range pos {
				row := dn[(b*pos+p)*l.final:][:l.final]
				for j, v := range d {
					row[j] = v / float32(pos)
				}
			}
		}
	})
	dout := g.dout[:batch*pos*l.final]
	clear(dout)
	m.Norm.Backward(dout, dn, ws.blocks[len(ws.blocks)-1].out, ws.normed, ws.mean, ws.rstd, batch, pos)
	for i := len(m.Blocks) - 1; i >= 0; i-- {
		in := ws.stem
		if !l.small {
			in = ws.pool
		}
		if i > 0 {
			in = ws.blocks[i-1].out
		}
		m.Blocks[i].backward(ws, &ws.blocks[i], in, batch)
		g.dout, g.din = g.din, g.dout // the block's input gradient is the previous block's output gradient
	}
	first := l.blocks[0]
	dstem := g.dout[:batch*first.h*first.w*first.in]
	if !l.small {
		nn.MaxPool2DBackward(g.dstem, dstem, ws.poolArg)
		dstem = g.dstem
	}
	m.Stem.Backward(nil, nil, dstem, nil, ws.stemCols, batch, l.h, l.w)
	return nil
}

// backward turns g.dout, ∂L/∂(block output), into g.din, ∂L/∂x, for the
// block's input x.
func (b *Block) backward(ws *Workspace, a *blockActs, x []float32, batch int) {
	s, g := b.shape, ws.grads
	in, out := batch*s.h*s.w, batch*s.oh*s.ow
	dout := g.dout[:out*s.out]
	dd := g.dd[:out*s.mid]
	clear(dd)
	b.Conv3.Backward(dd, nil, dout, a.d, nil, batch, s.oh, s.ow)
	dc := g.dc[:out*s.mid]
	clear(dc)
	b.Norm3.Backward(dc, dd, a.c, a.d, a.mean3, a.rstd3, batch, s.oh*s.ow)
	db := g.db[:in*s.mid]
	clear(db)
	b.Conv2.Backward(db, g.dcols[:len(a.cols2)], dc, a.b, a.cols2, batch, s.h, s.w)
	da := g.da[:in*s.mid]
	clear(da)
	b.Norm2.Backward(da, db, a.a, a.b, a.mean2, a.rstd2, batch, s.h*s.w)
	dpre := g.dpre[:in*s.in]
	clear(dpre)
	b.Conv1.Backward(dpre, nil, da, a.pre, nil, batch, s.h, s.w)
	din := g.din[:in*s.in]
	if b.Downsample != nil {
		b.Downsample.Backward(dpre, g.dcols[:len(a.dsCols)], dout, a.pre, a.dsCols, batch, s.h, s.w)
		clear(din)
	} else {
		copy(din, dout) // the identity shortcut
	}
	b.Norm1.Backward(din, dpre, x, a.pre, a.mean1, a.rstd1, batch, s.h*s.w)
}
