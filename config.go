package vit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vitgo/vit/nn"
)

// Config describes a Vision Transformer. The zero values of the optional
// fields give the paper's model: class-token pooling, learned position
// embeddings, biases on the query/key/value projection.
type Config struct {
	// Arch is the network family: "vit" (or empty) for a Vision
	// Transformer, or another registered with RegisterArch, such as
	// "resnet" (package resnet). Other families read the input fields
	// (image size, channels, Mean, Std, Resample, CropPct), Classes,
	// Labels, Depth and Width; the ViT's own fields stay zero.
	Arch string `json:"arch,omitempty"`
	// Width is a ResNet's base width (the stem's channels, the first
	// stage's bottleneck width); unused by a ViT.
	Width int `json:"width,omitempty"`

	ImageHeight int `json:"image_height"` // pixels; divisible by Patch
	ImageWidth  int `json:"image_width"`  // pixels; divisible by Patch
	Channels    int `json:"channels"`     // 1 (grey) or 3 (RGB)
	Patch       int `json:"patch"`        // side of a square patch, pixels
	Dim         int `json:"dim"`          // token width D
	Depth       int `json:"depth"`        // number of encoder blocks L
	Heads       int `json:"heads"`        // attention heads; Dim divisible by Heads
	MLPDim      int `json:"mlp_dim"`      // hidden width of each block's MLP
	Classes     int `json:"classes"`      // outputs of the head

	// Headless marks a model loaded without a trained classifier: a CLIP
	// or SigLIP image tower, a DINOv2 body, a checkpoint saved without its
	// head. Its head is zeros with one class; its features (Embed) are
	// what it is for, and classifying with it is refused (CheckHead).
	// ResetHead (fine-tuning) gives it a head and clears the mark.
	Headless bool `json:"headless,omitempty"`

	// Stem, when not empty, makes the model the paper's hybrid (Section
	// 3.1, "Hybrid Architecture"): these convolutions, each followed by
	// GELU, turn the image into a feature map, and the patches (of Patch×Patch
	// feature-map cells, often 1×1) are cut from that map instead of the
	// image. Each stride divides the image; a token then covers
	// PixelPatch()×PixelPatch() pixels.
	Stem []StemConv `json:"stem,omitempty"`

	Pool     string `json:"pool,omitempty"`      // "cls" (default), "gap", "avg" or "map" (see pool.go)
	PosEmbed string `json:"pos_embed,omitempty"` // one of PosEmbeds; "" is "learned"

	NoQKVBias    bool    `json:"no_qkv_bias,omitempty"`
	LayerNormEps float32 `json:"layer_norm_eps,omitempty"` // default 1e-6, as in the official JAX models

	Dropout          float32 `json:"dropout,omitempty"`           // after the position embedding and each dense layer but qkv
	AttentionDropout float32 `json:"attention_dropout,omitempty"` // on the attention probabilities
	DropPath         float32 `json:"drop_path,omitempty"`         // stochastic depth rate of the last block (linear in depth)

	// Attention is "softmax" (default, the paper's) or "performer": FAVOR+
	// linear attention with Features positive orthogonal random features
	// per head (default ⌊dh·ln dh⌋), redrawn every RedrawEvery training
	// steps (0: drawn once, from the model's seed).
	Attention   string `json:"attention,omitempty"`
	Features    int    `json:"features,omitempty"`
	RedrawEvery int    `json:"redraw_every,omitempty"`

	Labels []string `json:"labels,omitempty"` // class names, index order

	// Mean and Std normalise input pixels scaled to [0, 1], per channel:
	// x = (p/255 − Mean)/Std, as the model was trained.
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`

	// How images are prepared for the model, as its checkpoint expects:
	// Resample is a Pillow filter name ("bilinear" when empty, "bicubic",
	// "lanczos", "nearest", "box", "hamming"). CropPct > 0 resizes the short
	// side to size/CropPct and centre-crops (timm's evaluation transform);
	// 0 resizes the whole image to the input size (Hugging Face's ViT
	// processor).
	Resample string  `json:"resample,omitempty"`
	CropPct  float32 `json:"crop_pct,omitempty"`
	// ResizeShort, when set with CropPct 0, resizes the short side to it
	// and centre-crops the input size (CLIP's and DINOv2's processors:
	// shortest_edge then crop_size).
	ResizeShort int `json:"resize_short,omitempty"`
	// ResizeTo, when set with CropPct 0, resizes the whole image to
	// ResizeTo×ResizeTo and centre-crops the input size (Hugging Face's
	// DeiT processor: size 256, crop_size 224).
	ResizeTo int `json:"resize_to,omitempty"`

	// The modules of the encoders descended from ViT (CLIP, SigLIP,
	// DINOv2, DeiT); see encoder.go. Their zero values leave the paper's
	// model unchanged.
	Encoder
}

// StemConv is one convolution of a hybrid model's stem: Channels outputs,
// a Kernel×Kernel window (odd; zero padding Kernel/2) moved by Stride, then
// with Norm a LayerNorm over the channels of each position, then GELU.
type StemConv struct {
	Channels int  `json:"channels"`
	Kernel   int  `json:"kernel"`
	Stride   int  `json:"stride"`
	Norm     bool `json:"norm,omitempty"`
}

// ParseStem reads a stem written as comma-separated CHANNELS:KERNEL:STRIDE
// convolutions, each optionally followed by :ln for a LayerNorm, such as
// "32:3:1:ln,64:3:2:ln"; "" is no stem. Channels and strides must be
// positive and kernels odd.
func ParseStem(s string) ([]StemConv, error) {
	if s == "" {
		return nil, nil
	}
	var stem []StemConv
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(part, ":")
		norm := len(f) == 4 && strings.TrimSpace(f[3]) == "ln"
		if norm {
			f = f[:3]
		}
		var v [3]int
		var err error
		if len(f) == 3 {
			for i := range f {
				if v[i], err = strconv.Atoi(strings.TrimSpace(f[i])); err != nil {
					break
				}
			}
		}
		if len(f) != 3 || err != nil {
			return nil, fmt.Errorf("stem %q: write each convolution as CHANNELS:KERNEL:STRIDE, optionally with :ln, e.g. 32:3:1:ln,64:3:2:ln", s)
		}
		stem = append(stem, StemConv{Channels: v[0], Kernel: v[1], Stride: v[2], Norm: norm})
	}
	if err := (Config{Stem: stem}).stemError(); err != nil {
		return nil, err
	}
	return stem, nil
}

// FormatStem writes a stem the way ParseStem reads it.
func FormatStem(stem []StemConv) string {
	parts := make([]string, len(stem))
	for i, s := range stem {
		parts[i] = fmt.Sprintf("%d:%d:%d", s.Channels, s.Kernel, s.Stride)
		if s.Norm {
			parts[i] += ":ln"
		}
	}
	return strings.Join(parts, ",")
}

// Preset dimensions from the paper's Table 1 (and DeiT's Ti and S).
var presets = map[string]struct{ dim, depth, heads, mlp int }{
	"Ti": {192, 12, 3, 768},
	"S":  {384, 12, 6, 1536},
	"B":  {768, 12, 12, 3072},
	"L":  {1024, 24, 16, 4096},
	"H":  {1280, 32, 16, 5120},
}

// Preset returns the configuration named like the paper, "B/16" (ViT-Base
// with 16×16 patches), for a square image of the given side, channels and
// classes. Sizes are Ti, S, B, L and H; any patch size is accepted. A
// family prefix gives the image tower of an encoder of that size
// (EncoderFamilies): "CLIP-B/16", "DINOv2-B/14", "SigLIP-B/16",
// "DINOv2reg-B/14", "DeiT-B/16" (distilled), with their modules and
// untrained weights (for benchmarks, or training from scratch).
func Preset(name string, image, channels, classes int) (Config, error) {
	family, rest := "", strings.TrimPrefix(name, "ViT-")
	if f, r, ok := strings.Cut(rest, "-"); ok {
		family, rest = f, r
	}
	edit, okf := EncoderFamilies[family]
	size, patch, ok := strings.Cut(rest, "/")
	p, ok2 := presets[size]
	n, err := strconv.Atoi(patch)
	if !ok || !ok2 || !okf || err != nil || n <= 0 {
		return Config{}, fmt.Errorf("unknown model preset %q: use SIZE/PATCH with SIZE one of Ti, S, B, L, H (e.g. B/16, S/32, Ti/16), optionally after an encoder family CLIP-, SigLIP-, DINOv2-, DINOv2reg- or DeiT- (e.g. CLIP-B/16, DINOv2-B/14)", name)
	}
	c := Config{ImageHeight: image, ImageWidth: image, Channels: channels, Patch: n,
		Dim: p.dim, Depth: p.depth, Heads: p.heads, MLPDim: p.mlp, Classes: classes}
	if edit != nil {
		edit(&c)
	}
	return c, c.Validate()
}

// ErrHeadless is the error of CheckHead: the model has no trained
// classifier.
var ErrHeadless = errors.New("the model has no classifier head (an image–text or self-supervised encoder, " +
	"or a checkpoint without its head): use its embeddings (vit embed, :embed), classify by label text " +
	"with vit zeroshot (CLIP, SigLIP), or train a head with vit finetune")

// CheckHead returns ErrHeadless when the model has no trained classifier
// (Headless), so that its zero head's one class is never reported as a
// prediction; nil otherwise.
func (c Config) CheckHead() error {
	if c.Headless {
		return ErrHeadless
	}
	return nil
}

// Validate reports the first inconsistency in c, in words a user can act on.
func (c Config) Validate() error {
	if !c.IsViT() {
		return c.archError()
	}
	switch {
	case c.Width != 0:
		return fmt.Errorf("width %d is a ResNet's: a ViT has dim instead", c.Width)
	case c.boundsError() != nil:
		return c.boundsError()
	case c.Patch <= 0:
		return fmt.Errorf("patch size must be positive, got %d", c.Patch)
	case c.ImageHeight <= 0 || c.ImageWidth <= 0:
		return fmt.Errorf("image size must be positive, got %d×%d", c.ImageHeight, c.ImageWidth)
	case c.stemError() != nil:
		return c.stemError()
	case len(c.Stem) == 0 && (c.ImageHeight%c.Patch != 0 || c.ImageWidth%c.Patch != 0):
		return fmt.Errorf("image %d×%d is not divisible by patch %d: choose an image side that is a multiple of the patch", c.ImageHeight, c.ImageWidth, c.Patch)
	case c.ImageHeight%c.PixelPatch() != 0 || c.ImageWidth%c.PixelPatch() != 0:
		return fmt.Errorf("image %d×%d is not divisible by %d, the stem's stride %d times patch %d: choose an image side that is a multiple of it",
			c.ImageHeight, c.ImageWidth, c.PixelPatch(), c.StemStride(), c.Patch)
	case c.Channels != 1 && c.Channels != 3:
		return fmt.Errorf("channels must be 1 or 3, got %d", c.Channels)
	case c.Dim <= 0 || c.Depth <= 0 || c.Heads <= 0 || c.MLPDim <= 0:
		return fmt.Errorf("dim, depth, heads and mlp must be positive, got %d, %d, %d, %d", c.Dim, c.Depth, c.Heads, c.MLPDim)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("dim %d is not divisible by heads %d", c.Dim, c.Heads)
	case c.Classes <= 0:
		return fmt.Errorf("classes must be positive, got %d", c.Classes)
	case c.Pool != "" && c.Pool != "cls" && c.Pool != "gap" && c.Pool != "avg" && c.Pool != "map":
		return fmt.Errorf("pool must be cls, gap, avg or map, got %q", c.Pool)
	case c.posEmbedError() != nil:
		return c.posEmbedError()
	case !rate(c.Dropout) || !rate(c.AttentionDropout) || !rate(c.DropPath):
		return fmt.Errorf("dropout rates must be in [0, 1), got %g, %g and %g", c.Dropout, c.AttentionDropout, c.DropPath)
	case c.Attention != "" && c.Attention != "softmax" && c.Attention != "performer":
		return fmt.Errorf("attention must be softmax or performer, got %q", c.Attention)
	case c.Features < 0 || c.RedrawEvery < 0:
		return fmt.Errorf("features and redraw_every must not be negative")
	case c.Labels != nil && len(c.Labels) != c.Classes:
		return fmt.Errorf("%d labels for %d classes", len(c.Labels), c.Classes)
	case c.inputError() != nil:
		return c.inputError()
	case c.encoderError() != nil:
		return c.encoderError()
	}
	return c.sizeError()
}

// rate reports whether r is in [0, 1); NaN is not.
func rate(r float32) bool { return r >= 0 && r < 1 }

// inputError refuses a preparation of the input the model cannot use,
// which would otherwise give NaN or Inf logits or fail on the first image:
// Mean and Std with other than 0, 1 or Channels values, values that are
// not finite, a Std ≤ 0, a CropPct outside [0, 1] or a Resample filter
// imageio does not know.
func (c Config) inputError() error {
	for _, v := range []struct {
		name string
		x    []float32
	}{{"mean", c.Mean}, {"std", c.Std}} {
		if n := len(v.x); n > 1 && n != c.Channels {
			return fmt.Errorf("%s has %d values for %d channel(s): want one value, or one per channel", v.name, n, c.Channels)
		}
		for i, x := range v.x {
			if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) || v.name == "std" && !(x > 0) {
				return fmt.Errorf("%s[%d] is %g: want a finite number%s", v.name, i, x, map[bool]string{true: " > 0"}[v.name == "std"])
			}
		}
	}
	if !(c.CropPct >= 0 && c.CropPct <= 1) {
		return fmt.Errorf("crop_pct is %g: want 0 (no crop) to 1", c.CropPct)
	}
	if c.ResizeShort < 0 || c.ResizeShort > MaxSide || c.ResizeShort > 0 && c.CropPct > 0 {
		return fmt.Errorf("resize_short is %d: want 0 (none) to %d, and crop_pct 0 with it", c.ResizeShort, MaxSide)
	}
	if c.ResizeTo < 0 || c.ResizeTo > MaxSide || c.ResizeTo > 0 && (c.CropPct > 0 || c.ResizeShort > 0) {
		return fmt.Errorf("resize_to is %d: want 0 (none) to %d, and crop_pct and resize_short 0 with it", c.ResizeTo, MaxSide)
	}
	if _, err := c.Input().Preprocessor(); err != nil {
		return err
	}
	return nil
}

// sizeError refuses a configuration that cannot fit in this machine's
// physical memory (physicalMemory) even for one image at inference: its
// tensors alone, or with one image's activations. It runs before New or
// Zero allocate anything, so a hostile config.json fails here instead of
// exhausting memory, and it keeps every size the model computes far below
// the int range.
func (c Config) sizeError() error {
	phys := physicalMemory()
	m := c.Memory(1, false)
	switch {
	case m.Params > phys:
		return fmt.Errorf("the model's %s of parameters (dim %d, depth %d, MLP %d, %d tokens) cannot fit in this machine's %s of memory",
			FormatBytes(m.Params), c.Dim, c.Depth, c.MLPDim, c.Tokens(), FormatBytes(phys))
	case m.Total() > phys:
		return fmt.Errorf("one image through the model needs %s (%d tokens of width %d), more than this machine's %s of memory",
			FormatBytes(m.Total()), c.Tokens(), c.Dim, FormatBytes(phys))
	}
	return nil
}

// MaxSide is the largest value Validate accepts for any one dimension of a
// Config: image sides, patch, dim, depth, heads, MLP width, classes,
// features and each stem convolution's channels, kernel and stride. With
// every dimension at most 2²⁰ no product the model computes overflows an
// int on a 64-bit machine; sizeError then bounds the whole model by the
// machine's memory.
const MaxSide = 1 << 20

// maxStem is the longest stem Validate accepts.
const maxStem = 16

// boundsError reports the first dimension of c over MaxSide, a stem longer
// than maxStem, or a stem whose strides multiply past the image side.
func (c Config) boundsError() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"image height", c.ImageHeight}, {"image width", c.ImageWidth}, {"channels", c.Channels}, {"patch", c.Patch},
		{"dim", c.Dim}, {"depth", c.Depth}, {"heads", c.Heads}, {"mlp", c.MLPDim}, {"classes", c.Classes},
		{"features", c.Features}} {
		if f.v > MaxSide {
			return fmt.Errorf("%s %d is over the limit of %d", f.name, f.v, MaxSide)
		}
	}
	if len(c.Stem) > maxStem {
		return fmt.Errorf("a stem of %d convolutions is over the limit of %d", len(c.Stem), maxStem)
	}
	stride := 1.0
	for i, s := range c.Stem {
		if s.Channels > MaxSide || s.Kernel > MaxSide || s.Stride > MaxSide {
			return fmt.Errorf("stem convolution %d (%d:%d:%d) has a size over the limit of %d", i, s.Channels, s.Kernel, s.Stride, MaxSide)
		}
		stride *= float64(max(s.Stride, 1))
	}
	if stride > float64(max(c.ImageHeight, c.ImageWidth, 1)) {
		return fmt.Errorf("the stem's strides multiply to %.0f, more than the image side", stride)
	}
	return nil
}

// stemError reports the first malformed stem convolution.
func (c Config) stemError() error {
	for i, s := range c.Stem {
		if s.Channels <= 0 || s.Kernel <= 0 || s.Kernel%2 == 0 || s.Stride <= 0 {
			return fmt.Errorf("stem convolution %d: channels and stride must be positive and the kernel odd, got %d:%d:%d", i, s.Channels, s.Kernel, s.Stride)
		}
	}
	return nil
}

// StemStride is the product of the stem's strides: the image side over the
// feature map's (1 without a stem).
func (c Config) StemStride() int {
	s := 1
	for _, sc := range c.Stem {
		s *= sc.Stride
	}
	return s
}

// PixelPatch is the side, in image pixels, of the square one patch token
// covers: Patch, times the stem's stride in a hybrid.
func (c Config) PixelPatch() int { return c.Patch * c.StemStride() }

// FeatureChannels is the depth of what the patches are cut from: the
// image's channels, or the last stem convolution's.
func (c Config) FeatureChannels() int {
	if len(c.Stem) == 0 {
		return c.Channels
	}
	return c.Stem[len(c.Stem)-1].Channels
}

// GridH and GridW are the patch grid's rows and columns.
func (c Config) GridH() int { return c.ImageHeight / c.PixelPatch() }
func (c Config) GridW() int { return c.ImageWidth / c.PixelPatch() }

// NumPatches is N = H·W/P², the number of patch tokens.
func (c Config) NumPatches() int { return c.GridH() * c.GridW() }

// ClassToken reports whether a [class] token is prepended: with pool
// "cls", and with "avg" and "map" unless NoClassToken.
func (c Config) ClassToken() bool { return c.Pool != "gap" && !c.NoClassToken }

// Tokens is the sequence length: the patches plus the prefix tokens (class,
// distillation and register tokens), if any.
func (c Config) Tokens() int { return c.NumPatches() + c.PrefixTokens() }

// PatchSize is the length of a flattened patch, C·P² (C the feature
// channels in a hybrid).
func (c Config) PatchSize() int { return c.FeatureChannels() * c.Patch * c.Patch }

// Eps is the LayerNorm epsilon in effect.
func (c Config) Eps() float32 {
	if c.LayerNormEps == 0 {
		return 1e-6
	}
	return c.LayerNormEps
}

// Performer reports whether the blocks use FAVOR+ attention.
func (c Config) Performer() bool { return c.Attention == "performer" }

// FLOPs is the forward cost of one image in floating-point operations, a
// multiply-add counted as 2: the matrix products of the stem (a hybrid's
// convolutions), the patch embedding,
// every block (qkv, q·kᵀ, attention·v, output projection, MLP) and the head.
// Elementwise work (norms, softmax, GELU) is left out; it is under 1%.
//
// A network of another family (Config.Arch) counts its own way.
func (c Config) FLOPs() int64 {
	if !c.IsViT() {
		if a, err := c.arch(); err == nil {
			return a.FLOPs(c)
		}
		return 0
	}
	n, t, d, m := int64(c.NumPatches()), int64(c.Tokens()), int64(c.Dim), int64(c.MLPDim)
	embed := 2 * n * int64(c.PatchSize()) * d
	attention := 2 * 2 * t * t * d // q·kᵀ and attention·v
	if c.Performer() {
		dh := d / int64(c.Heads)
		feats := int64(c.Features)
		if feats == 0 {
			feats = int64(nn.DefaultFeatures(int(dh)))
		}
		// φ of queries and keys, K'ᵀ[V|1] and Q'·(K'ᵀ[V|1]), per head.
		attention = int64(c.Heads) * (2*2*t*feats*dh + 2*2*t*feats*(dh+1))
	}
	block := 2*t*d*3*d + attention + 2*t*d*d + 2*t*d*int64(c.hiddenOut()) + 2*t*m*d
	stem := int64(0)
	h, w, in := int64(c.ImageHeight), int64(c.ImageWidth), int64(c.Channels)
	for _, s := range c.Stem {
		h, w = h/int64(s.Stride), w/int64(s.Stride)
		stem += 2 * h * w * in * int64(s.Kernel*s.Kernel) * int64(s.Channels)
		in = int64(s.Channels)
	}
	return stem + embed + int64(c.Depth)*block + c.headFLOPs()
}

// headFLOPs is the forward cost after the blocks: an attention pool (its
// query, keys and values, attention, projection and MLP), a pre-logits
// layer or projection, and the head(s).
func (c Config) headFLOPs() int64 {
	t, d, m, fd, k := int64(c.Tokens()), int64(c.Dim), int64(c.MLPDim), int64(c.FeatureDim()), int64(c.Classes)
	f := 2 * fd * k
	if c.distHead() {
		f *= 2
	}
	if fd != d {
		f += 2 * d * fd
	}
	if c.Pool == "map" {
		f += 2*d*d + 2*t*d*2*d + 2*2*t*d + 2*d*d + 2*2*d*m
	}
	return f
}

// SkippedFLOPs is the part of FLOPs (per image, forward) that
// Model.Forward skips in the last block when it computes the class token
// alone, as it does when the model classifies from the class token with
// softmax attention (and in training no dropout), and no attention maps are
// captured:
// every other token's attention row, projection and MLP, and in training
// (train set) its query too; inference computes all queries through the
// packed weights. The reference small ViT's last block skips 17.3 of its
// 20.9 MFLOPs in training, 14% of the model.
func (c Config) SkippedFLOPs(train bool) int64 {
	if !c.IsViT() || !c.classShortcutBuffers() || train && (c.Dropout > 0 || c.AttentionDropout > 0) {
		return 0
	}
	t, d, m := int64(c.Tokens()), int64(c.Dim), int64(c.MLPDim)
	skip := 2*2*t*d + 2*d*d + 2*d*int64(c.hiddenOut()) + 2*m*d
	if train {
		skip += 2 * d * d
	}
	return (t - 1) * skip
}
