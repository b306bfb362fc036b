package checkpoint

import (
	"fmt"
	"math"
	"slices"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
)

// Position-embedding resampling methods, each the convention of one
// ecosystem, so that a model adapted here computes what it computes there.
const (
	// ResizeBilinearJAX is scipy.ndimage.zoom(order=1), as the official
	// JAX loader (vit_jax checkpoint.interpolate_posembed) does: linear
	// interpolation with the corners aligned, the output sample o at
	// input coordinate o·(in−1)/(out−1).
	ResizeBilinearJAX = "bilinear-jax"
	// ResizeBicubic is torch.nn.functional.interpolate(size=…,
	// mode="bicubic", align_corners=False), as Hugging Face's
	// ViTEmbeddings.interpolate_pos_encoding: Keys' cubic with A = −0.75,
	// source coordinate (o+0.5)·in/out − 0.5, edges replicated.
	ResizeBicubic = "bicubic"
	// ResizeBicubicAntialias is the same with antialias=True, timm's
	// resample_abs_pos_embed default. PyTorch then uses Pillow's separable
	// resampler: Keys' cubic with a = −0.5, a support widened by in/out when
	// shrinking, and at the edges the taps that fall outside the grid are
	// dropped and the rest renormalised. The other coefficient and the
	// edge handling make it differ from ResizeBicubic even when enlarging.
	ResizeBicubicAntialias = "bicubic-antialias"
)

// ResizeMethods lists the methods ResizePosEmbed accepts.
var ResizeMethods = []string{ResizeBicubicAntialias, ResizeBicubic, ResizeBilinearJAX}

// ResizePosEmbed resamples position embeddings pos: [tokens, dim] laid out
// as a row-major oldH×oldW grid of patch positions, preceded by the class
// token's entry when classToken is set (kept as it is), to a newH×newW
// grid with method, one of ResizeMethods. It returns a new slice
// [newH·newW (+1), dim]. It panics if the sizes disagree with len(pos) or
// the method is unknown.
func ResizePosEmbed(pos []float32, oldH, oldW, newH, newW, dim int, classToken bool, method string) []float32 {
	pre := 0
	if classToken {
		pre = 1
	}
	if oldH <= 0 || oldW <= 0 || newH <= 0 || newW <= 0 || dim <= 0 || len(pos) != (pre+oldH*oldW)*dim {
		panic(fmt.Sprintf("checkpoint: ResizePosEmbed of %d values as %d×%d positions of width %d (class token %v)", len(pos), oldH, oldW, dim, classToken))
	}
	wy, wx := axisWeights(oldH, newH, method), axisWeights(oldW, newW, method)
	out := make([]float32, (pre+newH*newW)*dim)
	copy(out, pos[:pre*dim])
	grid := pos[pre*dim:]
	acc := make([]float64, dim)
	for y := range newH {
		for x := range newW {
			clear(acc)
			for _, ty := range wy[y] {
				for _, tx := range wx[x] {
					w := ty.w * tx.w
					src := grid[(ty.i*oldW+tx.i)*dim : (ty.i*oldW+tx.i+1)*dim]
					for k, v := range src {
						acc[k] += w * float64(v)
					}
				}
			}
			dst := out[(pre+y*newW+x)*dim:]
			for k, v := range acc {
				dst[k] = float32(v)
			}
		}
	}
	return out
}

// tap is one input sample's weight in an output sample.
type tap struct {
	i int
	w float64
}

// axisWeights returns, for each of out output samples, the input samples
// and weights of method along an axis of in samples.
func axisWeights(in, out int, method string) [][]tap {
	ws := make([][]tap, out)
	switch method {
	case ResizeBilinearJAX:
		// scipy.ndimage.zoom, grid_mode=False: zoom = (in−1)/(out−1), or 1
		// when out is 1; order 1 needs no spline prefilter.
		zoom := 1.0
		if out > 1 {
			zoom = float64(in-1) / float64(out-1)
		}
		for o := range out {
			c := float64(o) * zoom
			i0 := int(math.Floor(c))
			t := c - float64(i0)
			if i0 >= in-1 {
				i0, t = in-1, 0
			}
			ws[o] = []tap{{i0, 1 - t}}
			if t != 0 {
				ws[o] = append(ws[o], tap{i0 + 1, t})
			}
		}
	case ResizeBicubic:
		// ATen upsample_bicubic2d, align_corners=False.
		const a = -0.75
		scale := float64(in) / float64(out)
		for o := range out {
			real := scale*(float64(o)+0.5) - 0.5
			i0 := math.Floor(real)
			t := real - i0
			coef := [4]float64{cubic2(t+1, a), cubic1(t, a), cubic1(1-t, a), cubic2(2-t, a)}
			for k, w := range coef {
				i := min(max(int(i0)-1+k, 0), in-1)
				ws[o] = append(ws[o], tap{i, w})
			}
		}
	case ResizeBicubicAntialias:
		// ATen _upsample_bicubic2d_aa: Pillow's resampler with a = −0.5.
		const a = -0.5
		scale := float64(in) / float64(out)
		support, invscale := 2.0, 1.0
		if scale >= 1 {
			support, invscale = 2*scale, 1/scale
		}
		for o := range out {
			center := scale * (float64(o) + 0.5)
			xmin := max(int(center-support+0.5), 0) // int truncates toward zero, as C++
			xmax := min(int(center+support+0.5), in)
			var total float64
			for j := xmin; j < xmax; j++ {
				w := keys(math.Abs((float64(j)-center+0.5)*invscale), a)
				ws[o] = append(ws[o], tap{j, w})
				total += w
			}
			if total != 0 {
				for k := range ws[o] {
					ws[o][k].w /= total
				}
			}
		}
	default:
		panic(fmt.Sprintf("checkpoint: unknown position-embedding resize method %q (want one of %v)", method, ResizeMethods))
	}
	return ws
}

// cubic1 and cubic2 are Keys' cubic convolution kernel on |x| ≤ 1 and
// 1 < |x| < 2 (ATen's cubic_convolution1 and cubic_convolution2).
func cubic1(x, a float64) float64 { return ((a+2)*x-(a+3))*x*x + 1 }
func cubic2(x, a float64) float64 { return ((a*x-5*a)*x+8*a)*x - 4*a }

// keys is Keys' kernel at |x|, zero from 2 on.
func keys(x, a float64) float64 {
	switch {
	case x < 1:
		return cubic1(x, a)
	case x < 2:
		return cubic2(x, a)
	}
	return 0
}

// AdaptToImage changes m, in place, to take height×width images: the
// configuration's image size changes and learned position embeddings are
// resampled with method (one of ResizeMethods): the 1-D table over the
// patch grid, learned-2d's row and column tables each along its axis, and
// each block's relative position biases over the grid of offsets (their
// class-token entries kept, as BEiT does when fine-tuning at another
// resolution); fixed sin-cos embeddings are recomputed. Both sides must be multiples of the patch. Other
// tensors are untouched: a ViT's weights do not depend on the resolution.
// m must not be in use by other goroutines during the call.
func AdaptToImage(m *vit.Model, height, width int, method string) error {
	if !slices.Contains(ResizeMethods, method) {
		return fmt.Errorf("unknown position-embedding resize method %q (want one of %v)", method, ResizeMethods)
	}
	c := m.Config
	c.ImageHeight, c.ImageWidth = height, width
	if err := c.Validate(); err != nil {
		return err
	}
	old := m.Config
	if old.ImageHeight == height && old.ImageWidth == width {
		return nil
	}
	gh, gw := c.GridH(), c.GridW()
	switch {
	case m.PosEmbed2D != nil:
		p := m.PosEmbed2D
		h := c.Dim / 2
		p.Row = resizedParam(p.Row, ResizePosEmbed(p.Row.Data, old.GridH(), 1, gh, 1, h, false, method), gh, h)
		p.Col = resizedParam(p.Col, ResizePosEmbed(p.Col.Data, 1, old.GridW(), 1, gw, h, false, method), gw, h)
	case c.Relative():
		for _, b := range m.Blocks {
			r := b.RelPos
			n := (2*r.GridH - 1) * (2*r.GridW - 1)
			grid := ResizePosEmbed(r.Table.Data[:n*r.Heads], 2*r.GridH-1, 2*r.GridW-1, 2*gh-1, 2*gw-1, r.Heads, false, method)
			nr := nn.NewRelativePositionBias(r.Table.Name, r.Heads, gh, gw, r.ClassToken)
			copy(nr.Table.Data, grid)
			copy(nr.Table.Data[len(grid):], r.Table.Data[n*r.Heads:]) // the class token's entries
			nr.Table.Frozen = r.Table.Frozen
			b.RelPos = nr
		}
	}
	if m.PosEmbed == nil {
		m.Config = c
		m.ResetWorkspaces()
		return nil
	}
	var data []float32
	if c.PosEmbed == "sincos" {
		fresh, err := vit.New(c, 0)
		if err != nil {
			return err
		}
		data = fresh.PosEmbed.Data
	} else {
		data = ResizePosEmbed(m.PosEmbed.Data, old.GridH(), old.GridW(), c.GridH(), c.GridW(), c.Dim, c.ClassToken(), method)
	}
	pe := m.PosEmbed
	np := &nn.Param{Name: pe.Name, Shape: []int{c.Tokens(), c.Dim}, Data: data, Grad: make([]float32, len(data)),
		NoDecay: pe.NoDecay, Frozen: pe.Frozen, Buffer: pe.Buffer}
	m.Config = c
	m.PosEmbed = np
	m.ResetWorkspaces() // the pooled ones are sized for the old token count
	return nil
}

// resizedParam is p with new data of shape [rows, cols].
func resizedParam(p *nn.Param, data []float32, rows, cols int) *nn.Param {
	return &nn.Param{Name: p.Name, Shape: []int{rows, cols}, Data: data, Grad: make([]float32, len(data)),
		NoDecay: p.NoDecay, Frozen: p.Frozen, Buffer: p.Buffer}
}
