package vit

import (
	"math/rand/v2"

	"github.com/vitgo/vit/nn"
)

// Workspace holds the activations of one batch: what Backward needs from
// Forward in training, or the scratch of one call at inference. It is sized
// once for a batch size and reused, so a steady training loop allocates
// nothing. A Workspace belongs to one goroutine at a time.
type Workspace struct {
	batch, tokens int
	train         bool

	stem               []stemActs  // a hybrid's stem, one per convolution
	patches            []float32   // [batch, patches, channels·patch·patch]; nil in a hybrid with patch 1
	embed              []float32   // [batch, patches, dim] patch embeddings x_p·E
	z                  [][]float32 // residual stream z_0 … z_L: [batch, tokens, dim]; two alternating at inference
	blocks             []blockActs // one per block in training; one shared at inference
	pooledIn           []float32   // final-norm input rows: [batch, dim] (cls) or [batch, tokens, dim] (gap)
	pooledOut          []float32   // final-norm output, same shape
	normMean, normRstd []float32
	features           []float32 // [batch, FeatureDim]: pre-head representation
	logits             []float32 // [batch, classes]
	enc                encoderActs

	// The last block when it computes the class token alone (classBlock).
	classOnly  bool      // the last Forward did
	classIn    []float32 // [batch, dim]: the class token's row of its input
	classProbs []float32 // [batch, heads, tokens]: the class token's attention

	relBias []float32 // [heads, tokens, tokens]: the block's relative position biases (PosEmbed "relative")

	// Training only.
	embedMask []float32 // dropout after the position embedding: [batch, tokens, dim]
	pcg       *rand.PCG
	rng       *rand.Rand
	grads     *backwardBuffers

	// capture, when set, receives each block's attention probabilities;
	// captureGrad their gradients during Backward.
	capture     func(layer int, probs []float32)
	captureGrad func(layer int, dprobs []float32)
	captureQKV  func(layer int, qkv []float32)
	captured    []float32 // inference attention maps, allocated when capture asks

	// inputGrad, when set (in a training workspace, by the gradient
	// checks), receives ∂L/∂x: [batch, channels, height, width] from
	// Backward. inputScratch (the gradient of the patches, or a hybrid's
	// channels-last image) and inputCols (of the first stem convolution's
	// im2col patches) are allocated on the first such Backward.
	inputGrad, inputScratch, inputCols []float32
}

// blockActs are one block's saved activations. Shapes use n = batch·tokens.
type blockActs struct {
	ln1, ln2          []float32         // [n, dim] LayerNorm outputs
	mean1, rstd1      []float32         // [n]
	mean2, rstd2      []float32         // [n]
	qkv               []float32         // [n, 3·dim]
	probs             []float32         // [batch, heads, tokens, tokens]
	attn              []float32         // [n, dim] heads concatenated
	mid               []float32         // [n, dim] z'_l of Eq. 2
	hidden, act       []float32         // [n, mlp] before and after GELU ([n, 2·mlp] and [n, mlp] with SwiGLU)
	projOut, fc2Out   []float32         // [n, dim] the branches' outputs before LayerScale (nil without)
	attnMask, dropped []float32         // attention dropout: [batch, heads, tokens, tokens]
	projMask, fc2Mask []float32         // dropout after the two branch outputs: [n, dim]
	fc1Mask           []float32         // dropout after GELU: [n, mlp]
	keepAttn, keepMLP []float32         // stochastic depth: [batch], 0 or 1/keep
	perf              *nn.PerformerActs // Performer attention's saved state
}

// stemActs are one stem convolution's activations, channels-last, with
// rows = batch·oh·ow output positions.
type stemActs struct {
	h, w, oh, ow int       // input and output size
	cols         []float32 // [rows, in·kernel·kernel] im2col patches
	conv         []float32 // [rows, out] the convolution's output
	normed       []float32 // [rows, out] after the LayerNorm, if any (else conv)
	mean, rstd   []float32 // [rows] the LayerNorm's statistics (training)
	act          []float32 // [rows, out] after GELU (normed itself at inference)
}

// backwardBuffers are gradients flowing back through the blocks; one set serves all.
type backwardBuffers struct {
	dz, dmid, dbranch, dln, dattn []float32 // [n, dim]
	dqkv                          []float32 // [n, 3·dim]
	dhidden                       []float32 // [n, mlp] ([n, 2·mlp] with SwiGLU)
	dact                          []float32 // [n, mlp] with SwiGLU
	dprobs                        []float32 // [batch, heads, tokens, tokens]
	dfeatures, dpooled            []float32
	dembed                        []float32   // [batch, patches, dim]
	dstem                         [][]float32 // a hybrid's stem: like stemActs.act
	dcols                         []float32   // the largest stemActs.cols but the first's
	dconv                         []float32   // the largest stemActs.conv (stems with a LayerNorm)
	dpatches                      []float32   // [batch, patches, channels·patch·patch] (hybrid, patch > 1)
	dprobsOut                     []float32   // allocated on demand for captureGrad
}

// NewWorkspace sizes a workspace for batches of up to batch images. With
// train set it keeps every block's activations for Backward (see
// Workspace.Bytes for how much memory that takes).
func (m *Model) NewWorkspace(batch int, train bool) *Workspace {
	c := m.Config
	t, d, h, mlp := c.Tokens(), c.Dim, c.Heads, c.MLPDim
	n := batch * t
	f := func(k int) []float32 { return make([]float32, k) }
	maybe := func(rate float32, k int) []float32 {
		if train && rate > 0 {
			return f(k)
		}
		return nil
	}
	ws := &Workspace{batch: batch, tokens: t, train: train,
		patches:  f(batch * c.NumPatches() * c.PatchSize()),
		embed:    f(batch * c.NumPatches() * d),
		features: f(batch * c.FeatureDim()), logits: f(batch * c.Classes),
	}
	ws.enc = m.newEncoderActs(batch, train)
	if len(c.Stem) > 0 {
		m.newStemActs(ws, batch, train)
	}
	pooledRows := c.pooledRows(batch)
	ws.pooledIn, ws.pooledOut = f(pooledRows*d), f(pooledRows*d)
	if c.classShortcutBuffers() {
		ws.classIn, ws.classProbs = f(batch*d), f(batch*h*t)
	}
	if c.Relative() {
		ws.relBias = f(h * t * t)
	}
	ws.normMean, ws.normRstd = f(pooledRows), f(pooledRows)
	nz, nb := 2, 1
	if train {
		nz, nb = c.Depth+1, c.Depth
	}
	for range nz {
		ws.z = append(ws.z, f(n*d))
	}
	probs := func(k int) []float32 { // attention matrices: only for training softmax attention
		if c.Performer() || !train {
			return nil
		}
		return f(k)
	}
	for range nb {
		a := blockActs{
			ln1: f(n * d), ln2: f(n * d), qkv: f(n * 3 * d), probs: probs(batch * h * t * t),
			attn: f(n * d), mid: f(n * d), hidden: f(n * c.hiddenOut()), act: f(n * mlp),
			attnMask: maybe(c.AttentionDropout, batch*h*t*t), dropped: maybe(c.AttentionDropout, batch*h*t*t),
			projMask: maybe(c.Dropout, n*d), fc2Mask: maybe(c.Dropout, n*d), fc1Mask: maybe(c.Dropout, n*mlp),
			keepAttn: maybe(c.DropPath, batch), keepMLP: maybe(c.DropPath, batch),
		}
		if train {
			a.mean1, a.rstd1, a.mean2, a.rstd2 = f(n), f(n), f(n), f(n)
		}
		if c.LayerScale {
			a.projOut, a.fc2Out = f(n*d), f(n*d)
		}
		if c.Performer() {
			a.perf = m.Blocks[0].Performer.NewActs(batch, t)
			a.attnMask, a.dropped = nil, nil // attention dropout has no FAVOR+ counterpart
		}
		ws.blocks = append(ws.blocks, a)
	}
	if train {
		ws.embedMask = maybe(c.Dropout, n*d)
		ws.pcg = rand.NewPCG(0, 0)
		ws.rng = rand.New(ws.pcg)
		ws.grads = &backwardBuffers{
			dz: f(n * d), dmid: f(n * d), dbranch: f(n * d), dln: f(n * d), dattn: f(n * d),
			dqkv: f(n * 3 * d), dhidden: f(n * c.hiddenOut()), dprobs: probs(batch * h * t * t),
			dfeatures: f(batch * c.FeatureDim()), dpooled: f(pooledRows * d), dembed: f(batch * c.NumPatches() * d),
		}
		if c.FFN == "swiglu" {
			ws.grads.dact = f(n * mlp)
		}
		for i, s := range ws.stem {
			ws.grads.dstem = append(ws.grads.dstem, f(len(s.act)))
			if i > 0 && len(s.cols) > len(ws.grads.dcols) {
				ws.grads.dcols = f(len(s.cols))
			}
			if m.Stem[i].Norm != nil && len(s.conv) > len(ws.grads.dconv) {
				ws.grads.dconv = f(len(s.conv))
			}
		}
		if len(ws.stem) > 0 && c.Patch > 1 {
			ws.grads.dpatches = f(len(ws.patches))
		}
	}
	return ws
}

// newStemActs sizes a hybrid's stem activations. At inference GELU works
// in place, and with 1×1 patches the last feature map is the patches.
func (m *Model) newStemActs(ws *Workspace, batch int, train bool) {
	h, w := m.Config.ImageHeight, m.Config.ImageWidth
	f := func(k int) []float32 { return make([]float32, k) }
	for _, sl := range m.Stem {
		conv := sl.Conv
		oh, ow := conv.OutSize(h, w)
		rows := batch * oh * ow
		s := stemActs{h: h, w: w, oh: oh, ow: ow, cols: f(rows * conv.ColSize()), conv: f(rows * conv.Out)}
		s.normed = s.conv
		if sl.Norm != nil {
			s.normed = f(rows * conv.Out)
			if train {
				s.mean, s.rstd = f(rows), f(rows)
			}
		}
		s.act = s.normed
		if train {
			s.act = f(rows * conv.Out)
		}
		ws.stem = append(ws.stem, s)
		h, w = oh, ow
	}
	if m.Config.Patch == 1 {
		ws.patches = nil
	}
}

// Seed sets the random stream of dropout and stochastic depth for the next
// Forward; the trainer derives it from the run's seed and step, so a resumed
// run draws the same masks.
func (ws *Workspace) Seed(seed, step uint64) {
	if ws.pcg != nil {
		ws.pcg.Seed(seed, step)
	}
}

// Batch is the largest batch the workspace takes.
func (ws *Workspace) Batch() int { return ws.batch }

// Bytes is the memory the workspace holds, in bytes.
func (ws *Workspace) Bytes() int64 {
	var n int
	add := func(xs ...[]float32) {
		for _, x := range xs {
			n += len(x)
		}
	}
	add(ws.patches, ws.embed, ws.pooledIn, ws.pooledOut, ws.normMean, ws.normRstd, ws.features, ws.logits, ws.embedMask,
		ws.classIn, ws.classProbs, ws.inputScratch, ws.inputCols, ws.relBias)
	add(ws.enc.slices()...)
	add(ws.z...)
	for _, s := range ws.stem {
		add(s.cols, s.conv, s.mean, s.rstd)
		if &s.normed[0] != &s.conv[0] {
			add(s.normed)
		}
		if &s.act[0] != &s.normed[0] {
			add(s.act)
		}
	}
	for _, a := range ws.blocks {
		add(a.ln1, a.ln2, a.mean1, a.rstd1, a.mean2, a.rstd2, a.qkv, a.probs, a.attn, a.mid, a.hidden, a.act,
			a.attnMask, a.dropped, a.projMask, a.fc2Mask, a.fc1Mask, a.keepAttn, a.keepMLP, a.projOut, a.fc2Out)
	}
	if g := ws.grads; g != nil {
		add(g.dz, g.dmid, g.dbranch, g.dln, g.dattn, g.dqkv, g.dhidden, g.dprobs, g.dfeatures, g.dpooled, g.dembed, g.dcols, g.dconv, g.dpatches, g.dact)
		add(g.dstem...)
	}
	return int64(n) * 4
}
