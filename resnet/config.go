// Package resnet is the paper's CNN baseline: BiT's ResNet v2 (Kolesnikov
// et al. 2020, "Big Transfer"), pre-activation bottleneck blocks with Group
// Normalization and Weight Standardization on every convolution, in the
// same engine as the Vision Transformer, so that both train, evaluate and
// save the same way (package train drives either as a vit.Network).
//
// A ResNet is a vit.Config with Arch "resnet": Depth 26 or 50, Width the
// base width W (64 in the paper's ResNets), and the ViT's input fields. The
// network reads like timm's resnetv2.py:
//
//	stem:   StdConv 3×3/1 (W channels) for images of side ≤ 64 (28×28,
//	        32×32); StdConv 7×7/2 then 3×3/2 max pool for larger ones (224)
//	stages: 4 stages of [2,2,2,2] (26) or [3,4,6,3] (50) bottlenecks; stage
//	        s has width W·2ˢ and output 4·W·2ˢ channels; stages after the
//	        first start with stride 2
//	block:  p = ReLU(GN(x)); shortcut = x, or StdConv 1×1/stride of p when
//	        the shape changes; y = conv3(ReLU(GN(conv2(ReLU(GN(conv1(p)))))))
//	        + shortcut, conv1 and conv3 1×1, conv2 3×3 (with the stride)
//	head:   ReLU(GN(x)), global average pool, linear classifier
//
// Group Normalization uses gcd(32, C/2) groups for C channels: BiT's 32
// groups from 64 channels up, and two channels per group in narrower
// layers (W must be even). Feature maps are channels-last.
package resnet

import (
	"fmt"

	"github.com/vitgo/vit"
)

// Arch is the Config.Arch of a ResNet.
const Arch = "resnet"

func init() {
	vit.RegisterArch(Arch, vit.Arch{
		Validate:  validate,
		FLOPs:     func(c vit.Config) int64 { return newLayout(c).flops() },
		Memory:    memory,
		NumParams: func(c vit.Config) int64 { return newLayout(c).params() },
		New:       func(c vit.Config, seed uint64) (vit.Network, error) { return New(c, seed) },
		Zero:      func(c vit.Config) (vit.Network, error) { return Zero(c) },
	})
}

// Depths are the depths a ResNet may have, with their blocks per stage.
var Depths = map[int][4]int{26: {2, 2, 2, 2}, 50: {3, 4, 6, 3}}

// maxWidth bounds Width: a ResNet-50 of width 4096 already has 64× the
// paper's widest (BiT-R152x4) channels.
const maxWidth = 4096

// Config returns the configuration of a ResNet of the given depth and base
// width for images of side image with channels channels and classes outputs.
func Config(depth, width, image, channels, classes int) vit.Config {
	return vit.Config{Arch: Arch, Depth: depth, Width: width, ImageHeight: image, ImageWidth: image, Channels: channels, Classes: classes}
}

func validate(c vit.Config) error {
	if _, ok := Depths[c.Depth]; !ok {
		return fmt.Errorf("resnet depth must be 26 or 50, got %d", c.Depth)
	}
	if c.Width < 2 || c.Width%2 != 0 || c.Width > maxWidth {
		return fmt.Errorf("resnet width must be even, from 2 to %d, got %d", maxWidth, c.Width)
	}
	if c.Patch != 0 || c.Dim != 0 || c.Heads != 0 || c.MLPDim != 0 || len(c.Stem) != 0 || c.PosEmbed != "" || c.Pool != "" || c.Attention != "" {
		return fmt.Errorf("a resnet has no patch, dim, heads, mlp, stem, pool, position embedding or attention: leave them unset")
	}
	if c.Dropout != 0 || c.AttentionDropout != 0 || c.DropPath != 0 {
		return fmt.Errorf("a resnet has no dropout or stochastic depth: leave them 0")
	}
	if min(c.ImageHeight, c.ImageWidth) < 8 {
		return fmt.Errorf("a resnet needs images of at least 8×8 pixels, got %d×%d", c.ImageHeight, c.ImageWidth)
	}
	return nil
}

// Groups is the number of Group Normalization groups of a layer of ch
// channels: gcd(32, ch/2).
func Groups(ch int) int {
	a, b := 32, ch/2
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// smallStem reports whether images of c take the 3×3/1 stem without max
// pool (sides up to 64 pixels) rather than the 7×7/2 stem and max pool.
func smallStem(c vit.Config) bool { return max(c.ImageHeight, c.ImageWidth) <= 64 }

// layout is the shape of every layer of a ResNet, derived from its Config
// alone: NewWorkspace allocates from it and FLOPs and Memory count from it.
type layout struct {
	batch                  int // 0 when only counting
	channels, width        int
	classes                int
	h, w                   int // image
	small                  bool
	stemH, stemW           int // stem convolution output
	poolH, poolW           int // after the max pool (the stem's output with the small stem)
	stemKernel, stemStride int
	blocks                 []blockShape
	final                  int // channels of the last stage
}

// blockShape is one bottleneck's shape: input h×w×in, output oh×ow×out.
type blockShape struct {
	stage, index int
	in, mid, out int
	stride       int
	h, w, oh, ow int
	down         bool // a 1×1 convolution on the shortcut
}

func convOut(n, k, s int) int { return (n+2*(k/2)-k)/s + 1 }

func newLayout(c vit.Config) layout {
	l := layout{classes: c.Classes, channels: c.Channels, width: c.Width, h: c.ImageHeight, w: c.ImageWidth, small: smallStem(c)}
	l.stemKernel, l.stemStride = 7, 2
	if l.small {
		l.stemKernel, l.stemStride = 3, 1
	}
	l.stemH, l.stemW = convOut(l.h, l.stemKernel, l.stemStride), convOut(l.w, l.stemKernel, l.stemStride)
	l.poolH, l.poolW = l.stemH, l.stemW
	if !l.small {
		l.poolH, l.poolW = convOut(l.stemH, 3, 2), convOut(l.stemW, 3, 2)
	}
	h, w, in := l.poolH, l.poolW, c.Width
	for s, n := range Depths[c.Depth] {
		mid := c.Width << s
		for i := range n {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			b := blockShape{stage: s, index: i, in: in, mid: mid, out: 4 * mid, stride: stride, h: h, w: w,
				oh: convOut(h, 3, stride), ow: convOut(w, 3, stride)}
			b.down = stride != 1 || in != b.out
			l.blocks = append(l.blocks, b)
			h, w, in = b.oh, b.ow, b.out
		}
	}
	l.final = in
	return l
}

// last returns the last block's shape.
func (l layout) last() blockShape { return l.blocks[len(l.blocks)-1] }

// flops counts the forward multiply-adds of one image, twice: every
// convolution and the classifier (normalisation, pooling and the residual
// sums, well under 1%, are left out).
func (l layout) flops() int64 {
	conv := func(oh, ow, in, k, out int) int64 {
		return 2 * int64(oh) * int64(ow) * int64(in) * int64(k*k) * int64(out)
	}
	f := conv(l.stemH, l.stemW, l.channels, l.stemKernel, l.width)
	for _, b := range l.blocks {
		f += conv(b.h, b.w, b.in, 1, b.mid) + conv(b.oh, b.ow, b.mid, 3, b.mid) + conv(b.oh, b.ow, b.mid, 1, b.out)
		if b.down {
			f += conv(b.oh, b.ow, b.in, 1, b.out)
		}
	}
	return f + 2*int64(l.final)*int64(l.classes)
}

// params counts the learnable values.
func (l layout) params() int64 {
	n := int64(l.stemKernel*l.stemKernel) * int64(l.channels) * int64(l.width)
	for _, b := range l.blocks {
		n += 2*int64(b.in) + int64(b.in)*int64(b.mid) + 2*int64(b.mid) + 9*int64(b.mid)*int64(b.mid) + 2*int64(b.mid) + int64(b.mid)*int64(b.out)
		if b.down {
			n += int64(b.in) * int64(b.out)
		}
	}
	return n + 2*int64(l.final) + int64(l.final)*int64(l.classes) + int64(l.classes)
}

// memory estimates a ResNet's memory as vit.Config.Memory does a ViT's.
// The state counts each tensor four times (weights, gradients and, for
// the convolutions, the standardised kernel and its gradient), six in
// training (AdamW's two moments).
func memory(c vit.Config, batch int, train bool) vit.Memory {
	l := newLayout(c)
	p := float64(l.params())
	state := 4 * p
	if train {
		state = 6 * p
	}
	return vit.Memory{Params: sat(4 * p), State: sat(4 * state), Activations: sat(4 * l.activations(float64(batch), train)),
		Batch: batch, Train: train}
}

func sat(x float64) int64 {
	if x >= 1<<62 {
		return 1 << 62
	}
	return int64(x)
}
