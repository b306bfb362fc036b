package checkpoint

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
)

// Checkpoints are untrusted: a few hundred bytes of config can describe a
// model of 10¹⁸ parameters. Every loader therefore checks, before it
// allocates the model, that the weights it read can back the model its
// config describes (fitsWeights), so the memory a load takes is bounded by
// the size of the checkpoint's real tensors, whatever its config says.

// fitSlack is how many more values than twice those stored a model may
// allocate: a checkpoint can lack a zero head, the class token's row of the
// position embedding or Performer features, all small next to the body.
const fitSlack = 1 << 20

// counter sums products of dimensions, remembering an overflow of int64.
type counter struct {
	n        int64
	overflow bool
}

// add adds the product of dims (all non-negative) to the count.
func (c *counter) add(dims ...int) {
	p := uint64(1)
	for _, d := range dims {
		if d < 0 {
			c.overflow = true
			return
		}
		hi, lo := bits.Mul64(p, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			c.overflow = true
			return
		}
		p = lo
	}
	if s := uint64(c.n) + p; s > math.MaxInt64 {
		c.overflow = true
	} else {
		c.n = int64(s)
	}
}

// modelValues returns the number of float32 values the tensors of a model
// of configuration c hold (vit.New allocates as many again for the
// gradients), and false when that overflows int64. c must be valid
// (vit.Config.Validate), so every dimension is positive.
func modelValues(c vit.Config) (int64, bool) {
	var n counter
	in := c.Channels
	for _, s := range c.Stem {
		n.add(s.Channels, s.Kernel, s.Kernel, in) // convolution kernel
		n.add(s.Channels)                         // its bias
		if s.Norm {
			n.add(2, s.Channels)
		}
		in = s.Channels
	}
	d, mlp := c.Dim, c.MLPDim
	n.add(d, in, c.Patch, c.Patch) // patch embedding
	n.add(d)
	if pp := c.PixelPatch(); pp > 0 {
		n.add(c.PosTokens(), d) // position embedding
	}
	n.add(c.PrefixTokens(), d) // the class, distillation and register tokens
	features, dh := 0, 0
	if c.Performer() {
		dh = d / c.Heads
		features = c.Features
		if features <= 0 {
			features = nn.DefaultFeatures(dh)
		}
	}
	var blk counter       // one encoder block
	blk.add(4, d)         // two LayerNorms
	blk.add(3, d, d)      // qkv
	blk.add(3, d)         // its bias
	blk.add(d+1, d)       // proj and its bias
	blk.add(2, mlp, d)    // fc1 and fc2
	blk.add(mlp + d)      // their biases
	blk.add(features, dh) // Performer random features
	if blk.overflow {
		return 0, false
	}
	n.add(int(blk.n), c.Depth)
	n.add(2, d)             // final LayerNorm
	n.add(c.Classes, d)     // head
	n.add(c.Classes)        // its bias
	return n.n, !n.overflow // counts the qkv bias even when absent: an upper bound
}

// fitsWeights reports an error when a model of configuration c would hold
// more than twice the stored values (have) plus fitSlack: then the config
// describes a model the weights cannot be, and allocating it could take any
// amount of memory. what names the config in the error. It validates c
// first.
func fitsWeights(c vit.Config, have int64, what string) error {
	stride := 1
	for _, s := range c.Stem {
		if s.Stride <= 0 || s.Stride > c.ImageHeight || stride > c.ImageHeight/s.Stride {
			return fmt.Errorf("%s: stem strides %v do not fit a %d×%d image", what, c.Stem, c.ImageHeight, c.ImageWidth)
		}
		stride *= s.Stride
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	need, ok := modelValues(c)
	if !c.IsViT() {
		need, ok = c.NumParams(), true
	}
	if ok && (have > (math.MaxInt64-fitSlack)/2 || need <= 2*have+fitSlack) {
		return nil
	}
	size := "more than 9.2·10¹⁸"
	if ok {
		size = fmt.Sprint(need)
	}
	return fmt.Errorf("%s describes a model of %s values (dim %d, depth %d, mlp %d, %d×%d image, patch %d, %d classes), but the weights hold only %d: the config does not match the weights",
		what, size, c.Dim, c.Depth, c.MLPDim, c.ImageHeight, c.ImageWidth, c.Patch, c.Classes, have)
}

// storedValues counts the values of every tensor of src (shapes as the
// files declare them, which their readers have checked against the bytes
// the files hold). It saturates at math.MaxInt64.
func storedValues(names []string, shape func(string) []int) int64 {
	var n counter
	for _, name := range names {
		n.add(shape(name)...)
		if n.overflow {
			return math.MaxInt64
		}
	}
	return n.n
}

// sourceValues counts the values src holds.
func sourceValues(src source) int64 {
	return storedValues(src.names(), func(n string) []int { sh, _ := src.shape(n); return sh })
}

// layers counts the consecutive layers 0, 1, … whose tensor format (a
// Sprintf format with one %d) names exists, up to at most limit+1.
func (r *reader) layers(format string, limit int) int {
	n := 0
	for n <= limit && r.has(fmt.Sprintf(format, n)) {
		n++
	}
	return n
}

// checkDepth records an error when the weights do not hold exactly depth
// layers, named by format; field names the config entry that gave depth.
func (r *reader) checkDepth(format string, depth int, field string) {
	if r.err != nil {
		return
	}
	if n := r.layers(format, min(depth, len(r.src.names()))); n != depth {
		r.err = fmt.Errorf("checkpoint %s: the config says %s %d, but the weights hold %d layers (no %s)", r.path, field, depth, n, fmt.Sprintf(format, n))
	}
}
