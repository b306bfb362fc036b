package nn

// RelativePositionBias is a learned bias per attention head for each
// relative 2-D offset between two patches, added to the attention logits
// (Shaw et al. 2018 in 2-D, as BEiT and Swin use it; the paper's Table 8
// "relative" row): with patches on a gh×gw grid, the bias of query patch
// (r₁, c₁) attending to key patch (r₂, c₂) is Table[(r₁−r₂+gh−1)·(2gw−1) +
// (c₁−c₂+gw−1), head]. A class token has no grid position; as in BEiT it
// gets three entries of its own after the offsets: class→patch,
// patch→class and class→class.
type RelativePositionBias struct {
	Table               *Param // [(2gh−1)·(2gw−1) (+3 with a class token), heads]
	Heads, GridH, GridW int
	ClassToken          bool

	index []int32 // [tokens·tokens]: Table's row for each (query, key)
}

// RelativeEntries is the number of rows of the table of a gh×gw grid.
func RelativeEntries(gh, gw int, classToken bool) int {
	n := (2*gh - 1) * (2*gw - 1)
	if classToken {
		n += 3
	}
	return n
}

// NewRelativePositionBias allocates a zero table (BEiT's initialisation).
func NewRelativePositionBias(name string, heads, gh, gw int, classToken bool) *RelativePositionBias {
	r := &RelativePositionBias{Table: NewParam(name, true, RelativeEntries(gh, gw, classToken), heads),
		Heads: heads, GridH: gh, GridW: gw, ClassToken: classToken}
	r.index = relativeIndex(gh, gw, classToken)
	return r
}

// relativeIndex maps every (query, key) pair of tokens (the class token
// first, if any, then the patches in row-major order) to its table row.
func relativeIndex(gh, gw int, classToken bool) []int32 {
	first := 0
	if classToken {
		first = 1
	}
	t := first + gh*gw
	idx := make([]int32, t*t)
	n := int32((2*gh - 1) * (2*gw - 1))
	for i := range t {
		for j := range t {
			switch {
			case i < first && j < first:
				idx[i*t+j] = n + 2
			case i < first:
				idx[i*t+j] = n
			case j < first:
				idx[i*t+j] = n + 1
			default:
				p, q := i-first, j-first
				dr, dc := p/gw-q/gw+gh-1, p%gw-q%gw+gw-1
				idx[i*t+j] = int32(dr*(2*gw-1) + dc)
			}
		}
	}
	return idx
}

// Tokens is the sequence length the bias is for.
func (r *RelativePositionBias) Tokens() int {
	t := r.GridH * r.GridW
	if r.ClassToken {
		t++
	}
	return t
}

// Bias writes the bias of every head: [heads, tokens, tokens].
func (r *RelativePositionBias) Bias(bias []float32) {
	tt := len(r.index)
	for h := range r.Heads {
		b := bias[h*tt : (h+1)*tt]
		for i, e := range r.index {
			b[i] = r.Table.Data[int(e)*r.Heads+h]
		}
	}
}

// Backward adds the table's gradient from dlogits: [batch, heads, tokens,
// tokens], the gradient of the loss with respect to the attention logits
// times scale (what Attention.Backward leaves in its dprobs with a Bias).
func (r *RelativePositionBias) Backward(dlogits []float32, batch int, scale float32) {
	if r.Table.Frozen {
		return
	}
	tt := len(r.index)
	inv := 1 / scale
	g := r.Table.Grad
	for b := range batch {
		for h := range r.Heads {
			d := dlogits[(b*r.Heads+h)*tt : (b*r.Heads+h+1)*tt]
			for i, e := range r.index {
				g[int(e)*r.Heads+h] += d[i] * inv
			}
		}
	}
}

// Replica returns a layer that shares r's table but has its own gradient.
func (r *RelativePositionBias) Replica() *RelativePositionBias {
	q := *r
	q.Table = r.Table.Share()
	return &q
}

// Params lists the layer's tensors.
func (r *RelativePositionBias) Params() []*Param { return []*Param{r.Table} }
