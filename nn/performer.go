package nn

import (
	"math"
	"math/rand/v2"

	"github.com/vitgo/vit/kernels"
)

// PerformerEps is the ε of the positive random features,
// φ(x) = m^(−1/2)·(exp(W·x − ‖x‖²/2 − s) + ε): it keeps every feature, and so
// every normaliser D, strictly positive when exp underflows. As in the
// Performer reference implementation it is added before the m^(−1/2) ratio.
const PerformerEps = 1e-6

// Performer approximates softmax attention in O(tokens) with positive
// orthogonal random features: FAVOR+ of Choromanski et al., "Rethinking
// Attention with Performers" (ICLR 2021). It is a drop-in alternative to
// Attention with the same layout: qkv: [batch, tokens, 3, heads, dh] in,
// out: [batch, tokens, heads·dh] out.
//
// For each head, with q' = dh^(−1/4)·q and k' = dh^(−1/4)·k (so that
// q'·k' = q·k/√dh), Performer computes
//
//	φ(x) = m^(−1/2) · (exp(W·x − ‖x‖²/2 − s) + ε)      ∈ ℝᵐ
//	out  = D⁻¹ · Q'(K'ᵀV),   D = diag(Q'(K'ᵀ1))
//
// where Q' and K' stack the rows φ(q') and φ(k'), and E[φ(q')·φ(k')] is
// exp(q'·k') up to the constants below, which cancel in D⁻¹. The
// tokens×tokens matrix is never formed: a head costs O(tokens·m·dh).
//
// The stabiliser s guards exp against overflow: for a query it is the
// maximum of W·q' over the m features of that query, for keys the maximum
// of W·k' over all keys and features of that (image, head). Both are
// constant along the sums they enter (a factor per row of Q', one for all
// of K'), so they cancel in D⁻¹ up to their effect on ε. Backward treats
// them as constants (the reference implementation's stop-gradient) and is
// otherwise the exact gradient of Forward; the derivative it leaves out,
// through s, is m^(−1/2)·ε·Σ ∂L/∂φ over the features s shifts (the output
// does not change when a row of Q', or all of K', is scaled), zero for
// ε = 0 and below float32 resolution for ε = PerformerEps. Because s
// leaves out ‖x‖²/2, a query's largest feature is m^(−1/2)·exp(−‖q'‖²/2):
// beyond ‖q'‖²/2 ≈ 14, ε dominates and that query's output drifts towards
// the mean of V, as in the reference implementation.
//
// W: [Features, dh] is one projection matrix shared by all heads of the
// layer, as in the reference implementation (each head sees the same
// unbiased estimator; a matrix per head would only decorrelate the heads'
// errors). Its rows come in
// blocks of dh: each block is a Haar-random orthogonal dh×dh matrix (Gram-
// Schmidt on Gaussian rows; the last block keeps only its first
// Features mod dh rows), and every row is rescaled to the norm of an
// independent dh-dimensional Gaussian vector (χ with dh degrees of
// freedom), so each row is marginally N(0, I) while rows within a block
// are orthogonal (to float32 rounding).
//
// W is a buffer (Param.Buffer): saved and loaded with the model like its
// weights, but never learned. The Performer owns it; its Params list it.
type Performer struct {
	Heads, Dim int    // as Attention: Dim = Heads·dh
	Features   int    // m, the number of random features per head
	W          *Param // [Features, dh], shared by all heads; named name+".features"
}

// DefaultFeatures returns m = ⌊dh·ln dh⌋ (at least 1), the number of random
// features the paper suggests (m = Θ(d log d)) and the reference
// implementation uses by default: 266 for dh = 64.
func DefaultFeatures(dh int) int {
	return max(1, int(float64(dh)*math.Log(float64(dh))))
}

// NewPerformer returns a Performer with heads heads of width dim/heads and
// features random features per head (DefaultFeatures(dh) when features ≤ 0),
// drawing W from seed. Its feature matrix is named name+".features" (name is
// the attention layer's prefix, such as "blocks.0.attn").
func NewPerformer(name string, heads, dim, features int, seed uint64) *Performer {
	if heads <= 0 || dim%heads != 0 {
		panic("nn: Performer dim must be a positive multiple of heads")
	}
	dh := dim / heads
	if features <= 0 {
		features = DefaultFeatures(dh)
	}
	w := NewParam(name+".features", true, features, dh)
	w.Frozen, w.Buffer = true, true
	p := &Performer{Heads: heads, Dim: dim, Features: features, W: w}
	p.Redraw(seed)
	return p
}

// Params lists the layer's tensors: its feature matrix W, a buffer.
func (p *Performer) Params() []*Param { return []*Param{p.W} }

// Replica returns a Performer that reads the same feature matrix (see
// Param.Share), for a model replica in data-parallel training: a redraw of
// p's features shows in the replica.
func (p *Performer) Replica() *Performer {
	r := *p
	r.W = p.W.Share()
	return &r
}

// HeadDim is dh, the width of one head.
func (p *Performer) HeadDim() int { return p.Dim / p.Heads }

// Redraw overwrites W, in place, with a new draw of orthogonal random
// features from seed (a deterministic function of seed, Features and dh).
// When to redraw (never, every k steps) is the caller's policy.
func (p *Performer) Redraw(seed uint64) {
	dh, m := p.HeadDim(), p.Features
	w := p.W.Data
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	block := make([]float64, dh*dh)
	for b0 := 0; b0 < m; b0 += dh {
		gramSchmidtGaussian(block, dh, rng)
		for i := 0; i < min(dh, m-b0); i++ {
			for j, v := range block[i*dh : (i+1)*dh] {
				w[(b0+i)*dh+j] = float32(v)
			}
		}
	}
	// Row norms: the norm of a fresh Gaussian vector, ~ χ(dh).
	for i := 0; i < m; i++ {
		var s float64
		for j := 0; j < dh; j++ {
			g := rng.NormFloat64()
			s += g * g
		}
		norm := float32(math.Sqrt(s))
		for j := range w[i*dh : (i+1)*dh] {
			w[i*dh+j] *= norm
		}
	}
}

// gramSchmidtGaussian fills q: [d, d] with a Haar-random orthogonal matrix:
// Gaussian rows orthonormalised by modified Gram-Schmidt (applied twice,
// which makes them orthogonal to working precision).
func gramSchmidtGaussian(q []float64, d int, rng *rand.Rand) {
	for i := range q {
		q[i] = rng.NormFloat64()
	}
	for i := 0; i < d; i++ {
		row := q[i*d : (i+1)*d]
		for pass := 0; pass < 2; pass++ {
			for j := 0; j < i; j++ {
				prev := q[j*d : (j+1)*d]
				var dot float64
				for c, v := range row {
					dot += v * prev[c]
				}
				for c := range row {
					row[c] -= dot * prev[c]
				}
			}
		}
		var s float64
		for _, v := range row {
			s += v * v
		}
		inv := 1 / math.Sqrt(s)
		for c := range row {
			row[c] *= inv
		}
	}
}

// FLOPs returns the multiply-adds (×2) of Forward for one image: per head,
// the projections W·q' and W·k' (2·tokens·m·dh each), K'ᵀ[V | 1] and
// Q'·(K'ᵀ[V | 1]) (2·tokens·m·(dh+1) each), that is
// heads·4·tokens·m·(2·dh+1), against softmax attention's 4·tokens²·dim.
// The exponentials and norms, O(tokens·(m+dh)) per head, are not counted.
func (p *Performer) FLOPs(tokens int) int64 {
	dh := int64(p.HeadDim())
	return int64(p.Heads) * 4 * int64(tokens) * int64(p.Features) * (2*dh + 1)
}

// PerformerActs holds what Performer.Backward needs from Forward, and the
// scratch Backward works in; Performer.NewActs sizes it once.
type PerformerActs struct {
	batch, tokens int
	qf, kf        []float32 // [batch, heads, tokens, m]: rows φ(q'), φ(k')
	kv            []float32 // [batch, heads, m, dh+1]: K'ᵀ[V | 1]
	od            []float32 // [batch, heads, tokens, dh+1]: [out | diag(D)]

	// Backward scratch, one slot per worker (slots of them).
	slots int
	g     []float32 // [slots, tokens, dh+1]: ∂/∂[Q'K'ᵀV | D]
	dkv   []float32 // [slots, m, dh+1]: ∂/∂(K'ᵀ[V | 1])
	dfeat []float32 // [slots, tokens, m]: ∂/∂Q', then ∂/∂K'
}

// NewActs allocates the activations of Forward and Backward for batch
// images of tokens tokens; they serve any call with at most that many.
func (p *Performer) NewActs(batch, tokens int) *PerformerActs {
	dh, m, bh := p.HeadDim(), p.Features, batch*p.Heads
	slots := max(1, min(kernels.Parallelism(), bh))
	return &PerformerActs{
		batch: batch, tokens: tokens,
		qf:    make([]float32, bh*tokens*m),
		kf:    make([]float32, bh*tokens*m),
		kv:    make([]float32, bh*m*(dh+1)),
		od:    make([]float32, bh*tokens*(dh+1)),
		slots: slots,
		g:     make([]float32, slots*tokens*(dh+1)),
		dkv:   make([]float32, slots*m*(dh+1)),
		dfeat: make([]float32, slots*tokens*m),
	}
}

func (a *PerformerActs) check(batch, tokens int) {
	if batch > a.batch || tokens > a.tokens {
		panic("nn: PerformerActs sized for fewer images or tokens")
	}
}

// Forward computes out: [batch, tokens, dim] from qkv: [batch, tokens, 3·dim]
// (the layout of Attention.Forward) and keeps in acts what Backward needs.
func (p *Performer) Forward(out []float32, acts *PerformerActs, qkv []float32, batch, tokens int) {
	acts.check(batch, tokens)
	dh, m, d3 := p.HeadDim(), p.Features, 3*p.Dim
	tm, mv, tv := tokens*m, m*(dh+1), tokens*(dh+1)
	c := p.dataScale()
	kernels.ParallelFor(batch*p.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/p.Heads, bh%p.Heads
			base := b * tokens * d3
			q, k, v := qkv[base+h*dh:], qkv[base+p.Dim+h*dh:], qkv[base+2*p.Dim+h*dh:]
			qf, kf := acts.qf[bh*tm:(bh+1)*tm], acts.kf[bh*tm:(bh+1)*tm]
			kv, od := acts.kv[bh*mv:(bh+1)*mv], acts.od[bh*tv:(bh+1)*tv]

			p.features(qf, q, d3, tokens, c, true)
			p.features(kf, k, d3, tokens, c, false)
			// K'ᵀ[V | 1]: [m, dh+1]
			kernels.SgemmSerial(true, false, m, dh, tokens, 1, kf, m, v, d3, 0, kv, dh+1)
			for j := 0; j < m; j++ {
				kv[j*(dh+1)+dh] = 0
			}
			for i := 0; i < tokens; i++ {
				for j, f := range kf[i*m : (i+1)*m] {
					kv[j*(dh+1)+dh] += f
				}
			}
			// [Q'K'ᵀV | D] = Q'·K'ᵀ[V | 1], then out = D⁻¹·Q'K'ᵀV.
			kernels.SgemmSerial(false, false, tokens, dh+1, m, 1, qf, m, kv, dh+1, 0, od, dh+1)
			for i := 0; i < tokens; i++ {
				row := od[i*(dh+1) : (i+1)*(dh+1)]
				inv := 1 / row[dh]
				o := out[(b*tokens+i)*p.Dim+h*dh:][:dh]
				for e := range o {
					row[e] *= inv
					o[e] = row[e]
				}
			}
		}
	})
}

// Backward takes dout: [batch, tokens, dim], the forward's qkv and acts,
// and writes dqkv: [batch, tokens, 3·dim] (overwriting), the exact gradient
// of Forward with the stabilisers held constant. acts is not modified
// beyond its scratch, so Backward may be called again with the same acts.
func (p *Performer) Backward(dqkv, dout []float32, acts *PerformerActs, qkv []float32, batch, tokens int) {
	acts.check(batch, tokens)
	dh, m, d3 := p.HeadDim(), p.Features, 3*p.Dim
	tm, mv, tv := tokens*m, m*(dh+1), tokens*(dh+1)
	c := p.dataScale()
	n := batch * p.Heads
	slots := min(acts.slots, n)
	per := (n + slots - 1) / slots
	// Slot w handles heads [w·per, (w+1)·per) with its own scratch.
	kernels.ParallelFor(slots, 1, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			g := acts.g[w*tv : (w+1)*tv]
			dkv := acts.dkv[w*mv : (w+1)*mv]
			df := acts.dfeat[w*tm : (w+1)*tm]
			for bh := w * per; bh < min((w+1)*per, n); bh++ {
				b, h := bh/p.Heads, bh%p.Heads
				base := b * tokens * d3
				q, k, v := qkv[base+h*dh:], qkv[base+p.Dim+h*dh:], qkv[base+2*p.Dim+h*dh:]
				dq, dk, dv := dqkv[base+h*dh:], dqkv[base+p.Dim+h*dh:], dqkv[base+2*p.Dim+h*dh:]
				qf, kf := acts.qf[bh*tm:(bh+1)*tm], acts.kf[bh*tm:(bh+1)*tm]
				kv, od := acts.kv[bh*mv:(bh+1)*mv], acts.od[bh*tv:(bh+1)*tv]

				// out_i = num_i/D_i: ∂num_i = dout_i/D_i, ∂D_i = −(dout_i·out_i)/D_i.
				for i := 0; i < tokens; i++ {
					row := od[i*(dh+1) : (i+1)*(dh+1)]
					gi := g[i*(dh+1) : (i+1)*(dh+1)]
					do := dout[(b*tokens+i)*p.Dim+h*dh:][:dh]
					inv := 1 / row[dh]
					var dot float32
					for e, x := range do {
						dot += x * row[e]
						gi[e] = x * inv
					}
					gi[dh] = -dot * inv
				}
				// [num | D] = Q'·KV with KV = K'ᵀ[V | 1]:
				// ∂KV = Q'ᵀ·g, ∂Q' = g·KVᵀ.
				kernels.SgemmSerial(true, false, m, dh+1, tokens, 1, qf, m, g, dh+1, 0, dkv, dh+1)
				kernels.SgemmSerial(false, true, tokens, m, dh+1, 1, g, dh+1, kv, dh+1, 0, df, m)
				p.featuresBackward(dq, df, qf, q, d3, tokens, c)
				// KV = K'ᵀ[V | 1]: ∂K' = [V | 1]·∂KVᵀ, ∂V = K'·∂KV[:, :dh].
				kernels.SgemmSerial(false, true, tokens, m, dh, 1, v, d3, dkv, dh+1, 0, df, m)
				for i := 0; i < tokens; i++ {
					row := df[i*m : (i+1)*m]
					for j := range row {
						row[j] += dkv[j*(dh+1)+dh]
					}
				}
				kernels.SgemmSerial(false, false, tokens, dh, m, 1, kf, m, dkv, dh+1, 0, dv, d3)
				p.featuresBackward(dk, df, kf, k, d3, tokens, c)
			}
		}
	})
}

// dataScale is dh^(−1/4), the scaling of queries and keys.
func (p *Performer) dataScale() float32 {
	return float32(math.Pow(float64(p.HeadDim()), -0.25))
}

// features writes the rows φ(c·x_i) of f: [tokens, m] for the rows x_i of
// x (row stride ldx, width dh):
//
//	f_ij = m^(−1/2) · (exp(c·w_j·x_i − c²‖x_i‖²/2 − s_i) + ε)
//
// with s_i = max_j c·w_j·x_i when perRow (queries), or s_i = s =
// max_ij c·w_j·x_i (keys).
func (p *Performer) features(f, x []float32, ldx, tokens int, c float32, perRow bool) {
	dh, m := p.HeadDim(), p.Features
	ratio := float32(1 / math.Sqrt(float64(m)))
	kernels.SgemmSerial(false, true, tokens, m, dh, c, x, ldx, p.W.Data, dh, 0, f, m)
	var s float32
	if !perRow {
		s = f[0]
		for _, v := range f[:tokens*m] {
			s = max(s, v)
		}
	}
	for i := 0; i < tokens; i++ {
		var sq float32
		for _, v := range x[i*ldx : i*ldx+dh] {
			sq += v * v
		}
		row := f[i*m : (i+1)*m]
		if perRow {
			s = row[0]
			for _, v := range row[1:] {
				s = max(s, v)
			}
		}
		shift := c*c*sq/2 + s
		kernels.ExpAffine(row, shift, ratio, ratio*PerformerEps)
	}
}

// featuresBackward turns df: [tokens, m], the gradient with respect to the
// features f = φ(c·x) (as features computed them), into the gradient with
// respect to x, written to dx (row stride ldx, overwriting); df is
// clobbered. With e_ij = f_ij/ratio − ε, the exponent's gradient is
// dp_ij = df_ij·ratio·e_ij = df_ij·(f_ij − ratio·ε), and
//
//	dx_i = c·Σ_j dp_ij·w_j − c²·(Σ_j dp_ij)·x_i.
func (p *Performer) featuresBackward(dx, df, f, x []float32, ldx, tokens int, c float32) {
	dh, m := p.HeadDim(), p.Features
	re := float32(PerformerEps / math.Sqrt(float64(m)))
	for i := 0; i < tokens; i++ {
		row, fr := df[i*m:(i+1)*m], f[i*m:(i+1)*m]
		var s float32
		for j, d := range row {
			d *= fr[j] - re
			row[j] = d
			s += d
		}
		s *= -c * c
		xi, di := x[i*ldx:i*ldx+dh], dx[i*ldx:i*ldx+dh]
		for e, v := range xi {
			di[e] = s * v
		}
	}
	kernels.SgemmSerial(false, false, tokens, dh, m, c, df, m, p.W.Data, dh, 1, dx, ldx)
}
