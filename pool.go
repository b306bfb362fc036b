package vit

import (
	"math/rand/v2"

	"github.com/vitgo/vit/nn"
)

// The end of the model (Eq. 4 and what the encoders put after it): the
// final LayerNorm and a pooling of the tokens into one [dim] vector, an
// optional pre-logits layer or projection into the features, and the
// head(s).
//
//	pool "cls":  LN(z⁰_L)                    (the paper's; DeiT adds LN(z¹_L) for its distillation head)
//	pool "gap":  mean over tokens of LN(z_L) (no class token)
//	pool "avg":  fc_norm(mean over patch tokens of z_L) (timm's global_pool "avg" with fc_norm; no final norm)
//	pool "map":  AttnPool(LN(z_L))           (SigLIP's multi-head attention pooling)

// newEncoder allocates the encoder modules c asks for (see Encoder), zeroed
// (LayerNorm weights 1, LayerScale 1).
func (m *Model) newEncoder() {
	c := m.Config
	d, eps := c.Dim, c.Eps()
	if c.DistToken {
		m.DistToken = nn.NewParam("dist_token", true, d)
	}
	if c.distHead() {
		m.HeadDist = nn.NewLinear("head_dist", c.FeatureDim(), c.Classes, true)
	}
	if c.Registers > 0 {
		m.RegTokens = nn.NewParam("reg_token", true, c.Registers, d)
	}
	if c.NormPre {
		m.NormPre = nn.NewLayerNorm("norm_pre", d, eps)
	}
	if c.Pool == "avg" {
		m.FCNorm = nn.NewLayerNorm("fc_norm", d, eps)
	} else {
		m.Norm = nn.NewLayerNorm("norm", d, eps)
	}
	if c.Pool == "map" {
		m.AttnPool = newAttentionPool("attn_pool", c)
	}
	if c.RepresentationSize > 0 {
		m.PreLogits = nn.NewLinear("pre_logits.fc", d, c.RepresentationSize, true)
	}
	if c.EmbedDim > 0 {
		m.Proj = nn.NewLinear("proj", d, c.EmbedDim, false)
	}
}

// initEncoder initialises the encoder modules' weights for training from
// scratch: the distillation token and the attention pool's probe normal
// with std 0.02, dense kernels Xavier uniform, biases and register tokens
// zero, the distillation head zero as the head.
func (m *Model) initEncoder(rng *rand.Rand) {
	if m.DistToken != nil {
		normal(rng, m.DistToken.Data, 0.02)
	}
	xavier := func(l *nn.Linear) { xavierUniform(rng, l.W.Data, l.In, l.Out) }
	if p := m.AttnPool; p != nil {
		normal(rng, p.Latent.Data, 0.02)
		for _, l := range []*nn.Linear{p.Q, p.KV, p.Proj, p.FC1, p.FC2} {
			xavier(l)
		}
	}
	for _, l := range []*nn.Linear{m.PreLogits, m.Proj} {
		if l != nil {
			xavier(l)
		}
	}
}

// replicaEncoder gives the replica r of m (see Replica) the encoder
// modules and the final norm and heads, sharing their weights.
func (m *Model) replicaEncoder(r *Model) {
	share := func(p *nn.Param) *nn.Param {
		if p == nil {
			return nil
		}
		return p.Share()
	}
	norm := func(ln *nn.LayerNorm) *nn.LayerNorm {
		if ln == nil {
			return nil
		}
		return ln.Replica()
	}
	lin := func(l *nn.Linear) *nn.Linear {
		if l == nil {
			return nil
		}
		return l.Replica()
	}
	r.DistToken, r.RegTokens = share(m.DistToken), share(m.RegTokens)
	r.NormPre, r.Norm, r.FCNorm = norm(m.NormPre), norm(m.Norm), norm(m.FCNorm)
	r.PreLogits, r.Proj, r.Head, r.HeadDist = lin(m.PreLogits), lin(m.Proj), lin(m.Head), lin(m.HeadDist)
	if m.AttnPool != nil {
		r.AttnPool = m.AttnPool.replica()
	}
}

// poolParams lists the tensors after the blocks but the final norm's, in
// a fixed order.
func (m *Model) poolParams() []*nn.Param {
	var ps []*nn.Param
	if m.FCNorm != nil {
		ps = append(ps, m.FCNorm.Params()...)
	}
	if m.AttnPool != nil {
		ps = append(ps, m.AttnPool.Params()...)
	}
	for _, l := range []*nn.Linear{m.PreLogits, m.Proj} {
		if l != nil {
			ps = append(ps, l.Params()...)
		}
	}
	return append(ps, m.heads()...)
}

// heads lists the classifiers' tensors: the head's and the distillation
// head's.
func (m *Model) heads() []*nn.Param {
	ps := m.Head.Params()
	if m.HeadDist != nil {
		ps = append(ps, m.HeadDist.Params()...)
	}
	return ps
}

// poolLinears lists the dense layers after the blocks.
func (m *Model) poolLinears() []*nn.Linear {
	var ls []*nn.Linear
	if p := m.AttnPool; p != nil {
		ls = append(ls, p.Q, p.KV, p.Proj, p.FC1, p.FC2)
	}
	for _, l := range []*nn.Linear{m.PreLogits, m.Proj, m.Head, m.HeadDist} {
		if l != nil {
			ls = append(ls, l)
		}
	}
	return ls
}

// pooledBuf is where the pooling writes its [batch, dim] vectors: the
// features themselves, or ws.enc.pooled when a pre-logits layer or a
// projection follows.
func (m *Model) pooledBuf(ws *Workspace) []float32 {
	if m.PreLogits == nil && m.Proj == nil {
		return ws.features
	}
	return ws.enc.pooled
}

// head computes Eq. 4 and what follows: the pooling, the features
// (ws.features: [batch, FeatureDim]) and the logits.
func (m *Model) head(ws *Workspace, batch int) {
	c := m.Config
	t, d, fd := c.Tokens(), c.Dim, c.FeatureDim()
	zL := ws.zIn(c.Depth)
	pooled := m.pooledBuf(ws)
	switch c.Pool {
	case "gap":
		m.Norm.Forward(ws.pooledOut, zL, ws.normMean, ws.normRstd, batch*t)
		meanRows(pooled, ws.pooledOut, batch, t, 0, d)
	case "avg":
		meanRows(ws.pooledIn, zL, batch, t, c.PrefixTokens(), d)
		m.FCNorm.Forward(pooled, ws.pooledIn, ws.normMean, ws.normRstd, batch)
	case "map":
		m.Norm.Forward(ws.pooledOut, zL, ws.normMean, ws.normRstd, batch*t)
		m.AttnPool.forward(ws, &ws.enc.attnPool, pooled, ws.pooledOut, batch, t)
	default: // "cls"
		if !ws.classOnly { // else the last block wrote pooledIn
			for b := range batch {
				copy(ws.pooledIn[b*d:(b+1)*d], zL[b*t*d:])
			}
		}
		m.Norm.Forward(pooled, ws.pooledIn, ws.normMean, ws.normRstd, batch)
		if m.HeadDist != nil {
			e := &ws.enc
			for b := range batch {
				copy(e.distIn[b*d:(b+1)*d], zL[(b*t+1)*d:])
			}
			m.Norm.Forward(e.distOut, e.distIn, e.distMean, e.distRstd, batch)
		}
	}
	switch {
	case m.PreLogits != nil:
		ws.linear(m.PreLogits, ws.features, pooled, batch)
		nn.Tanh(ws.features[:batch*fd], ws.features[:batch*fd])
	case m.Proj != nil:
		ws.linear(m.Proj, ws.features, pooled, batch)
	}
	ws.linear(m.Head, ws.logits, ws.features, batch)
	if m.HeadDist != nil {
		ld := ws.enc.logitsDist
		ws.linear(m.HeadDist, ld, ws.enc.distOut, batch)
		for i := range batch * c.Classes {
			ws.logits[i] = (ws.logits[i] + ld[i]) / 2
		}
	}
}

// meanRows writes into dst: [batch, d] the mean of rows [from, t) of each
// image's src: [batch, t, d].
func meanRows(dst, src []float32, batch, t, from, d int) {
	for b := range batch {
		f := dst[b*d : (b+1)*d]
		clear(f)
		for i := from; i < t; i++ {
			for j, v := range src[(b*t+i)*d : (b*t+i+1)*d] {
				f[j] += v
			}
		}
		for j := range f {
			f[j] /= float32(t - from)
		}
	}
}

// headBackward propagates dlogits back through head into g.dz = ∂L/∂z_L
// (and, with pool "cls", the class token's row of it into g.dpooled, which
// classBlockBackward reads). It reports false, after the heads' gradients,
// for a frozen body (a linear probe).
func (m *Model) headBackward(ws *Workspace, dlogits []float32, batch int) bool {
	c := m.Config
	g, e := ws.grads, &ws.enc
	t, d, fd := c.Tokens(), c.Dim, c.FeatureDim()
	n := batch * t
	dl := dlogits
	if m.HeadDist != nil {
		dl = e.dhalf[:batch*c.Classes]
		for i, v := range dlogits[:batch*c.Classes] {
			dl[i] = v / 2
		}
		var ddist []float32
		if !m.frozenBody {
			ddist = e.ddist
		}
		m.HeadDist.Backward(ddist, dl, e.distOut, batch)
	}
	m.Head.Backward(g.dfeatures, dl, ws.features, batch)
	if m.frozenBody {
		return false
	}
	dpooled := g.dfeatures[:batch*fd]
	switch {
	case m.PreLogits != nil:
		nn.TanhBackward(dpooled, dpooled, ws.features[:batch*fd])
		m.PreLogits.Backward(e.dpooled, dpooled, e.pooled, batch)
		dpooled = e.dpooled[:batch*d]
	case m.Proj != nil:
		m.Proj.Backward(e.dpooled, dpooled, e.pooled, batch)
		dpooled = e.dpooled[:batch*d]
	}
	dz := g.dz[:n*d]
	clear(dz)
	zL := ws.zIn(c.Depth)
	switch c.Pool {
	case "gap":
		dnorm := g.dpooled[:n*d]
		for b := range batch {
			f := dpooled[b*d : (b+1)*d]
			for i := range t {
				row := dnorm[(b*t+i)*d : (b*t+i+1)*d]
				for j, v := range f {
					row[j] = v / float32(t)
				}
			}
		}
		m.Norm.Backward(dz, dnorm, zL, ws.normMean, ws.normRstd, n)
	case "avg":
		dmean := g.dpooled[:batch*d]
		clear(dmean)
		m.FCNorm.Backward(dmean, dpooled, ws.pooledIn, ws.normMean, ws.normRstd, batch)
		pre := c.PrefixTokens()
		k := float32(t - pre)
		for b := range batch {
			f := dmean[b*d : (b+1)*d]
			for i := pre; i < t; i++ {
				row := dz[(b*t+i)*d : (b*t+i+1)*d]
				for j, v := range f {
					row[j] = v / k
				}
			}
		}
	case "map":
		dnorm := g.dpooled[:n*d]
		m.AttnPool.backward(&e.attnPool, dnorm, dpooled, ws.pooledOut, batch, t)
		m.Norm.Backward(dz, dnorm, zL, ws.normMean, ws.normRstd, n)
	default: // "cls"
		dcls := g.dpooled[:batch*d]
		clear(dcls)
		m.Norm.Backward(dcls, dpooled, ws.pooledIn, ws.normMean, ws.normRstd, batch)
		for b := range batch {
			copy(dz[b*t*d:], dcls[b*d:(b+1)*d])
		}
		if m.HeadDist != nil {
			dd := e.ddistIn
			clear(dd)
			m.Norm.Backward(dd, e.ddist, e.distIn, e.distMean, e.distRstd, batch)
			for b := range batch {
				copy(dz[(b*t+1)*d:], dd[b*d:(b+1)*d])
			}
		}
	}
	return true
}
