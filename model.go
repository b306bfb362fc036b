package vit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// Model is a Vision Transformer (Dosovitskiy et al. 2020, Section 3.1).
//
// Its weights are read-only during inference, so one Model can serve many
// goroutines through Predict and Features; training (Forward and Backward
// with a training Workspace) belongs to one goroutine at a time.
type Model struct {
	Config Config

	// Stem holds a hybrid model's convolutions (Config.Stem); empty for a
	// plain ViT.
	Stem []*StemLayer
	// PatchEmbed is E of Eq. 1: W: [dim, channels·patch·patch], the
	// kernel of a convolution with kernel = stride = patch, flattened
	// (channels are the stem's output channels in a hybrid).
	PatchEmbed *nn.Linear
	ClassToken *nn.Param // x_class: [dim]; nil without a class token
	DistToken  *nn.Param // DeiT's distillation token: [dim]; nil without
	RegTokens  *nn.Param // register tokens: [registers, dim]; nil without
	// PosEmbed is E_pos (Config.PosEmbed learned or sincos): [PosTokens,
	// dim], the class and distillation tokens' then the patches' at
	// Config.PosGrid (the input's grid unless the config stores them at
	// another and resamples them); nil for the other Config.PosEmbed.
	PosEmbed *nn.Param
	// PosEmbed2D is the learned-2d position embedding; nil for the others.
	PosEmbed2D *PosEmbed2D
	NormPre    *nn.LayerNorm // CLIP's ln_pre on the embedded tokens; nil without
	Blocks     []*Block
	Norm       *nn.LayerNorm // the final LayerNorm of Eq. 4; nil with pool "avg"

	// The pooling and what follows it (pool.go): FCNorm normalises the
	// mean of the patch tokens (pool "avg"); AttnPool is SigLIP's
	// attention pool (pool "map"); PreLogits (tanh) or Proj (CLIP's
	// visual projection, no bias) turns the pooled [dim] vector into the
	// features. Each is nil when the config does not ask for it.
	FCNorm    *nn.LayerNorm
	AttnPool  *AttentionPool
	PreLogits *nn.Linear // [representation_size, dim]
	Proj      *nn.Linear // [embed_dim, dim]

	Head     *nn.Linear // [classes, features]
	HeadDist *nn.Linear // DeiT's distillation head on the distillation token: [classes, features]; nil without

	pools      sync.Map // batch size → *sync.Pool of inference workspaces
	frozenBody bool     // set by FreezeBody: Backward stops after the head
	packed     bool     // set by PackWeights
}

// Block is one pre-LayerNorm encoder block (Eq. 2 and 3).
type Block struct {
	// Act is the MLP's activation (Config.Act); with SwiGLU (Config.FFN
	// "swiglu") the MLP is FC2(SiLU(x1)⊙x2) with [x1; x2] = FC1(x).
	Act    string
	SwiGLU bool
	Norm1  *nn.LayerNorm
	QKV    *nn.Linear // [3·dim, dim]: rows are query, key, value, each [heads, dh]
	Attn   nn.Attention
	// RelPos adds relative position biases to the attention logits
	// (Config.PosEmbed "relative"); nil otherwise. It owns
	// blocks.<l>.attn.relative_position_bias_table.
	RelPos *nn.RelativePositionBias
	// Performer replaces softmax attention when the config asks for it
	// (nil otherwise). It owns its random features, the buffer
	// blocks.<l>.attn.features: [features, dh], saved with the model.
	Performer *nn.Performer
	Proj      *nn.Linear // [dim, dim]
	Norm2     *nn.LayerNorm
	FC1       *nn.Linear // [mlp, dim]; [2·mlp, dim] with SwiGLU (x1 then x2)
	FC2       *nn.Linear // [dim, mlp]
	// LS1 and LS2 are LayerScale's per-channel scales of the attention
	// and MLP branches: [dim] each; nil without LayerScale.
	LS1, LS2 *nn.Param
}

// StemLayer is one stage of a hybrid's stem: a convolution, an optional
// LayerNorm over the channels of each position, then GELU.
type StemLayer struct {
	Conv *nn.Conv2D
	Norm *nn.LayerNorm // nil without
}

// Params lists the stage's tensors.
func (s *StemLayer) Params() []*nn.Param {
	ps := s.Conv.Params()
	if s.Norm != nil {
		ps = append(ps, s.Norm.Params()...)
	}
	return ps
}

// New builds a model with the initialisation of the official JAX
// implementation (google-research/vision_transformer):
//   - patch embedding and a hybrid's stem convolutions: LeCun normal
//     (truncated; flax's default for dense and convolution kernels), zero bias;
//   - position embedding: normal, std 0.02; class token: zeros;
//   - attention and MLP kernels: Xavier uniform (the fused qkv kernel uses the
//     bound of one of its three [dim, dim] parts, as separate q, k, v kernels
//     would); MLP biases normal with std 1e-6; attention biases zero;
//   - head: zeros; LayerNorms: weight 1, bias 0;
//   - Performer random features (Config.Attention "performer"): drawn from
//     seed, as RedrawFeatures(seed) draws them.
//
// seed makes the initialisation reproducible.
func New(c Config, seed uint64) (*Model, error) {
	m, err := newZero(c)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	lecunNormal(rng, m.PatchEmbed.W.Data, c.PatchSize())
	for _, s := range m.Stem {
		lecunNormal(rng, s.Conv.Dense.W.Data, s.Conv.ColSize())
	}
	switch {
	case c.PosEmbed == "sincos":
		sinCos2D(m.PosEmbed.Data, c.GridH(), c.GridW(), c.Dim, c.posPrefix())
	case m.PosEmbed != nil:
		normal(rng, m.PosEmbed.Data, 0.02)
	case m.PosEmbed2D != nil:
		normal(rng, m.PosEmbed2D.Row.Data, 0.02)
		normal(rng, m.PosEmbed2D.Col.Data, 0.02)
	} // relative position biases start at zero, as in BEiT
	for _, b := range m.Blocks {
		xavierUniform(rng, b.QKV.W.Data, c.Dim, c.Dim)
		xavierUniform(rng, b.Proj.W.Data, c.Dim, c.Dim)
		xavierUniform(rng, b.FC1.W.Data, c.Dim, c.MLPDim)
		xavierUniform(rng, b.FC2.W.Data, c.MLPDim, c.Dim)
		normal(rng, b.FC1.B.Data, 1e-6)
		normal(rng, b.FC2.B.Data, 1e-6)
	}
	m.initEncoder(rng)
	m.RedrawFeatures(seed)
	return m, nil
}

// Zero builds a model of configuration c without random initialisation:
// every weight zero, LayerNorm scales one (Performer features, which must
// not be zero, are drawn from seed 0). It is for loaders that then fill or
// replace every tensor; the zero pages are not touched until written.
func Zero(c Config) (*Model, error) { return newZero(c) }

// newZero allocates every tensor of c, zeroed (LayerNorm weights 1).
func newZero(c Config) (*Model, error) {
	if !c.IsViT() {
		return nil, fmt.Errorf("vit: a %s is no ViT Model: build it with NewNetwork", c.Arch)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	eps := c.Eps()
	m := &Model{
		Config:     c,
		PatchEmbed: nn.NewLinear("patch_embed", c.PatchSize(), c.Dim, !c.NoPatchBias),
		Head:       nn.NewLinear("head", c.FeatureDim(), c.Classes, true),
	}
	in := c.Channels
	for i, sc := range c.Stem {
		p := fmt.Sprintf("stem.%d.", i)
		s := &StemLayer{Conv: nn.NewConv2D(p+"conv", in, sc.Channels, sc.Kernel, sc.Stride)}
		if sc.Norm {
			s.Norm = nn.NewLayerNorm(p+"norm", sc.Channels, eps)
		}
		m.Stem = append(m.Stem, s)
		in = sc.Channels
	}
	switch {
	case c.absolutePos():
		m.PosEmbed = nn.NewParam("pos_embed", true, c.PosTokens(), c.Dim)
		m.PosEmbed.Frozen = c.PosEmbed == "sincos"
		m.PosEmbed.Buffer = m.PosEmbed.Frozen
	case c.PosEmbed == "learned-2d":
		m.PosEmbed2D = newPosEmbed2D(c.GridH(), c.GridW(), c.Dim)
	}
	if c.ClassToken() {
		m.ClassToken = nn.NewParam("cls_token", true, c.Dim)
	}
	m.newEncoder()
	for i := range c.Depth {
		p := fmt.Sprintf("blocks.%d.", i)
		m.Blocks = append(m.Blocks, &Block{
			Act:    c.Act,
			SwiGLU: c.FFN == "swiglu",
			Norm1:  nn.NewLayerNorm(p+"norm1", c.Dim, eps),
			QKV:    nn.NewLinear(p+"attn.qkv", c.Dim, 3*c.Dim, !c.NoQKVBias),
			Attn:   nn.Attention{Heads: c.Heads, Dim: c.Dim},
			Proj:   nn.NewLinear(p+"attn.proj", c.Dim, c.Dim, true),
			Norm2:  nn.NewLayerNorm(p+"norm2", c.Dim, eps),
			FC1:    nn.NewLinear(p+"mlp.fc1", c.Dim, c.hiddenOut(), true),
			FC2:    nn.NewLinear(p+"mlp.fc2", c.MLPDim, c.Dim, true),
		})
		if c.Relative() {
			m.Blocks[i].RelPos = nn.NewRelativePositionBias(p+"attn.relative_position_bias_table", c.Heads, c.GridH(), c.GridW(), c.ClassToken())
		}
		if c.LayerScale {
			b := m.Blocks[i]
			b.LS1, b.LS2 = nn.NewParam(p+"ls1.gamma", true, c.Dim), nn.NewParam(p+"ls2.gamma", true, c.Dim)
			fill(b.LS1.Data, 1)
			fill(b.LS2.Data, 1)
		}
	}
	if c.Performer() {
		m.setPerformer(0)
	}
	return m, nil
}

// setPerformer gives every block FAVOR+ attention with random features
// drawn from seed (block l uses seed+l).
func (m *Model) setPerformer(seed uint64) {
	c := m.Config
	for l, b := range m.Blocks {
		b.Performer = nn.NewPerformer(fmt.Sprintf("blocks.%d.attn", l), c.Heads, c.Dim, c.Features, seed+uint64(l))
	}
}

// SetAttention switches every block to "softmax" or "performer" attention
// (with features random features per head, 0 for the default, drawn from
// seed), keeping all learned weights: the Performer paper runs and
// fine-tunes softmax-trained models this way. Workspaces made before the
// switch must not be used after it.
func (m *Model) SetAttention(kind string, features int, seed uint64) error {
	c := m.Config
	c.Attention, c.Features = kind, features
	if err := c.Validate(); err != nil {
		return err
	}
	m.Config = c
	m.ResetWorkspaces()
	if !c.Performer() {
		for _, b := range m.Blocks {
			b.Performer = nil
		}
		return nil
	}
	m.setPerformer(seed)
	return nil
}

// ResetWorkspaces drops the pooled inference workspaces, which are sized for
// the current configuration; call it after changing the image size, the
// head or the attention. Not safe while other goroutines use the model.
func (m *Model) ResetWorkspaces() { m.pools = sync.Map{} }

// RedrawFeatures draws new Performer random features from seed, block l's
// from seed+l, overwriting them in place (a no-op with softmax attention).
// New draws them with the model's seed; the trainer redraws every
// RedrawEvery steps.
func (m *Model) RedrawFeatures(seed uint64) {
	for l, b := range m.Blocks {
		if b.Performer != nil {
			b.Performer.Redraw(seed + uint64(l))
		}
	}
}

// Params lists every tensor in a fixed order; names follow timm.
func (m *Model) Params() []*nn.Param {
	var ps []*nn.Param
	for _, s := range m.Stem {
		ps = append(ps, s.Params()...)
	}
	ps = append(ps, m.PatchEmbed.Params()...)
	for _, p := range []*nn.Param{m.ClassToken, m.DistToken, m.RegTokens} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	if m.PosEmbed != nil {
		ps = append(ps, m.PosEmbed)
	}
	if m.PosEmbed2D != nil {
		ps = append(ps, m.PosEmbed2D.Params()...)
	}
	if m.NormPre != nil {
		ps = append(ps, m.NormPre.Params()...)
	}
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	if m.Norm != nil {
		ps = append(ps, m.Norm.Params()...)
	}
	return append(ps, m.poolParams()...)
}

// Params lists the block's tensors.
func (b *Block) Params() []*nn.Param {
	var ps []*nn.Param
	ps = append(ps, b.Norm1.Params()...)
	ps = append(ps, b.QKV.Params()...)
	if b.RelPos != nil {
		ps = append(ps, b.RelPos.Params()...)
	}
	for _, l := range [][]*nn.Param{b.Proj.Params(), b.Norm2.Params(), b.FC1.Params(), b.FC2.Params()} {
		ps = append(ps, l...)
	}
	if b.LS1 != nil {
		ps = append(ps, b.LS1, b.LS2)
	}
	if b.Performer != nil {
		ps = append(ps, b.Performer.Params()...)
	}
	return ps
}

// NumParams counts the learnable values (buffers such as fixed sin-cos
// embeddings and Performer features excluded).
func (m *Model) NumParams() int64 {
	var n int64
	for _, p := range m.Params() {
		if !p.Buffer {
			n += int64(p.Size())
		}
	}
	return n
}

// linears lists every dense layer: the stem's convolutions (as matrix
// products), the patch embedding, each block's four and the head.
func (m *Model) linears() []*nn.Linear {
	var ls []*nn.Linear
	for _, s := range m.Stem {
		ls = append(ls, s.Conv.Dense)
	}
	ls = append(ls, m.PatchEmbed)
	for _, b := range m.Blocks {
		ls = append(ls, b.QKV, b.Proj, b.FC1, b.FC2)
	}
	return append(ls, m.poolLinears()...)
}

// PackWeights prepares the model for inference: every dense layer's weights
// are packed once, in the layout of this CPU's matrix kernel and in number
// format dt, so that Predict, Features and Attention stop repacking them on
// every call. With kernels.BF16 the inference products take weights and
// activations in bfloat16 and accumulate in float32; on CPUs without
// AVX512_BF16 they give the same numbers on the fp32 kernel.
//
// The packed copy holds the weights as they are now. Backward drops it
// (training changes the weights); after changing weights any other way,
// call PackWeights again or UnpackWeights. Not safe to call while other
// goroutines run inference on the model.
func (m *Model) PackWeights(dt kernels.DType) {
	for _, l := range m.linears() {
		l.Pack(dt)
	}
	m.packed = true
}

// UnpackWeights drops the packed weights: inference then computes from the
// float32 weights directly.
func (m *Model) UnpackWeights() {
	if !m.packed {
		return
	}
	for _, l := range m.linears() {
		l.Unpack()
	}
	m.packed = false
}

// WeightBytes is the memory the weights take: the parameters plus any
// packed copies.
func (m *Model) WeightBytes() int64 {
	var n int64
	for _, p := range m.Params() {
		n += 4 * int64(p.Size())
	}
	for _, l := range m.linears() {
		if p := l.Packed(); p != nil {
			n += int64(p.Bytes())
		}
	}
	return n
}

// ZeroGrad clears every gradient.
func (m *Model) ZeroGrad() {
	for _, p := range m.Params() {
		p.ZeroGrad()
	}
}

func normal(rng *rand.Rand, x []float32, std float64) {
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
}

// lecunNormal draws from a normal truncated at two standard deviations with
// variance 1/fanIn after truncation (flax's lecun_normal).
func lecunNormal(rng *rand.Rand, x []float32, fanIn int) {
	std := math.Sqrt(1/float64(fanIn)) / 0.87962566103423978
	for i := range x {
		v := rng.NormFloat64()
		for math.Abs(v) > 2 {
			v = rng.NormFloat64()
		}
		x[i] = float32(v * std)
	}
}

func xavierUniform(rng *rand.Rand, x []float32, fanIn, fanOut int) {
	bound := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range x {
		x[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// sinCos2D writes fixed 2-D sine-cosine position embeddings into pos:
// [tokens, dim]. The first half of each vector encodes the patch's row, the
// second half its column, each as [sin(p·ω_k), cos(p·ω_k)] with
// ω_k = 10000^(−k/(dim/4)). The prefix tokens (class, distillation) get
// zeros.
func sinCos2D(pos []float32, gh, gw, dim, prefix int) {
	off := prefix
	clear(pos[:prefix*dim])
	q := dim / 4
	for r := range gh {
		for c := range gw {
			v := pos[(off+r*gw+c)*dim:]
			for k := range q {
				w := math.Pow(10000, -float64(k)/float64(q))
				v[k] = float32(math.Sin(float64(r) * w))
				v[q+k] = float32(math.Cos(float64(r) * w))
				v[2*q+k] = float32(math.Sin(float64(c) * w))
				v[3*q+k] = float32(math.Cos(float64(c) * w))
			}
		}
	}
}

// ResetHead replaces the classifier with a new, zero-initialised one for
// classes outputs (the paper's fine-tuning recipe), with optional labels;
// a Headless model is headless no more.
// A pre-logits layer goes with the old head (the paper's Section 3.2: the
// whole head is replaced by one zero-initialised layer); a distillation
// head is replaced too.
func (m *Model) ResetHead(classes int, labels []string) error {
	c := m.Config
	c.Classes, c.Labels, c.RepresentationSize, c.Headless = classes, labels, 0, false
	if err := c.Validate(); err != nil {
		return err
	}
	m.Config = c
	m.PreLogits = nil
	m.Head = nn.NewLinear("head", c.FeatureDim(), classes, true)
	if c.distHead() {
		m.HeadDist = nn.NewLinear("head_dist", c.FeatureDim(), classes, true)
	}
	m.ResetWorkspaces()
	return nil
}

// FreezeBody freezes (or unfreezes) every tensor but the head, for a linear
// probe: the optimizer then updates only the classifier, and Backward stops
// after the head.
func (m *Model) FreezeBody(frozen bool) {
	for _, p := range m.Params() {
		if p.Buffer {
			continue
		}
		p.Frozen = frozen
	}
	for _, p := range m.heads() {
		p.Frozen = false
	}
	m.frozenBody = frozen
}

// Replica returns a model that shares m's weights (and Performer features)
// but has gradients, scratch and workspaces of its own, for data-parallel
// training: replicas run Forward and Backward on different parts of a batch
// at the same time, each adding into its own Grad, and the caller sums the
// gradients into m's. Changes to m's weights show in every replica; changes
// to its structure (SetAttention, ResetHead, FreezeBody) do not: make
// replicas after them.
func (m *Model) Replica() *Model {
	r := &Model{
		Config:     m.Config,
		PatchEmbed: m.PatchEmbed.Replica(),
		frozenBody: m.frozenBody,
	}
	m.replicaEncoder(r)
	for _, s := range m.Stem {
		rs := &StemLayer{Conv: s.Conv.Replica()}
		if s.Norm != nil {
			rs.Norm = s.Norm.Replica()
		}
		r.Stem = append(r.Stem, rs)
	}
	if m.ClassToken != nil {
		r.ClassToken = m.ClassToken.Share()
	}
	if m.PosEmbed != nil {
		r.PosEmbed = m.PosEmbed.Share()
	}
	if m.PosEmbed2D != nil {
		r.PosEmbed2D = m.PosEmbed2D.Replica()
	}
	for _, b := range m.Blocks {
		rb := &Block{
			Act:    b.Act,
			SwiGLU: b.SwiGLU,
			Norm1:  b.Norm1.Replica(),
			QKV:    b.QKV.Replica(),
			Attn:   b.Attn,
			Proj:   b.Proj.Replica(),
			Norm2:  b.Norm2.Replica(),
			FC1:    b.FC1.Replica(),
			FC2:    b.FC2.Replica(),
		}
		if b.Performer != nil {
			rb.Performer = b.Performer.Replica()
		}
		if b.RelPos != nil {
			rb.RelPos = b.RelPos.Replica()
		}
		if b.LS1 != nil {
			rb.LS1, rb.LS2 = b.LS1.Share(), b.LS2.Share()
		}
		r.Blocks = append(r.Blocks, rb)
	}
	return r
}
