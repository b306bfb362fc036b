package checkpoint

import (
	"fmt"
	"slices"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/interp"
	"github.com/vitgo/vit/nn"
)

// Position-embedding resampling methods, each the convention of one
// ecosystem, so that a model adapted here computes what it computes there
// (see package internal/interp for the exact arithmetic of each).
const (
	// ResizeBilinearJAX is scipy.ndimage.zoom(order=1), as the official
	// JAX loader (vit_jax checkpoint.interpolate_posembed) does.
	ResizeBilinearJAX = interp.BilinearJAX
	// ResizeBicubic is torch.nn.functional.interpolate(size=…,
	// mode="bicubic", align_corners=False), as Hugging Face's
	// ViTEmbeddings.interpolate_pos_encoding.
	ResizeBicubic = interp.Bicubic
	// ResizeBicubicAntialias is the same with antialias=True, timm's
	// resample_abs_pos_embed default.
	ResizeBicubicAntialias = interp.BicubicAntialias
)

// ResizeMethods lists the methods ResizePosEmbed accepts.
var ResizeMethods = interp.Methods

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
	return resizePos(pos, pre, oldH, oldW, newH, newW, dim, method)
}

// resizePos is ResizePosEmbed with pre leading entries kept as they are.
func resizePos(pos []float32, pre, oldH, oldW, newH, newW, dim int, method string) []float32 {
	if oldH <= 0 || oldW <= 0 || newH <= 0 || newW <= 0 || dim <= 0 || len(pos) != (pre+oldH*oldW)*dim {
		panic(fmt.Sprintf("checkpoint: ResizePosEmbed of %d values as %d×%d positions of width %d (%d leading)", len(pos), oldH, oldW, dim, pre))
	}
	out := make([]float32, (pre+newH*newW)*dim)
	copy(out, pos[:pre*dim])
	interp.Grid(out[pre*dim:], pos[pre*dim:], interp.Weights(oldH, newH, method), interp.Weights(oldW, newW, method), oldW, dim)
	return out
}

// AdaptToImage changes m, in place, to take height×width images: the
// configuration's image size changes and learned position embeddings are
// resampled with method (one of ResizeMethods): the 1-D table over the
// patch grid (the class and distillation tokens' entries kept; register
// tokens have none), learned-2d's row and column tables each along its
// axis, and each block's relative position biases over the grid of offsets
// (their class-token entries kept, as BEiT does when fine-tuning at another
// resolution); fixed sin-cos embeddings are recomputed, and a table stored
// at a grid of its own (Config.PosGridH, DINOv2) stays as it is, resampled
// at every call. Both sides must be multiples of the patch. Other tensors
// are untouched: a ViT's weights do not depend on the resolution. m must
// not be in use by other goroutines during the call.
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
	if m.PosEmbed == nil || c.PosGridH > 0 {
		// No E_pos, or one stored at a grid of its own and resampled at
		// every call (DINOv2): nothing more to resize.
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
		pre := old.PosTokens() - old.NumPatches() // the class and distillation tokens'
		data = resizePos(m.PosEmbed.Data, pre, old.GridH(), old.GridW(), c.GridH(), c.GridW(), c.Dim, method)
	}
	pe := m.PosEmbed
	np := &nn.Param{Name: pe.Name, Shape: []int{c.PosTokens(), c.Dim}, Data: data, Grad: make([]float32, len(data)),
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
