package vit

import (
	"fmt"
	"slices"
	"sync"

	"github.com/vitgo/vit/nn"
)

// Network is an image classifier this engine trains, evaluates and saves:
// a Vision Transformer (*Model), or a network of another family that shares
// Config for its input, classes and labels and is registered with
// RegisterArch (package resnet's BiT ResNet, the paper's CNN baseline).
// Package train drives every Network the same way.
type Network interface {
	// Spec is the network's configuration; the trainer fills in its labels
	// and input normalisation through it.
	Spec() *Config
	// Params lists every tensor once, in a fixed order, under the names
	// checkpoints use.
	Params() []*nn.Param
	NumParams() int64 // learnable values, buffers excluded
	ZeroGrad()
	// FreezeBody freezes (or unfreezes) every tensor but the classifier,
	// for a linear probe.
	FreezeBody(frozen bool)
	// Predict returns the logits: [batch, classes] of images x: [batch,
	// channels, height, width], normalised as the network was trained.
	// Safe for concurrent use.
	Predict(x []float32, batch int) ([]float32, error)
	// ReplicaNetwork shares the network's weights with gradients and
	// scratch of its own, for data-parallel training (Model.Replica).
	ReplicaNetwork() Network
	// NewPass gives the network a workspace for batches of up to batch
	// images: a training one (for Backward) with train set.
	NewPass(batch int, train bool) Pass
}

// A Pass runs one network on a workspace of its own. It belongs to one
// goroutine at a time.
type Pass interface {
	// Forward returns the logits: [batch, classes] of images x: [batch,
	// channels, height, width], valid until the next Forward.
	Forward(x []float32, batch int) ([]float32, error)
	// Backward adds the gradient of the loss into every parameter's Grad,
	// given dlogits: [batch, classes] for the last Forward (training
	// passes only).
	Backward(dlogits []float32, batch int) error
	// Seed sets the random stream of dropout and stochastic depth of the
	// next Forward.
	Seed(seed, step uint64)
	Batch() int // the largest batch the pass takes
}

// Spec returns the model's configuration.
func (m *Model) Spec() *Config { return &m.Config }

// ReplicaNetwork is Replica as a Network.
func (m *Model) ReplicaNetwork() Network { return m.Replica() }

// NewPass returns a pass of the model over a new workspace.
func (m *Model) NewPass(batch int, train bool) Pass {
	return &modelPass{m: m, ws: m.NewWorkspace(batch, train)}
}

type modelPass struct {
	m  *Model
	ws *Workspace
}

func (p *modelPass) Forward(x []float32, batch int) ([]float32, error) {
	return p.m.Forward(p.ws, x, batch)
}
func (p *modelPass) Backward(dlogits []float32, batch int) error {
	return p.m.Backward(p.ws, dlogits, batch)
}
func (p *modelPass) Seed(seed, step uint64) { p.ws.Seed(seed, step) }
func (p *modelPass) Batch() int             { return p.ws.Batch() }

// Arch describes a family of networks other than the Vision Transformer
// (Config.Arch names it). Its package registers it with RegisterArch when
// loaded, as image formats register with package image. Validate, FLOPs,
// Memory and NumParams then answer for its configurations, and NewNetwork
// and ZeroNetwork build them.
type Arch struct {
	// Validate checks the family's own fields; Config.Validate has
	// checked the input, classes, labels and normalisation first.
	Validate func(Config) error
	// FLOPs is the forward cost of one image (a multiply-add counts 2).
	FLOPs func(Config) int64
	// Memory estimates what training on (train) or inference of batches of
	// batch images takes, as Config.Memory does for a ViT.
	Memory func(c Config, batch int, train bool) Memory
	// NumParams counts the learnable values, without building the network.
	NumParams func(Config) int64
	// New builds an initialised network from seed; Zero one with every
	// tensor zero, for loaders.
	New  func(c Config, seed uint64) (Network, error)
	Zero func(Config) (Network, error)
}

var (
	archMu sync.RWMutex
	arches = map[string]Arch{}
)

// RegisterArch makes the family name usable as Config.Arch. It panics if
// name is "", "vit" or already registered.
func RegisterArch(name string, a Arch) {
	archMu.Lock()
	defer archMu.Unlock()
	if _, dup := arches[name]; dup || name == "" || name == "vit" {
		panic("vit: RegisterArch of " + name + " twice or under a reserved name")
	}
	arches[name] = a
}

// Archs lists the families Config.Arch accepts: "vit" and every
// registered one, sorted.
func Archs() []string {
	archMu.RLock()
	defer archMu.RUnlock()
	names := []string{"vit"}
	for n := range arches {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// IsViT reports whether c describes a Vision Transformer (Arch "" or "vit").
func (c Config) IsViT() bool { return c.Arch == "" || c.Arch == "vit" }

// arch returns the registered family of c, or an error saying which exist.
func (c Config) arch() (Arch, error) {
	archMu.RLock()
	a, ok := arches[c.Arch]
	archMu.RUnlock()
	if !ok {
		return Arch{}, fmt.Errorf("arch %q is unknown: use one of %v (a program builds other families by importing their package, e.g. github.com/vitgo/vit/resnet)", c.Arch, Archs())
	}
	return a, nil
}

// NewNetwork builds an initialised network of configuration c: a Model
// (New) for a ViT, else one of c's registered family.
func NewNetwork(c Config, seed uint64) (Network, error) {
	if c.IsViT() {
		return New(c, seed)
	}
	a, err := c.arch()
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return a.New(c, seed)
}

// ZeroNetwork is NewNetwork with every tensor zero (see Zero), for loaders.
func ZeroNetwork(c Config) (Network, error) {
	if c.IsViT() {
		return Zero(c)
	}
	a, err := c.arch()
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return a.Zero(c)
}

// archError validates a configuration of a registered family: the fields
// every network reads (input, classes, labels, normalisation), then the
// family's own.
func (c Config) archError() error {
	a, err := c.arch()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"image height", c.ImageHeight}, {"image width", c.ImageWidth}, {"classes", c.Classes}, {"depth", c.Depth}, {"width", c.Width}} {
		if f.v > MaxSide {
			return fmt.Errorf("%s %d is over the limit of %d", f.name, f.v, MaxSide)
		}
	}
	switch {
	case c.ImageHeight <= 0 || c.ImageWidth <= 0:
		return fmt.Errorf("image size must be positive, got %d×%d", c.ImageHeight, c.ImageWidth)
	case c.Channels != 1 && c.Channels != 3:
		return fmt.Errorf("channels must be 1 or 3, got %d", c.Channels)
	case c.Classes <= 0:
		return fmt.Errorf("classes must be positive, got %d", c.Classes)
	case c.Labels != nil && len(c.Labels) != c.Classes:
		return fmt.Errorf("%d labels for %d classes", len(c.Labels), c.Classes)
	case c.inputError() != nil:
		return c.inputError()
	case c.Encoder != (Encoder{}):
		return fmt.Errorf("a %s has none of the ViT encoder options (no_class_token, dist_token, registers, no_patch_bias, norm_pre, layer_scale, act, ffn, representation_size, embed_dim, pos_grid, pos_resize): leave them unset", c.Arch)
	}
	if err := a.Validate(c); err != nil {
		return err
	}
	phys := physicalMemory()
	if m := a.Memory(c, 1, false); m.Total() > phys {
		return fmt.Errorf("one image through the %s needs %s, more than this machine's %s of memory", c.Arch, FormatBytes(m.Total()), FormatBytes(phys))
	}
	return nil
}
