package vit

import (
	"fmt"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// Forward runs the model on batch images x: [batch, channels, height,
// width] and returns the logits: [batch, classes], a slice of ws valid until
// ws is used again. The equations are those of the paper's Section 3.1:
//
//	z₀ = [x_class; x¹_p·E; …; xᴺ_p·E] + E_pos                (1)
//	z'ₗ = MSA(LN(zₗ₋₁)) + zₗ₋₁                                (2)
//	zₗ = MLP(LN(z'ₗ)) + z'ₗ                                    (3)
//	y = LN(z⁰_L), then the head                                (4)
//
// With a training workspace, dropout and stochastic depth are active and
// everything Backward needs is kept. Since (4) reads only the class token
// z⁰_L, the last block computes (2) and (3) for it alone when nothing else
// of its output is read (see classBlock).
func (m *Model) Forward(ws *Workspace, x []float32, batch int) ([]float32, error) {
	c := m.Config
	if batch > ws.batch {
		return nil, fmt.Errorf("vit: batch of %d images in a workspace sized for %d", batch, ws.batch)
	}
	if want := batch * c.Channels * c.ImageHeight * c.ImageWidth; len(x) < want {
		return nil, fmt.Errorf("vit: %d input values for %d images of %d×%d×%d", len(x), batch, c.Channels, c.ImageHeight, c.ImageWidth)
	}
	m.embed(ws, x, batch) // (1)
	ws.classOnly = m.classOnly(ws)
	for l, b := range m.Blocks {
		if ws.classOnly && l == c.Depth-1 {
			m.classBlock(ws, l, b, batch) // (2), (3) for the class token
			break
		}
		m.block(ws, l, b, batch) // (2), (3)
	}
	m.head(ws, batch) // (4)
	return ws.logits[:batch*c.Classes], nil
}

// embed computes z₀ (Eq. 1): the class token, the distillation token, the
// register tokens and the patch embeddings, plus the position embeddings
// (addPositions: none for the register tokens); then dropout and, with
// NormPre, CLIP's LayerNorm.
func (m *Model) embed(ws *Workspace, x []float32, batch int) {
	c := m.Config
	np, d, t := c.NumPatches(), c.Dim, c.Tokens()
	ws.linear(m.PatchEmbed, ws.embed, m.patches(ws, x, batch), batch*np) // x_p·E
	z0 := ws.z[0]
	if m.NormPre != nil {
		z0 = ws.enc.preIn
	}
	pp, pre := c.posPrefix(), c.PrefixTokens()
	for b := range batch {
		zb := z0[b*t*d : (b+1)*t*d]
		k := 0
		for _, tok := range []*nn.Param{m.ClassToken, m.DistToken} {
			if tok != nil {
				copy(zb[k*d:(k+1)*d], tok.Data)
				k++
			}
		}
		if m.RegTokens != nil {
			copy(zb[pp*d:pre*d], m.RegTokens.Data)
		}
		copy(zb[pre*d:], ws.embed[b*np*d:(b+1)*np*d])
	}
	m.addPositions(ws, z0[:batch*t*d], batch)
	if ws.embedMask != nil {
		nn.DropoutMask(ws.embedMask[:batch*t*d], c.Dropout, ws.rng)
		nn.Mul(z0[:batch*t*d], ws.embedMask)
	}
	if m.NormPre != nil {
		m.NormPre.Forward(ws.z[0], z0, ws.enc.preMean, ws.enc.preRstd, batch*t)
	}
}

// patches returns the x_p of Eq. 1, [batch, patches, channels·patch·patch]:
// cut from the images x, or in a hybrid from the feature map of the stem's
// convolutions (each with its LayerNorm, if any, and GELU), which it runs
// first.
func (m *Model) patches(ws *Workspace, x []float32, batch int) []float32 {
	c := m.Config
	if len(m.Stem) == 0 {
		Patchify(ws.patches, x, batch, c.Channels, c.ImageHeight, c.ImageWidth, c.Patch)
		return ws.patches
	}
	in, nchw := x, true // the image is channels-first, feature maps channels-last
	for i, sl := range m.Stem {
		s := &ws.stem[i]
		rows := batch * s.oh * s.ow
		size := rows * sl.Conv.Out
		sl.Conv.Im2Col(s.cols, in, batch, s.h, s.w, nchw)
		ws.linear(sl.Conv.Dense, s.conv, s.cols, rows)
		if sl.Norm != nil {
			var mean, rstd []float32 // nil at inference
			if ws.train {
				mean, rstd = s.mean, s.rstd
			}
			sl.Norm.Forward(s.normed[:size], s.conv[:size], mean, rstd, rows)
		}
		nn.GELU(s.act[:size], s.normed[:size])
		in, nchw = s.act, false
	}
	if c.Patch == 1 {
		return in
	}
	last := ws.stem[len(ws.stem)-1]
	PatchifyNHWC(ws.patches, in, batch, last.oh, last.ow, c.FeatureChannels(), c.Patch)
	return ws.patches
}

// acts returns the activations of block l (shared at inference).
func (ws *Workspace) acts(l int) *blockActs {
	if ws.train {
		return &ws.blocks[l]
	}
	return &ws.blocks[0]
}

// linear applies a dense layer: through its packed weights at inference
// (when PackWeights made them), from its float32 weights in training.
func (ws *Workspace) linear(l *nn.Linear, y, x []float32, n int) {
	if ws.train {
		l.Forward(y, x, n)
		return
	}
	l.Infer(y, x, n)
}

// linearAct is linear followed by act = f(y), f the activation kind
// (nn.Activate), fused.
func (ws *Workspace) linearAct(l *nn.Linear, kind string, act, y, x []float32, n int) {
	if ws.train {
		l.ForwardAct(kind, act, y, x, n)
		return
	}
	l.InferAct(kind, act, y, x, n)
}

// linearResidual is linear followed by the residual connection of Eq. 2
// and 3: y = l(x)⊙mask·keep + skip (see residual). Without dropout or
// stochastic depth the sum is fused into the product.
func (ws *Workspace) linearResidual(l *nn.Linear, y, x, skip, mask, keep []float32, batch, tokens int) {
	n := batch * tokens
	if mask != nil || keep != nil {
		ws.linear(l, y, x, n)
		residual(y, skip, mask, keep, batch, tokens*l.Out)
		return
	}
	if ws.train {
		l.ForwardResidual(y, x, skip, n)
		return
	}
	l.InferResidual(y, x, skip, n)
}

// zIn and zOut are the residual stream before and after block l.
func (ws *Workspace) zIn(l int) []float32  { return ws.z[l%len(ws.z)] }
func (ws *Workspace) zOut(l int) []float32 { return ws.z[(l+1)%len(ws.z)] }

// block runs encoder block l: Eq. 2 then Eq. 3.
func (m *Model) block(ws *Workspace, l int, b *Block, batch int) {
	c := m.Config
	t, d := c.Tokens(), c.Dim
	n := batch * t
	a := ws.acts(l)
	zIn, zOut := ws.zIn(l), ws.zOut(l)
	m.dropMasks(ws, a, l, batch)

	// (2) z'ₗ = MSA(LN(zₗ₋₁)) + zₗ₋₁
	b.Norm1.Forward(a.ln1, zIn, a.mean1, a.rstd1, n)
	ws.linear(b.QKV, a.qkv, a.ln1, n)
	if ws.captureQKV != nil {
		ws.captureQKV(l, a.qkv[:n*3*d])
	}
	probs := a.probs
	if ws.capture != nil && probs == nil {
		// Inference with attention maps requested: materialise them.
		if len(ws.captured) < batch*c.Heads*t*t {
			ws.captured = make([]float32, batch*c.Heads*t*t)
		}
		probs = ws.captured
	}
	if b.Performer != nil {
		b.Performer.Forward(a.attn, a.perf, a.qkv, batch, t)
	} else {
		m.attention(ws, b).Forward(a.attn, probs, a.dropped, a.attnMask, a.qkv, batch, t)
	}
	if ws.capture != nil && b.Performer == nil {
		ws.capture(l, probs[:batch*c.Heads*t*t])
	}
	ws.branchOut(b.Proj, b.LS1, a.mid, a.projOut, a.attn, zIn, a.projMask, a.keepAttn, batch, t)

	// (3) zₗ = MLP(LN(z'ₗ)) + z'ₗ
	b.Norm2.Forward(a.ln2, a.mid, a.mean2, a.rstd2, n)
	ws.mlpIn(b.FC1, b.Act, b.SwiGLU, a.act, a.hidden, a.ln2, n)
	if a.fc1Mask != nil {
		nn.Mul(a.act[:n*c.MLPDim], a.fc1Mask)
	}
	ws.branchOut(b.FC2, b.LS2, zOut, a.fc2Out, a.act, a.mid, a.fc2Mask, a.keepMLP, batch, t)
}

// attention returns block b's attention core, with its relative position
// biases, if any, written into ws.
func (m *Model) attention(ws *Workspace, b *Block) nn.Attention {
	a := b.Attn
	if b.RelPos != nil {
		b.RelPos.Bias(ws.relBias)
		a.Bias = ws.relBias
	}
	return a
}

// classShortcut lets the last block compute the class token's row alone
// when nothing else of its output is read (see classOnly). Tests and
// benchmarks turn it off to compare.
var classShortcut = true

// classOnly reports whether the last block may compute the class token's
// row alone (classBlock): the head reads nothing else of its output when
// it classifies from the class token, unless attention maps or inputs are
// being captured, or dropout inside the block needs masks over every
// token.
func (m *Model) classOnly(ws *Workspace) bool {
	c := m.Config
	l := c.Depth - 1
	a := ws.acts(l)
	return classShortcut && c.classShortcutBuffers() && m.Blocks[l].Performer == nil && m.Blocks[l].RelPos == nil &&
		ws.capture == nil && ws.captureGrad == nil && ws.captureQKV == nil &&
		a.attnMask == nil && a.projMask == nil
}

// classBlock is block for the last block when only the class token's
// output is needed: every token's keys and values, but only the class
// token's query, attention, projection and MLP. In a small ViT (50 tokens)
// this skips about five sixths of the block's work. It writes the class
// token's z_L: [batch, dim] into ws.pooledIn, the final norm's input.
func (m *Model) classBlock(ws *Workspace, l int, b *Block, batch int) {
	c := m.Config
	t, d := c.Tokens(), c.Dim
	n := batch * t
	a := ws.acts(l)
	zIn := ws.zIn(l)
	m.dropMasks(ws, a, l, batch)

	// (2) z'ₗ = MSA(LN(zₗ₋₁)) + zₗ₋₁: keys and values of every token, the
	// query of the class token only.
	b.Norm1.Forward(a.ln1, zIn, a.mean1, a.rstd1, n)
	if ws.train {
		b.QKV.ForwardOutputs(a.qkv[d:], 3*d, a.ln1, d, n, d, 3*d)
		b.QKV.ForwardOutputs(a.qkv, t*3*d, a.ln1, t*d, batch, 0, d)
	} else {
		ws.linear(b.QKV, a.qkv, a.ln1, n) // through the packed weights, all of it
	}
	b.Attn.ForwardClass(a.attn, ws.classProbs, a.qkv, batch, t)
	for i := range batch {
		copy(ws.classIn[i*d:(i+1)*d], zIn[i*t*d:])
	}
	ws.branchOut(b.Proj, b.LS1, a.mid, a.projOut, a.attn, ws.classIn, nil, a.keepAttn, batch, 1)

	// (3) zₗ = MLP(LN(z'ₗ)) + z'ₗ, for the class token.
	b.Norm2.Forward(a.ln2, a.mid, a.mean2, a.rstd2, batch)
	ws.mlpIn(b.FC1, b.Act, b.SwiGLU, a.act, a.hidden, a.ln2, batch)
	ws.branchOut(b.FC2, b.LS2, ws.pooledIn, a.fc2Out, a.act, a.mid, nil, a.keepMLP, batch, 1)
}

// residual turns a branch output into branch⊙mask·keep + skip, in place in
// branch: [batch, per]. mask (dropout, [batch, per]) and keep (stochastic
// depth, [batch]) may be nil.
func residual(branch, skip, mask, keep []float32, batch, per int) {
	if mask == nil && keep == nil {
		// No dropout or stochastic depth (inference, say): a plain sum,
		// split over elements so that even batch 1 uses every core.
		n := batch * per
		kernels.ParallelFor(n, 1<<14, func(lo, hi int) { kernels.AddTo(branch[lo:hi], skip[lo:hi]) })
		return
	}
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			br, sk := branch[b*per:(b+1)*per], skip[b*per:(b+1)*per]
			if mask != nil {
				nn.Mul(br, mask[b*per:(b+1)*per])
			}
			if keep != nil {
				k := keep[b]
				for i := range br {
					br[i] *= k
				}
			}
			for i, v := range sk {
				br[i] += v
			}
		}
	})
}

// dropMasks draws block l's dropout and stochastic-depth masks for a
// training step; at inference there are none.
func (m *Model) dropMasks(ws *Workspace, a *blockActs, l, batch int) {
	if !ws.train {
		return
	}
	c := m.Config
	t, d, h := c.Tokens(), c.Dim, c.Heads
	n := batch * t
	if a.attnMask != nil {
		nn.DropoutMask(a.attnMask[:batch*h*t*t], c.AttentionDropout, ws.rng)
	}
	if a.projMask != nil {
		nn.DropoutMask(a.projMask[:n*d], c.Dropout, ws.rng)
		nn.DropoutMask(a.fc2Mask[:n*d], c.Dropout, ws.rng)
		nn.DropoutMask(a.fc1Mask[:n*c.MLPDim], c.Dropout, ws.rng)
	}
	if a.keepAttn != nil {
		rate := c.DropPath
		if c.Depth > 1 {
			rate *= float32(l) / float32(c.Depth-1)
		}
		if rate == 0 {
			fill(a.keepAttn[:batch], 1)
			fill(a.keepMLP[:batch], 1)
		} else {
			nn.DropoutMask(a.keepAttn[:batch], rate, ws.rng)
			nn.DropoutMask(a.keepMLP[:batch], rate, ws.rng)
		}
	}
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

// Patchify cuts images x: [batch, channels, height, width] into flattened
// patches: [batch, (height/p)·(width/p), channels·p·p], patches in row-major
// grid order and each flattened as (channel, row, column): the layout that
// makes a Linear with W: [dim, channels·p·p] equal to a convolution with
// kernel = stride = p and weight [dim, channels, p, p].
func Patchify(patches, x []float32, batch, channels, height, width, p int) {
	gh, gw := height/p, width/p
	ps := channels * p * p
	for b := range batch {
		img := x[b*channels*height*width:]
		for gy := range gh {
			for gx := range gw {
				dst := patches[((b*gh+gy)*gw+gx)*ps:]
				for ch := range channels {
					for py := range p {
						src := img[(ch*height+gy*p+py)*width+gx*p:]
						copy(dst[(ch*p+py)*p:(ch*p+py+1)*p], src[:p])
					}
				}
			}
		}
	}
}

// PatchifyNHWC is Patchify for channels-last feature maps x: [batch,
// height, width, channels]; each patch is flattened in the same (channel,
// row, column) order.
func PatchifyNHWC(patches, x []float32, batch, height, width, channels, p int) {
	gh, gw := height/p, width/p
	ps := channels * p * p
	for b := range batch {
		for gy := range gh {
			for gx := range gw {
				dst := patches[((b*gh+gy)*gw+gx)*ps:][:ps]
				for py := range p {
					for px := range p {
						src := x[((b*height+gy*p+py)*width+gx*p+px)*channels:][:channels]
						for ch, v := range src {
							dst[(ch*p+py)*p+px] = v
						}
					}
				}
			}
		}
	}
}

// unpatchifyNHWC is PatchifyNHWC's inverse: it writes the patches back
// into the channels-last map x.
func unpatchifyNHWC(x, patches []float32, batch, height, width, channels, p int) {
	gh, gw := height/p, width/p
	ps := channels * p * p
	for b := range batch {
		for gy := range gh {
			for gx := range gw {
				src := patches[((b*gh+gy)*gw+gx)*ps:][:ps]
				for py := range p {
					for px := range p {
						dst := x[((b*height+gy*p+py)*width+gx*p+px)*channels:][:channels]
						for ch := range dst {
							dst[ch] = src[(ch*p+py)*p+px]
						}
					}
				}
			}
		}
	}
}
