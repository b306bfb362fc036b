package vit

import (
	"fmt"

	"github.com/vitgo/vit/internal/interp"
)

// Encoder holds the options of the image encoders descended from ViT, each
// a module of the model with its own tensors, forward and backward:
//
//   - tokens: DeiT's distillation token (DistToken) and DINOv2's register
//     tokens (Registers), both after the class token and before the
//     patches; register tokens get no position embedding and are dropped
//     from every output (pooling, attention rollout). Both work with every
//     Config.PosEmbed but relative, whose bias table has entries for one
//     class token only (Validate refuses the combination): the class and
//     distillation tokens get rows of E_pos with learned and sincos, none
//     with learned-2d and none;
//   - the patch embedding without bias (CLIP) and a LayerNorm before the
//     blocks (NormPre, CLIP's ln_pre);
//   - in each block, LayerScale (DINOv2, CaiT: a learned per-channel scale
//     of each residual branch), the MLP's activation (Act) and the SwiGLU
//     MLP (FFN "swiglu", DINOv2 giant);
//   - poolers and heads (Config.Pool "avg": the mean of the patch tokens,
//     then fc_norm; "map": SigLIP's attention pool), the JAX pre-logits
//     layer (RepresentationSize) and CLIP's visual projection (EmbedDim);
//   - position embeddings stored at a grid of their own (PosGridH ×
//     PosGridW, DINOv2's 37×37) and resampled to the input's grid at every
//     forward pass with PosResize, as DINOv2 does (learned E_pos only).
type Encoder struct {
	// NoClassToken drops the class token of pools "avg" and "map" (SigLIP
	// has none).
	NoClassToken bool `json:"no_class_token,omitempty"`
	// DistToken adds DeiT's distillation token after the class token, with
	// its position embedding and its own head (HeadDist): the logits are
	// the mean of the two heads'. It needs pool "cls".
	DistToken bool `json:"dist_token,omitempty"`
	// NoDistHead keeps the distillation token without its head: the class
	// token's head alone gives the logits (Hugging Face's
	// DeiTForImageClassification).
	NoDistHead bool `json:"no_dist_head,omitempty"`
	// Registers is the number of register tokens (DINOv2 with registers,
	// "Vision Transformers Need Registers"), learned, without position
	// embedding.
	Registers int `json:"registers,omitempty"`

	NoPatchBias bool `json:"no_patch_bias,omitempty"` // the patch embedding has no bias (CLIP)
	NormPre     bool `json:"norm_pre,omitempty"`      // a LayerNorm on the embedded tokens before the blocks (CLIP's ln_pre)
	LayerScale  bool `json:"layer_scale,omitempty"`   // each residual branch times a learned [dim] vector (ls1, ls2)

	// Act is the MLP's activation: "gelu" (default, exact), "gelu_tanh"
	// (the tanh approximation, SigLIP) or "quick_gelu" (x·σ(1.702x), OpenAI
	// CLIP). FFN is "mlp" (default) or "swiglu": FC1 then has 2·MLPDim
	// outputs [x1; x2] and the block computes FC2(SiLU(x1)⊙x2) (Act unused).
	Act string `json:"act,omitempty"`
	FFN string `json:"ffn,omitempty"`

	// RepresentationSize, when positive, puts the pre-logits layer of the
	// JAX models trained with representation_size between the pooled
	// features and the head: features = tanh(PreLogits(pooled)).
	RepresentationSize int `json:"representation_size,omitempty"`
	// EmbedDim, when positive, puts CLIP's visual projection (a dense
	// layer without bias, [EmbedDim, dim]) after the pooling: the
	// features are the image embedding in the image–text space.
	EmbedDim int `json:"embed_dim,omitempty"`

	// PosGridH × PosGridW is the grid the learned position embeddings are
	// stored at (0: the input's grid). When it differs from the input's,
	// every forward pass resamples them with PosResize (an
	// internal/interp method: "bicubic" is Hugging Face Dinov2's,
	// "bicubic-antialias" Dinov2WithRegisters's), as the model's own code
	// does at every call.
	PosGridH  int    `json:"pos_grid_h,omitempty"`
	PosGridW  int    `json:"pos_grid_w,omitempty"`
	PosResize string `json:"pos_resize,omitempty"`
}

// Acts are the MLP activations a Config may name.
var Acts = []string{"gelu", "gelu_tanh", "quick_gelu"}

// encoderError reports the first inconsistency of the encoder options.
func (c Config) encoderError() error {
	e := c.Encoder
	for _, f := range []struct {
		name string
		v    int
	}{{"registers", e.Registers}, {"representation_size", e.RepresentationSize}, {"embed_dim", e.EmbedDim},
		{"pos_grid_h", e.PosGridH}, {"pos_grid_w", e.PosGridW}} {
		if f.v < 0 || f.v > MaxSide {
			return fmt.Errorf("%s %d is out of range [0, %d]", f.name, f.v, MaxSide)
		}
	}
	switch {
	case e.NoClassToken && c.Pool != "avg" && c.Pool != "map":
		return fmt.Errorf("no_class_token needs pool avg or map, got pool %q", c.Pool)
	case e.NoDistHead && !e.DistToken:
		return fmt.Errorf("no_dist_head needs a distillation token (dist_token)")
	case e.DistToken && (c.Pool != "" && c.Pool != "cls"):
		return fmt.Errorf("a distillation token needs pool cls, got %q", c.Pool)
	case e.Registers > 0 && c.Pool == "gap":
		return fmt.Errorf("register tokens need pool cls, avg or map (gap would average them in)")
	case e.Act != "" && e.Act != "gelu" && e.Act != "gelu_tanh" && e.Act != "quick_gelu":
		return fmt.Errorf("act must be one of %v, got %q", Acts, e.Act)
	case e.FFN != "" && e.FFN != "mlp" && e.FFN != "swiglu":
		return fmt.Errorf("ffn must be mlp or swiglu, got %q", e.FFN)
	case e.RepresentationSize > 0 && e.EmbedDim > 0:
		return fmt.Errorf("representation_size and embed_dim both set: a model has a pre-logits layer or a projection, not both")
	case (e.PosGridH == 0) != (e.PosGridW == 0):
		return fmt.Errorf("pos_grid %d×%d: give both sides or neither", e.PosGridH, e.PosGridW)
	case e.PosGridH > 0 && !c.learnedTable():
		return fmt.Errorf("pos_grid is for learned position embeddings (one vector per token), not pos_embed %q", c.PosEmbed)
	case c.Relative() && (e.DistToken || e.Registers > 0):
		return fmt.Errorf("relative position biases take only a class token before the patches (BEiT's table has entries for it alone): drop dist_token and registers, or use pos_embed learned")
	case c.resamplesPos() && !interp.Known(e.PosResize):
		return fmt.Errorf("position embeddings stored at %d×%d for a %d×%d grid need pos_resize, one of %v", e.PosGridH, e.PosGridW, c.GridH(), c.GridW(), interp.Methods)
	}
	return nil
}

// distHead reports whether the model has DeiT's distillation head, whose
// logits are averaged with the head's.
func (c Config) distHead() bool { return c.DistToken && !c.NoDistHead }

// PrefixTokens is the number of tokens before the patches: the class
// token, the distillation token and the register tokens.
func (c Config) PrefixTokens() int { return c.posPrefix() + c.Registers }

// posPrefix is the number of prefix tokens with a position embedding: the
// class and distillation tokens.
func (c Config) posPrefix() int {
	n := 0
	if c.ClassToken() {
		n++
	}
	if c.DistToken {
		n++
	}
	return n
}

// PosGrid is the grid the position embeddings are stored at: PosGridH ×
// PosGridW, or the input's grid.
func (c Config) PosGrid() (h, w int) {
	if c.PosGridH > 0 {
		return c.PosGridH, c.PosGridW
	}
	return c.GridH(), c.GridW()
}

// resamplesPos reports whether the stored position embeddings differ in
// grid from the input's, so that each forward pass resamples them.
func (c Config) resamplesPos() bool {
	h, w := c.PosGrid()
	return h != c.GridH() || w != c.GridW()
}

// PosTokens is the number of stored position embeddings: the class and
// distillation tokens' and PosGrid's.
func (c Config) PosTokens() int {
	h, w := c.PosGrid()
	return c.posPrefix() + h*w
}

// FeatureDim is the width of the features (Model.Features, the head's
// input): EmbedDim with a projection, RepresentationSize with a pre-logits
// layer, else Dim.
func (c Config) FeatureDim() int {
	switch {
	case c.EmbedDim > 0:
		return c.EmbedDim
	case c.RepresentationSize > 0:
		return c.RepresentationSize
	}
	return c.Dim
}

// hiddenOut is the width of FC1's output: 2·MLPDim for SwiGLU (the two
// halves x1, x2), else MLPDim.
func (c Config) hiddenOut() int {
	if c.FFN == "swiglu" {
		return 2 * c.MLPDim
	}
	return c.MLPDim
}

// fusedGELU reports whether the MLP is the paper's (exact GELU, no
// SwiGLU), whose activation the matrix kernels fuse.
func (c Config) fusedGELU() bool {
	return (c.Act == "" || c.Act == "gelu") && c.FFN != "swiglu"
}

// EncoderFamilies are the image towers Preset names by family (the prefix
// of "CLIP-B/16"): each adds its modules to the paper's ViT of the same
// size. "" is the paper's ViT.
var EncoderFamilies = map[string]func(*Config){
	"": nil,
	// OpenAI CLIP: ln_pre, no patch bias, QuickGELU, eps 1e-5 and the
	// visual projection (512 wide for B, 768 for L, 1024 for H).
	"CLIP": func(c *Config) {
		c.NormPre, c.NoPatchBias, c.Act, c.LayerNormEps = true, true, "quick_gelu", 1e-5
		c.EmbedDim = map[int]int{1024: 768, 1280: 1024}[c.Dim]
		if c.EmbedDim == 0 {
			c.EmbedDim = 512
		}
	},
	// SigLIP: no class token, the attention-pool head, GELU (tanh).
	"SigLIP": func(c *Config) { c.Pool, c.NoClassToken, c.Act = "map", true, "gelu_tanh" },
	// DINOv2: LayerScale, position embeddings stored at 518 pixels'
	// grid and resampled to the input at every call.
	"DINOv2": func(c *Config) { dinov2(c, 0, "bicubic") },
	// DINOv2 with 4 registers (antialiased resampling, as Hugging Face's).
	"DINOv2reg": func(c *Config) { dinov2(c, 4, "bicubic-antialias") },
	// DeiT distilled: the distillation token and head.
	"DeiT": func(c *Config) { c.DistToken = true },
}

func dinov2(c *Config, registers int, resize string) {
	g := 518 / c.Patch
	c.LayerScale, c.Registers, c.PosGridH, c.PosGridW, c.PosResize = true, registers, g, g, resize
}
