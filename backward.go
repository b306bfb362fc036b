package vit

import (
	"errors"
	"math"

	"github.com/vitgo/vit/nn"
)

// Backward propagates dlogits: [batch, classes], the gradient of the loss
// with respect to the logits of the last Forward on ws, back through the
// model, adding every parameter's gradient into its Grad (clear them with
// ZeroGrad between steps). ws must be a training workspace.
//
// Backward drops weights packed by PackWeights: training is about to change
// the weights, and inference must not see stale copies.
func (m *Model) Backward(ws *Workspace, dlogits []float32, batch int) error {
	m.UnpackWeights()
	return m.backward(ws, dlogits, batch)
}

func (m *Model) backward(ws *Workspace, dlogits []float32, batch int) error {
	if !ws.train {
		return errors.New("vit: Backward needs a workspace made with train = true")
	}
	c := m.Config
	g := ws.grads

	// (4) heads, pooling and final LayerNorm, into dz = ∂L/∂z_L.
	if !m.headBackward(ws, dlogits, batch) {
		return nil // a linear probe: nothing below the head learns
	}

	// (3), (2) through the blocks in reverse; dz is ∂L/∂z_l, then ∂L/∂z_{l-1}.
	for l := c.Depth - 1; l >= 0; l-- {
		if ws.classOnly && l == c.Depth-1 {
			m.classBlockBackward(ws, l, m.Blocks[l], batch)
			continue
		}
		m.blockBackward(ws, l, m.Blocks[l], batch)
	}

	// (1) the prefix tokens, position embedding and patch embedding.
	m.embedBackward(ws, g.dz[:batch*c.Tokens()*c.Dim], batch)
	np := c.NumPatches()
	if len(m.Stem) == 0 {
		if ws.inputGrad == nil {
			m.PatchEmbed.Backward(nil, g.dembed, ws.patches, batch*np)
			return nil
		}
		dpatches := ws.scratch(&ws.inputScratch, batch*np*c.PatchSize())
		m.PatchEmbed.Backward(dpatches, g.dembed, ws.patches, batch*np)
		unpatchify(ws.inputGrad, dpatches, batch, c.Channels, c.ImageHeight, c.ImageWidth, c.Patch)
		return nil
	}
	m.stemBackward(ws, batch)
	return nil
}

// scratch returns (*buf)[:n], allocating it on first use.
func (ws *Workspace) scratch(buf *[]float32, n int) []float32 {
	if len(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// unpatchify is Patchify's inverse: it writes the patches back into the
// images x: [batch, channels, height, width].
func unpatchify(x, patches []float32, batch, channels, height, width, p int) {
	gh, gw := height/p, width/p
	ps := channels * p * p
	for b := range batch {
		img := x[b*channels*height*width:]
		for gy := range gh {
			for gx := range gw {
				src := patches[((b*gh+gy)*gw+gx)*ps:]
				for ch := range channels {
					for py := range p {
						dst := img[(ch*height+gy*p+py)*width+gx*p:]
						copy(dst[:p], src[(ch*p+py)*p:(ch*p+py+1)*p])
					}
				}
			}
		}
	}
}

// stemInputGrad writes ∂L/∂x: [batch, channels, height, width] into
// ws.inputGrad from dx, the same gradient channels-last.
func (m *Model) stemInputGrad(ws *Workspace, dx []float32, batch int) {
	c := m.Config
	h, w, ch := c.ImageHeight, c.ImageWidth, c.Channels
	for b := range batch {
		for y := range h {
			for x := range w {
				for k := range ch {
					ws.inputGrad[((b*ch+k)*h+y)*w+x] = dx[((b*h+y)*w+x)*ch+k]
				}
			}
		}
	}
}

// stemBackward carries g.dembed = ∂L/∂(x_p·E) through a hybrid's patch
// embedding and its stem convolutions, last to first.
func (m *Model) stemBackward(ws *Workspace, batch int) {
	c := m.Config
	g := ws.grads
	np := c.NumPatches()
	last := len(m.Stem) - 1
	if c.Patch == 1 {
		m.PatchEmbed.Backward(g.dstem[last], g.dembed, ws.stem[last].act, batch*np)
	} else {
		s := ws.stem[last]
		m.PatchEmbed.Backward(g.dpatches, g.dembed, ws.patches, batch*np)
		unpatchifyNHWC(g.dstem[last], g.dpatches, batch, s.oh, s.ow, c.FeatureChannels(), c.Patch)
	}
	for i := last; i >= 0; i-- {
		sl, s := m.Stem[i], ws.stem[i]
		rows := batch * s.oh * s.ow
		size := rows * sl.Conv.Out
		d := g.dstem[i][:size]
		nn.GELUBackward(d, d, s.normed[:size])
		if sl.Norm != nil {
			dconv := g.dconv[:size]
			clear(dconv)
			sl.Norm.Backward(dconv, d, s.conv[:size], s.mean, s.rstd, rows)
			d = dconv
		}
		var dx []float32 // the image needs no gradient (but for the checks)
		dcols := g.dcols
		if i > 0 {
			dx = g.dstem[i-1]
		} else if ws.inputGrad != nil {
			dx = ws.scratch(&ws.inputScratch, batch*s.h*s.w*sl.Conv.In)
			dcols = ws.scratch(&ws.inputCols, len(s.cols))
		}
		sl.Conv.Backward(dx, dcols, d, s.cols, batch, s.h, s.w)
		if i == 0 && dx != nil {
			m.stemInputGrad(ws, dx, batch)
		}
	}
}

// blockBackward turns g.dz = ∂L/∂z_l into ∂L/∂z_{l-1}, in place.
func (m *Model) blockBackward(ws *Workspace, l int, b *Block, batch int) {
	c := m.Config
	t, d := c.Tokens(), c.Dim
	n := batch * t
	g := ws.grads
	a := &ws.blocks[l]
	dz, dmid := g.dz[:n*d], g.dmid[:n*d]

	// (3) zₗ = FC2(GELU(FC1(LN2(z'ₗ)))) + z'ₗ
	dbranch := branchBackward(g.dbranch, dz, a.fc2Out, b.LS2, a.fc2Mask, a.keepMLP, batch, t, d)
	dh := mlpBackward(b.FC1, b.FC2, b.Act, b.SwiGLU, g.dhidden, g.dact, dbranch, a.act, a.hidden, a.fc1Mask, n)
	b.FC1.Backward(g.dln, dh, a.ln2, n)
	copy(dmid, dz)
	b.Norm2.Backward(dmid, g.dln, a.mid, a.mean2, a.rstd2, n)

	// (2) z'ₗ = Proj(Attention(QKV(LN1(zₗ₋₁)))) + zₗ₋₁
	dbranch = branchBackward(g.dbranch, dmid, a.projOut, b.LS1, a.projMask, a.keepAttn, batch, t, d)
	b.Proj.Backward(g.dattn, dbranch, a.attn, n)
	var probsGrad []float32
	if ws.captureGrad != nil {
		probsGrad = g.dprobsOut
	}
	if b.Performer != nil {
		b.Performer.Backward(g.dqkv, g.dattn, a.perf, a.qkv, batch, t)
	} else {
		m.attention(ws, b).Backward(g.dqkv, g.dprobs, probsGrad, g.dattn, a.qkv, a.probs, a.dropped, a.attnMask, batch, t)
		if b.RelPos != nil {
			b.RelPos.Backward(g.dprobs, batch, float32(1/math.Sqrt(float64(b.Attn.HeadDim()))))
		}
	}
	b.QKV.Backward(g.dln, g.dqkv, a.ln1, n)
	if probsGrad != nil {
		ws.captureGrad(l, probsGrad[:batch*c.Heads*t*t])
	}
	copy(dz, dmid)
	b.Norm1.Backward(dz, g.dln, ws.zIn(l), a.mean1, a.rstd1, n)
}

// classBlockBackward is blockBackward for classBlock: it takes the class
// token's ∂L/∂z_L from g.dpooled (the gradient of every other token's z_L
// is zero) and writes ∂L/∂z_{l-1} for every token into g.dz.
func (m *Model) classBlockBackward(ws *Workspace, l int, b *Block, batch int) {
	c := m.Config
	t, d := c.Tokens(), c.Dim
	n := batch * t
	g := ws.grads
	a := &ws.blocks[l]
	dzL := g.dpooled[:batch*d]

	// (3) zₗ = FC2(GELU(FC1(LN2(z'ₗ)))) + z'ₗ, for the class token.
	dbranch := branchBackward(g.dbranch, dzL, a.fc2Out, b.LS2, nil, a.keepMLP, batch, 1, d)
	dh := mlpBackward(b.FC1, b.FC2, b.Act, b.SwiGLU, g.dhidden, g.dact, dbranch, a.act, a.hidden, nil, batch)
	dln2 := g.dln[:batch*d]
	b.FC1.Backward(dln2, dh, a.ln2, batch)
	dmid := g.dmid[:batch*d]
	copy(dmid, dzL)
	b.Norm2.Backward(dmid, dln2, a.mid, a.mean2, a.rstd2, batch)

	// (2) z'ₗ = Proj(Attention(QKV(LN1(zₗ₋₁)))) + zₗ₋₁: the class token's
	// query, every token's keys and values.
	dbranch = branchBackward(g.dbranch, dmid, a.projOut, b.LS1, nil, a.keepAttn, batch, 1, d)
	dattn := g.dattn[:batch*d]
	b.Proj.Backward(dattn, dbranch, a.attn, batch)
	dkv, dq := g.dqkv[:n*2*d], g.dqkv[n*2*d:n*2*d+batch*d]
	b.Attn.BackwardClass(dq, dkv, g.dprobs, dattn, a.qkv, ws.classProbs, batch, t)
	dln := g.dln[:n*d]
	b.QKV.BackwardOutputs(dln, dkv, a.ln1, d, n, d, 3*d, false)
	b.QKV.BackwardOutputs(dln, dq, a.ln1, t*d, batch, 0, d, true)
	dz := g.dz[:n*d]
	clear(dz)
	for i := range batch {
		copy(dz[i*t*d:], dmid[i*d:(i+1)*d])
	}
	b.Norm1.Backward(dz, dln, ws.zIn(l), a.mean1, a.rstd1, n)
}

// branchGrad is the gradient reaching a residual branch's output from the
// gradient dsum of the block's sum: dsum⊙mask·keep, written into buf; dsum
// itself when there is neither dropout nor stochastic depth.
func branchGrad(buf, dsum, mask, keep []float32, batch, per int) []float32 {
	if mask == nil && keep == nil {
		return dsum
	}
	out := buf[:batch*per]
	copy(out, dsum)
	if mask != nil {
		nn.Mul(out, mask[:batch*per])
	}
	if keep != nil {
		for b := range batch {
			k := keep[b]
			row := out[b*per : (b+1)*per]
			for i := range row {
				row[i] *= k
			}
		}
	}
	return out
}

// embedBackward takes dz = ∂L/∂z₀ back through NormPre and the embedding
// dropout, adds the gradients of the prefix tokens and the position
// embeddings, and writes the patch embeddings' into g.dembed, from which
// the caller goes on.
func (m *Model) embedBackward(ws *Workspace, dz []float32, batch int) {
	c := m.Config
	g := ws.grads
	np, d, t := c.NumPatches(), c.Dim, c.Tokens()
	if m.NormPre != nil {
		draw := ws.enc.dpre[:batch*t*d]
		clear(draw)
		m.NormPre.Backward(draw, dz, ws.enc.preIn, ws.enc.preMean, ws.enc.preRstd, batch*t)
		dz = draw
	}
	if ws.embedMask != nil {
		nn.Mul(dz, ws.embedMask)
	}
	m.positionsBackward(ws, dz, batch)
	pp, pre := c.posPrefix(), c.PrefixTokens()
	for b := range batch {
		zb := dz[b*t*d : (b+1)*t*d]
		k := 0
		for _, tok := range []*nn.Param{m.ClassToken, m.DistToken} {
			if tok != nil {
				for j, v := range zb[k*d : (k+1)*d] {
					tok.Grad[j] += v
				}
				k++
			}
		}
		if m.RegTokens != nil {
			for i, v := range zb[pp*d : pre*d] {
				m.RegTokens.Grad[i] += v
			}
		}
		copy(g.dembed[b*np*d:(b+1)*np*d], zb[pre*d:])
	}
}
