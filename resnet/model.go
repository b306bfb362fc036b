package resnet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
)

// Epsilons of timm's resnetv2: Group Normalization and Weight
// Standardization.
const (
	gnEps = 1e-5
	wsEps = 1e-8
)

// Model is a BiT ResNet v2 (see the package documentation). Its weights
// are read-only during inference; training (a training Pass) belongs to
// one goroutine at a time.
type Model struct {
	Config vit.Config

	Stem   *nn.StdConv2D // stem.conv: [width, k, k, channels]
	Blocks []*Block      // every stage's bottlenecks, in order
	Norm   *nn.GroupNorm // norm: the pre-head GroupNorm and ReLU
	Head   *nn.Linear    // head.fc: [classes, final channels]

	layout     layout
	frozenBody bool
	mu         sync.Mutex // Predict: the standardised kernels are shared scratch
	ws         map[int]*Workspace
}

// Block is one pre-activation bottleneck (timm's PreActBottleneck).
type Block struct {
	Norm1      *nn.GroupNorm // with ReLU: the pre-activation p
	Downsample *nn.StdConv2D // 1×1 with the block's stride, on p; nil for an identity shortcut
	Conv1      *nn.StdConv2D // 1×1, in → mid
	Norm2      *nn.GroupNorm
	Conv2      *nn.StdConv2D // 3×3 with the block's stride, mid → mid
	Norm3      *nn.GroupNorm
	Conv3      *nn.StdConv2D // 1×1, mid → out
	shape      blockShape
}

// Params lists the block's tensors.
func (b *Block) Params() []*nn.Param {
	var ps []*nn.Param
	ps = append(ps, b.Norm1.Params()...)
	if b.Downsample != nil {
		ps = append(ps, b.Downsample.Params()...)
	}
	for _, l := range [][]*nn.Param{b.Conv1.Params(), b.Norm2.Params(), b.Conv2.Params(), b.Norm3.Params(), b.Conv3.Params()} {
		ps = append(ps, l...)
	}
	return ps
}

// New builds a ResNet of configuration c initialised as BiT's: every
// convolution He-normal over its fan-out (timm; Weight Standardization
// makes the scale moot), GroupNorm weight 1 and bias 0, and a zero
// classifier (BiT zero-initialises its head, as vit.New does). seed makes
// it reproducible.
func New(c vit.Config, seed uint64) (*Model, error) {
	m, err := Zero(c)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x7e5))
	for _, p := range m.Params() {
		if len(p.Shape) == 4 { // convolution kernels [out, k, k, in]
			std := math.Sqrt(2 / float64(p.Shape[0]*p.Shape[1]*p.Shape[2]))
			for i := range p.Data {
				p.Data[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
	return m, nil
}

// Zero builds a ResNet of configuration c with every weight zero
// (GroupNorm weights one), for loaders that then fill every tensor.
func Zero(c vit.Config) (*Model, error) {
	if c.Arch != Arch {
		return nil, fmt.Errorf("resnet: the config's arch is %q, not %q", c.Arch, Arch)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	l := newLayout(c)
	m := &Model{Config: c, layout: l,
		Stem: nn.NewStdConv2D("stem.conv", c.Channels, c.Width, l.stemKernel, l.stemStride, wsEps),
		Norm: nn.NewGroupNorm("norm", Groups(l.final), l.final, gnEps, true),
		Head: nn.NewLinear("head.fc", l.final, c.Classes, true),
	}
	for _, s := range l.blocks {
		p := fmt.Sprintf("stages.%d.blocks.%d.", s.stage, s.index)
		b := &Block{shape: s,
			Norm1: nn.NewGroupNorm(p+"norm1", Groups(s.in), s.in, gnEps, true),
			Conv1: nn.NewStdConv2D(p+"conv1", s.in, s.mid, 1, 1, wsEps),
			Norm2: nn.NewGroupNorm(p+"norm2", Groups(s.mid), s.mid, gnEps, true),
			Conv2: nn.NewStdConv2D(p+"conv2", s.mid, s.mid, 3, s.stride, wsEps),
			Norm3: nn.NewGroupNorm(p+"norm3", Groups(s.mid), s.mid, gnEps, true),
			Conv3: nn.NewStdConv2D(p+"conv3", s.mid, s.out, 1, 1, wsEps),
		}
		if s.down {
			b.Downsample = nn.NewStdConv2D(p+"downsample.conv", s.in, s.out, 1, s.stride, wsEps)
		}
		m.Blocks = append(m.Blocks, b)
	}
	return m, nil
}

// Spec returns the model's configuration.
func (m *Model) Spec() *vit.Config { return &m.Config }

// Params lists every tensor in a fixed order; names follow timm's
// resnetv2 (convolution kernels channels-last, [out, k, k, in]).
func (m *Model) Params() []*nn.Param {
	ps := m.Stem.Params()
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.Norm.Params()...)
	return append(ps, m.Head.Params()...)
}

// NumParams counts the learnable values.
func (m *Model) NumParams() int64 {
	var n int64
	for _, p := range m.Params() {
		n += int64(p.Size())
	}
	return n
}

// FLOPs is the forward cost of one image (see vit.Config.FLOPs).
func (m *Model) FLOPs() int64 { return m.layout.flops() }

// ZeroGrad clears every gradient.
func (m *Model) ZeroGrad() {
	for _, p := range m.Params() {
		p.ZeroGrad()
	}
}

// FreezeBody freezes (or unfreezes) every tensor but the classifier, for a
// linear probe: Backward then stops after the head.
func (m *Model) FreezeBody(frozen bool) {
	for _, p := range m.Params() {
		p.Frozen = frozen
	}
	for _, p := range m.Head.Params() {
		p.Frozen = false
	}
	m.frozenBody = frozen
}

// Replica returns a model that shares m's weights but has gradients,
// standardised kernels and workspaces of its own, for data-parallel
// training (as vit.Model.Replica).
func (m *Model) Replica() *Model {
	r := &Model{Config: m.Config, layout: m.layout, frozenBody: m.frozenBody,
		Stem: m.Stem.Replica(), Norm: m.Norm.Replica(), Head: m.Head.Replica()}
	for _, b := range m.Blocks {
		rb := &Block{shape: b.shape, Norm1: b.Norm1.Replica(), Conv1: b.Conv1.Replica(), Norm2: b.Norm2.Replica(),
			Conv2: b.Conv2.Replica(), Norm3: b.Norm3.Replica(), Conv3: b.Conv3.Replica()}
		if b.Downsample != nil {
			rb.Downsample = b.Downsample.Replica()
		}
		r.Blocks = append(r.Blocks, rb)
	}
	return r
}

// ReplicaNetwork is Replica as a vit.Network.
func (m *Model) ReplicaNetwork() vit.Network { return m.Replica() }

// NewPass returns a pass of the model over a new workspace.
func (m *Model) NewPass(batch int, train bool) vit.Pass {
	return &pass{m: m, ws: m.NewWorkspace(batch, train)}
}

type pass struct {
	m  *Model
	ws *Workspace
}

func (p *pass) Forward(x []float32, batch int) ([]float32, error) { return p.m.Forward(p.ws, x, batch) }
func (p *pass) Backward(dlogits []float32, batch int) error {
	return p.m.Backward(p.ws, dlogits, batch)
}
func (p *pass) Seed(seed, step uint64) {} // nothing random in a ResNet's forward
func (p *pass) Batch() int             { return p.ws.batch }

// Predict returns the logits: [batch, classes] of images x: [batch,
// channels, height, width]. It is safe for concurrent use; calls run one
// at a time (each Forward standardises the shared kernels).
func (m *Model) Predict(x []float32, batch int) ([]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ws == nil {
		m.ws = map[int]*Workspace{}
	}
	ws := m.ws[batch]
	if ws == nil {
		if len(m.ws) >= 4 { // a caller of many batch sizes keeps a few
			clear(m.ws)
		}
		ws = m.NewWorkspace(batch, false)
		m.ws[batch] = ws
	}
	logits, err := m.Forward(ws, x, batch)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), logits...), nil
}

var errNotTraining = errors.New("resnet: Backward needs a workspace made with train = true")
