package viz

import (
	"fmt"
	"math"
	"slices"

	"github.com/vitgo/vit"
)

// Grid is the token layout of a model: GridH×GridW patches of Patch pixels,
// in row-major order, after a class token when ClassToken is set and
// Extra other prefix tokens (DeiT's distillation token, DINOv2's
// registers), which take part in rollout's matrix products but are no
// patch of any map.
type Grid struct {
	H, W       int  // patch rows and columns
	Patch      int  // side in pixels of the square a token covers (Config.PixelPatch)
	ClassToken bool // token 0 is the class token
	Extra      int  // tokens between the class token and the patches
}

// GridOf returns the token layout of models built with c.
func GridOf(c vit.Config) Grid {
	g := Grid{H: c.GridH(), W: c.GridW(), Patch: c.PixelPatch(), ClassToken: c.ClassToken()}
	g.Extra = c.PrefixTokens() - g.first()
	return g
}

// Patches is the number of patch tokens.
func (g Grid) Patches() int { return g.H * g.W }

// Tokens is the sequence length.
func (g Grid) Tokens() int { return g.Patches() + g.first() }

// first is the token index of patch 0.
func (g Grid) first() int {
	if g.ClassToken {
		return 1 + g.Extra
	}
	return g.Extra
}

// Fuse says how the heads of a layer are combined in rollout.
type Fuse string

// Head fusions.
const (
	FuseMean Fuse = "mean"
	FuseMax  Fuse = "max"
	FuseMin  Fuse = "min"
)

// RolloutOptions configure attention rollout.
type RolloutOptions struct {
	Fuse Fuse `json:"fuse"` // how heads are combined; "" means FuseMean
	// Discard is the fraction, in [0, 1), of the smallest weights of each
	// row set to zero before the identity is added. Only patch columns are
	// discarded; the class-token column is always kept.
	Discard float64 `json:"discard"`
}

// Validate reports an unusable option.
func (o RolloutOptions) Validate() error {
	switch o.Fuse {
	case "", FuseMean, FuseMax, FuseMin:
	default:
		return fmt.Errorf("viz: head fusion must be mean, max or min, got %q", o.Fuse)
	}
	if !(o.Discard >= 0 && o.Discard < 1) {
		return fmt.Errorf("viz: discard fraction must be in [0, 1), got %g", o.Discard)
	}
	return nil
}

// fuseHeads combines heads of one layer's attention a: [heads, t, t].
func fuseHeads(a []float32, heads, t int, f Fuse) []float64 {
	out := make([]float64, t*t)
	for i := range out {
		v := float64(a[i])
		for h := 1; h < heads; h++ {
			w := float64(a[h*t*t+i])
			switch f {
			case FuseMax:
				v = max(v, w)
			case FuseMin:
				v = min(v, w)
			default:
				v += w
			}
		}
		if f == "" || f == FuseMean {
			v /= float64(heads)
		}
		out[i] = v
	}
	return out
}

// discardLowest zeroes, in every row of m: [t, t], the ⌊frac·n⌋ smallest of
// the n patch columns (columns from first on).
func discardLowest(m []float64, t, first int, frac float64) {
	n := t - first
	k := int(math.Floor(frac * float64(n)))
	if k <= 0 {
		return
	}
	idx := make([]int, n)
	for i := range t {
		row := m[i*t : (i+1)*t]
		for j := range idx {
			idx[j] = first + j
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case row[a] < row[b]:
				return -1
			case row[a] > row[b]:
				return 1
			}
			return 0
		})
		for _, j := range idx[:k] {
			row[j] = 0
		}
	}
}

// addIdentity adds I to m: [t, t] and divides each row by its sum.
func addIdentity(m []float64, t int) {
	for i := range t {
		row := m[i*t : (i+1)*t]
		row[i]++
		s := 0.0
		for _, v := range row {
			s += v
		}
		for j := range row {
			row[j] /= s
		}
	}
}

// matmul returns a·b for [t, t] matrices.
func matmul(a, b []float64, t int) []float64 {
	out := make([]float64, t*t)
	for i := range t {
		o := out[i*t : (i+1)*t]
		for k, v := range a[i*t : (i+1)*t] {
			if v == 0 {
				continue
			}
			for j, w := range b[k*t : (k+1)*t] {
				o[j] += v * w
			}
		}
	}
	return out
}

// checkLayers verifies that every layer holds [heads, t, t] values.
func checkLayers(att [][]float32, heads, t int) error {
	if len(att) == 0 {
		return fmt.Errorf("viz: no attention layers")
	}
	for l, a := range att {
		if len(a) != heads*t*t {
			return fmt.Errorf("viz: layer %d has %d attention values, want %d heads × %d × %d", l, len(a), heads, t, t)
		}
	}
	return nil
}

// RolloutLayers returns attention rollout after each layer for one image:
// att[l] holds layer l's probabilities, [heads, tokens, tokens]. Element l of
// the result is J_(l+1) of the package documentation, [tokens, tokens]
// row-major; the last one is the rollout of the whole network. first is the
// token index of the first patch (1 with a class token, else 0): columns
// before it are never discarded.
func RolloutLayers(att [][]float32, heads, tokens, first int, opt RolloutOptions) ([][]float64, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if err := checkLayers(att, heads, tokens); err != nil {
		return nil, err
	}
	var joint []float64
	out := make([][]float64, len(att))
	for l, a := range att {
		f := fuseHeads(a, heads, tokens, opt.Fuse)
		discardLowest(f, tokens, first, opt.Discard)
		addIdentity(f, tokens)
		if joint == nil {
			joint = f
		} else {
			joint = matmul(f, joint, tokens)
		}
		out[l] = joint
	}
	return out, nil
}

// Rollout returns the attention rollout of a whole network for one image,
// the last element of RolloutLayers: [tokens, tokens].
func Rollout(att [][]float32, heads, tokens, first int, opt RolloutOptions) ([]float64, error) {
	js, err := RolloutLayers(att, heads, tokens, first, opt)
	if err != nil {
		return nil, err
	}
	return js[len(js)-1], nil
}

// GradientRollout returns the gradient-weighted rollout for one image:
// att[l] and grad[l] are layer l's attention probabilities and the gradient
// of the explained logit with respect to them, [heads, tokens, tokens]. The
// result is [tokens, tokens] (see the package documentation).
func GradientRollout(att, grad [][]float32, heads, tokens int) ([]float64, error) {
	if err := checkLayers(att, heads, tokens); err != nil {
		return nil, err
	}
	if err := checkLayers(grad, heads, tokens); err != nil {
		return nil, err
	}
	if len(att) != len(grad) {
		return nil, fmt.Errorf("viz: %d attention layers but %d gradient layers", len(att), len(grad))
	}
	t := tokens
	var joint []float64
	for l := range att {
		f := make([]float64, t*t)
		for h := range heads {
			a, g := att[l][h*t*t:(h+1)*t*t], grad[l][h*t*t:(h+1)*t*t]
			for i := range f {
				if v := float64(a[i]) * float64(g[i]); v > 0 {
					f[i] += v
				}
			}
		}
		for i := range f {
			f[i] /= float64(heads)
		}
		addIdentity(f, t)
		if joint == nil {
			joint = f
		} else {
			joint = matmul(f, joint, t)
		}
	}
	return joint, nil
}

// TokenMap reads the patch map of a rollout matrix joint: [tokens, tokens]:
// the class-token row over the patch columns, or with no class token the
// mean of the rows. The result is [g.H·g.W], row-major.
func TokenMap(joint []float64, g Grid) []float64 {
	t, n, f := g.Tokens(), g.Patches(), g.first()
	out := make([]float64, n)
	if g.ClassToken {
		copy(out, joint[f:t])
		return out
	}
	for i := range t {
		for j := range n {
			out[j] += joint[i*t+f+j]
		}
	}
	for j := range out {
		out[j] /= float64(t)
	}
	return out
}

// AttentionMap returns the raw attention of query patch q (row-major patch
// index, not counting the class token) over the patch keys, for image b of
// one layer's probabilities att: [batch, heads, tokens, tokens]. head < 0
// averages the heads. The result is [g.H·g.W]; with a class token it sums to
// less than one by the weight given to the class token.
func AttentionMap(att []float32, g Grid, heads, b, head, q int) ([]float64, error) {
	t, n, f := g.Tokens(), g.Patches(), g.first()
	if q < 0 || q >= n {
		return nil, fmt.Errorf("viz: query patch %d out of range [0, %d)", q, n)
	}
	if head >= heads {
		return nil, fmt.Errorf("viz: head %d out of range [0, %d)", head, heads)
	}
	if len(att) < (b+1)*heads*t*t {
		return nil, fmt.Errorf("viz: image %d out of range of %d attention values", b, len(att))
	}
	out := make([]float64, n)
	for h := range heads {
		if head >= 0 && h != head {
			continue
		}
		row := att[((b*heads+h)*t+f+q)*t:]
		for j := range n {
			out[j] += float64(row[f+j])
		}
	}
	if head < 0 {
		for j := range out {
			out[j] /= float64(heads)
		}
	}
	return out, nil
}

// Explanation holds the attention maps of one image, each [GridH·GridW],
// row-major.
type Explanation struct {
	Logits      []float32 // [classes]
	Predicted   int       // arg max of the logits
	Probability float64   // softmax probability of Predicted
	Rollout     []float64 // attention rollout map
	Class       int       // the class Gradient explains
	ClassProb   float64   // softmax probability of Class
	Gradient    []float64 // gradient-weighted rollout map for Class
}

// Explain computes rollout and gradient-weighted rollout for a batch of
// images x: [batch, channels, height, width], normalised as the model was
// trained. class[i] is the class to explain for image i; a nil class, or a
// negative entry, explains the predicted class. A model without a
// classifier (Config.Headless) has no class to explain: only Rollout is
// set, Logits and Gradient are nil and Predicted and Class are −1; a class
// asked for is refused with vit.ErrHeadless. Like
// vit.Model.AttentionGradients it is not safe for concurrent use.
func Explain(m *vit.Model, x []float32, batch int, class []int, opt RolloutOptions) ([]Explanation, error) {
	c := m.Config
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if class != nil && len(class) != batch {
		return nil, fmt.Errorf("viz: %d classes for %d images", len(class), batch)
	}
	if c.Headless {
		if slices.ContainsFunc(class, func(k int) bool { return k >= 0 }) {
			return nil, fmt.Errorf("viz: a class to explain: %w", vit.ErrHeadless)
		}
		return rolloutOnly(m, x, batch, opt)
	}
	want := make([]int, batch)
	needPred := class == nil || slices.ContainsFunc(class, func(k int) bool { return k < 0 })
	if needPred {
		logits, err := m.Predict(x, batch)
		if err != nil {
			return nil, err
		}
		for i := range want {
			want[i] = argmax(logits[i*c.Classes : (i+1)*c.Classes])
		}
	}
	for i := range class {
		if class[i] >= 0 {
			want[i] = class[i]
		}
	}
	probs, grads, logits, err := m.AttentionGradients(x, batch, want)
	if err != nil {
		return nil, err
	}
	g := GridOf(c)
	t, h := g.Tokens(), c.Heads
	per := h * t * t
	out := make([]Explanation, batch)
	for i := range out {
		att := imageMaps(func(l int) []float32 { return probs[l] }, c.Depth, per, i)
		gr := imageMaps(func(l int) []float32 { return grads[l] }, c.Depth, per, i)
		j, err := Rollout(att, h, t, g.first(), opt)
		if err != nil {
			return nil, err
		}
		gj, err := GradientRollout(att, gr, h, t)
		if err != nil {
			return nil, err
		}
		lg := append([]float32(nil), logits[i*c.Classes:(i+1)*c.Classes]...)
		p := softmax(lg)
		k := argmax(lg)
		out[i] = Explanation{Logits: lg, Predicted: k, Probability: p[k], Rollout: TokenMap(j, g),
			Class: want[i], ClassProb: p[want[i]], Gradient: TokenMap(gj, g)}
	}
	return out, nil
}

// rolloutOnly is Explain for a model without a classifier: the attention
// rollout of each image, from a forward pass alone.
func rolloutOnly(m *vit.Model, x []float32, batch int, opt RolloutOptions) ([]Explanation, error) {
	c := m.Config
	layers := make([]int, c.Depth)
	for l := range layers {
		layers[l] = l
	}
	probs, _, err := m.Attention(x, batch, layers)
	if err != nil {
		return nil, err
	}
	g := GridOf(c)
	t, h := g.Tokens(), c.Heads
	per := h * t * t
	out := make([]Explanation, batch)
	for i := range out {
		att := imageMaps(func(l int) []float32 { return probs[l] }, c.Depth, per, i)
		j, err := Rollout(att, h, t, g.first(), opt)
		if err != nil {
			return nil, err
		}
		out[i] = Explanation{Predicted: -1, Class: -1, Rollout: TokenMap(j, g)}
	}
	return out, nil
}

// imageMaps returns image i's part, per values, of each of depth layers'
// maps (layer(l): [batch, heads, tokens, tokens]).
func imageMaps(layer func(l int) []float32, depth, per, i int) [][]float32 {
	out := make([][]float32, depth)
	for l := range out {
		out[l] = layer(l)[i*per : (i+1)*per]
	}
	return out
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func softmax(x []float32) []float64 {
	m := float64(x[argmax(x)])
	out := make([]float64, len(x))
	s := 0.0
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
