package vit

import (
	"math"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// AttentionPool is SigLIP's multi-head attention pooling ("MAP" head;
// timm's AttentionPoolLatent, Hugging Face's
// SiglipMultiheadAttentionPoolingHead): a learned probe attends over the
// normalised tokens, then a residual MLP:
//
//	a = Proj(MHA(q = Q(probe), k, v = KV(x)))
//	y = a + FC2(act(FC1(LN(a))))
//
// Tensor names follow timm (attn_pool.latent, .q, .kv, .proj, .norm,
// .mlp.fc1, .mlp.fc2).
type AttentionPool struct {
	Latent   *nn.Param     // the probe: [dim]
	Q        *nn.Linear    // [dim, dim]
	KV       *nn.Linear    // [2·dim, dim]: keys then values, each [heads, dh]
	Proj     *nn.Linear    // [dim, dim]
	Norm     *nn.LayerNorm // before the MLP
	FC1, FC2 *nn.Linear    // [mlp, dim], [dim, mlp]
	Heads    int
	Act      string // the MLP's activation (Config.Act)
}

// poolActs are an AttentionPool's activations for a batch.
type poolActs struct {
	q          []float32 // [dim]: Q(probe), the same for every image
	kv         []float32 // [batch·tokens, 2·dim]
	probs      []float32 // [batch, heads, tokens]
	o, a, ln   []float32 // [batch, dim]: attention output, projection, its LayerNorm
	mean, rstd []float32 // [batch] (training)
	hidden     []float32 // [batch, mlp] before and after the activation
	act        []float32

	// Training only: gradients.
	dkv     []float32 // [batch·tokens, 2·dim]
	dq      []float32 // [dim]
	dlatent []float32 // [dim]
	do, da  []float32 // [batch, dim]
	dln     []float32 // [batch, dim]
	dh      []float32 // [batch, mlp]
	ds      []float32 // [tokens]: one head's attention-score gradient
}

func newAttentionPool(name string, c Config) *AttentionPool {
	d := c.Dim
	return &AttentionPool{
		Latent: nn.NewParam(name+".latent", true, d),
		Q:      nn.NewLinear(name+".q", d, d, true),
		KV:     nn.NewLinear(name+".kv", d, 2*d, true),
		Proj:   nn.NewLinear(name+".proj", d, d, true),
		Norm:   nn.NewLayerNorm(name+".norm", d, c.Eps()),
		FC1:    nn.NewLinear(name+".mlp.fc1", d, c.MLPDim, true),
		FC2:    nn.NewLinear(name+".mlp.fc2", c.MLPDim, d, true),
		Heads:  c.Heads,
		Act:    c.Act,
	}
}

// poolActsElems counts the values newPoolActs allocates.
func poolActsElems(c Config, batch, tokens float64, train bool) float64 {
	d, mlp := float64(c.Dim), float64(c.MLPDim)
	n := d + batch*tokens*2*d + batch*float64(c.Heads)*tokens + 3*batch*d + 2*batch*mlp
	if train {
		n += 2*batch + batch*tokens*2*d + 2*d + 3*batch*d + batch*mlp + tokens
	}
	return n
}

func newPoolActs(c Config, batch, tokens int, train bool) poolActs {
	d, mlp := c.Dim, c.MLPDim
	f := func(k int) []float32 { return make([]float32, k) }
	a := poolActs{q: f(d), kv: f(batch * tokens * 2 * d), probs: f(batch * c.Heads * tokens),
		o: f(batch * d), a: f(batch * d), ln: f(batch * d), hidden: f(batch * mlp), act: f(batch * mlp)}
	if train {
		a.mean, a.rstd = f(batch), f(batch)
		a.dkv, a.dq, a.dlatent = f(batch*tokens*2*d), f(d), f(d)
		a.do, a.da, a.dln, a.dh, a.ds = f(batch*d), f(batch*d), f(batch*d), f(batch*mlp), f(tokens)
	}
	return a
}

func (a *poolActs) slices() [][]float32 {
	return [][]float32{a.q, a.kv, a.probs, a.o, a.a, a.ln, a.mean, a.rstd, a.hidden, a.act,
		a.dkv, a.dq, a.dlatent, a.do, a.da, a.dln, a.dh, a.ds}
}

// Params lists the pool's tensors.
func (p *AttentionPool) Params() []*nn.Param {
	ps := []*nn.Param{p.Latent}
	for _, l := range [][]*nn.Param{p.Q.Params(), p.KV.Params(), p.Proj.Params(), p.Norm.Params(), p.FC1.Params(), p.FC2.Params()} {
		ps = append(ps, l...)
	}
	return ps
}

func (p *AttentionPool) replica() *AttentionPool {
	return &AttentionPool{Latent: p.Latent.Share(), Q: p.Q.Replica(), KV: p.KV.Replica(), Proj: p.Proj.Replica(),
		Norm: p.Norm.Replica(), FC1: p.FC1.Replica(), FC2: p.FC2.Replica(), Heads: p.Heads, Act: p.Act}
}

// forward pools x: [batch, tokens, dim] into out: [batch, dim].
func (p *AttentionPool) forward(ws *Workspace, a *poolActs, out, x []float32, batch, tokens int) {
	d, h := p.Q.Out, p.Heads
	dh := d / h
	scale := float32(1 / math.Sqrt(float64(dh)))
	ws.linear(p.Q, a.q, p.Latent.Data, 1)
	ws.linear(p.KV, a.kv, x, batch*tokens)
	kernels.ParallelFor(batch*h, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, hd := bh/h, bh%h
			q := a.q[hd*dh : (hd+1)*dh]
			pr := a.probs[bh*tokens : (bh+1)*tokens]
			mx := float32(math.Inf(-1))
			for j := range tokens {
				k := a.kv[(b*tokens+j)*2*d+hd*dh:][:dh]
				var s float32
				for i, v := range q {
					s += v * k[i]
				}
				pr[j] = s * scale
				mx = max(mx, pr[j])
			}
			var z float64
			for j, v := range pr {
				e := math.Exp(float64(v - mx))
				pr[j] = float32(e)
				z += e
			}
			o := a.o[b*d+hd*dh:][:dh]
			clear(o)
			for j := range pr {
				pr[j] = float32(float64(pr[j]) / z)
				v := a.kv[(b*tokens+j)*2*d+d+hd*dh:][:dh]
				for i, x := range v {
					o[i] += pr[j] * x
				}
			}
		}
	})
	ws.linear(p.Proj, a.a, a.o, batch)
	var mean, rstd []float32
	if ws.train {
		mean, rstd = a.mean, a.rstd
	}
	p.Norm.Forward(a.ln, a.a, mean, rstd, batch)
	ws.mlpIn(p.FC1, p.Act, false, a.act, a.hidden, a.ln, batch)
	ws.linearResidual(p.FC2, out, a.act, a.a, nil, nil, batch, 1)
}

// backward takes dout: [batch, dim], the gradient of forward's output, and
// writes the gradient of its input into dx: [batch, tokens, dim]
// (overwriting), adding every tensor's gradient.
func (p *AttentionPool) backward(a *poolActs, dx, dout, x []float32, batch, tokens int) {
	d, h := p.Q.Out, p.Heads
	dh := d / h
	scale := float32(1 / math.Sqrt(float64(dh)))
	dhid := mlpBackward(p.FC1, p.FC2, p.Act, false, a.dh, nil, dout, a.act, a.hidden, nil, batch)
	p.FC1.Backward(a.dln, dhid, a.ln, batch)
	copy(a.da, dout[:batch*d])
	p.Norm.Backward(a.da, a.dln, a.a, a.mean, a.rstd, batch)
	p.Proj.Backward(a.do, a.da, a.o, batch)
	clear(a.dkv)
	clear(a.dq)
	// Serial over images and heads: dq sums over all of them.
	for b := range batch {
		for hd := range h {
			bh := b*h + hd
			q := a.q[hd*dh : (hd+1)*dh]
			dq := a.dq[hd*dh : (hd+1)*dh]
			pr := a.probs[bh*tokens : (bh+1)*tokens]
			do := a.do[b*d+hd*dh:][:dh]
			var sum float32
			ds := a.ds[:tokens]
			for j, pj := range pr {
				v := a.kv[(b*tokens+j)*2*d+d+hd*dh:][:dh]
				dv := a.dkv[(b*tokens+j)*2*d+d+hd*dh:][:dh]
				var dp float32
				for i, g := range do {
					dp += g * v[i]
					dv[i] += pj * g
				}
				ds[j] = dp
				sum += pj * dp
			}
			for j, pj := range pr {
				g := pj * (ds[j] - sum) * scale
				k := a.kv[(b*tokens+j)*2*d+hd*dh:][:dh]
				dk := a.dkv[(b*tokens+j)*2*d+hd*dh:][:dh]
				for i := range dh {
					dq[i] += g * k[i]
					dk[i] += g * q[i]
				}
			}
		}
	}
	p.KV.Backward(dx, a.dkv, x, batch*tokens)
	p.Q.Backward(a.dlatent, a.dq, p.Latent.Data, 1)
	if !p.Latent.Frozen {
		for i, v := range a.dlatent {
			p.Latent.Grad[i] += v
		}
	}
}
