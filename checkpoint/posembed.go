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
// resampled with method (one of ResizeMethods); fixed sin-cos embeddings
// are recomputed. Both sides must be multiples of the patch. Other
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
	if c.PosGridH > 0 {
		// Stored at a grid of their own, resampled at every call (DINOv2):
		// nothing to resize.
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
