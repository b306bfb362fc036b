package resnet

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/gradcheck"
	"github.com/vitgo/vit/nn"
)

// tiny returns a small random ResNet: the small stem at side 8, the
// standard stem (7×7/2 and max pool) at side 66.
func tiny(t testing.TB, side int) *Model {
	t.Helper()
	m, err := New(Config(26, 4, side, 3, 3), 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for _, p := range m.Params() {
		if len(p.Shape) != 4 { // GroupNorm and head: away from their initial values
			copy(p.Data, gradcheck.Random(rng, p.Size(), 0.5))
			if p.Name != "head.fc.weight" && p.Name != "head.fc.bias" {
				for i := range p.Data {
					p.Data[i] += 1
				}
			}
		}
	}
	return m
}

// smooth turns off every GroupNorm's ReLU. Finite differences in float32
// cross some of the thousands of ReLU kinks of even a tiny ResNet, so
// TestGradients checks the network without them; the ReLU's backward is
// checked in nn's TestGroupNorm, and the whole network's gradients against
// PyTorch's in TestReference.
func smooth(m *Model) {
	m.Norm.ReLU = false
	for _, b := range m.Blocks {
		b.Norm1.ReLU, b.Norm2.ReLU, b.Norm3.ReLU = false, false, false
	}
}

// TestGradients checks every parameter's gradient, with the small stem
// (side 16) and the standard one (side 66: 7×7/2 and the max pool).
func TestGradients(t *testing.T) {
	for _, side := range []int{16, 66} {
		m := tiny(t, side)
		smooth(m)
		probes := 4
		if side > 64 {
			probes = 2 // the large stem's image makes each forward costlier
		}
		batch := 2
		rng := rand.New(rand.NewPCG(4, 5))
		x := gradcheck.Random(rng, batch*3*side*side, 1)
		labels := []int{0, 2}
		ws := m.NewWorkspace(batch, true)
		loss := func() float64 {
			logits, err := m.Forward(ws, x, batch)
			if err != nil {
				t.Fatal(err)
			}
			l, _ := nn.CrossEntropy(nil, logits, labels, 3, 0)
			return l
		}
		logits, _ := m.Forward(ws, x, batch)
		dlogits := make([]float32, len(logits))
		nn.CrossEntropy(dlogits, logits, labels, 3, 0)
		m.ZeroGrad()
		if err := m.Backward(ws, dlogits, batch); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			grad := append([]float32(nil), p.Grad...)
			gradcheck.Check(t, p.Name, p.Data, grad, loss, 1e-3, 3e-2, probes)
		}
	}
}

func TestCounts(t *testing.T) {
	for _, c := range []vit.Config{Config(26, 4, 8, 3, 3), Config(50, 4, 96, 3, 7), Config(26, 16, 28, 1, 10)} {
		m, err := Zero(c)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.NumParams(), m.NumParams(); got != want {
			t.Errorf("%+v: Config.NumParams %d, model %d", c, got, want)
		}
		for _, train := range []bool{false, true} {
			if got, want := c.Memory(3, train).Activations, m.NewWorkspace(3, train).Bytes(); got != want {
				t.Errorf("%+v, train %v: Memory counts %d bytes of activations, the workspace holds %d", c, train, got, want)
			}
		}
	}
	// The paper's ResNet-50 at 224: 25.5 M parameters with a 1000-class head
	// (torchvision's resnet50 has 25.557 M; BiT's has no batch-norm
	// statistics and no conv biases either), about 4.1 GMACs.
	c := Config(50, 64, 224, 3, 1000)
	if p := c.NumParams(); p < 25_400_000 || p > 25_600_000 {
		t.Errorf("ResNet-50 has %d parameters, want about 25.5 M", p)
	}
	if f := c.FLOPs(); f < 8.0e9 || f > 8.4e9 {
		t.Errorf("ResNet-50 costs %d FLOPs, want about 8.2 G (4.1 GMACs)", f)
	}
}

// TestRefusesEncoderOptions: a ResNet config with any of the ViT encoder
// options set is refused, naming them, rather than built without them.
func TestRefusesEncoderOptions(t *testing.T) {
	for name, edit := range map[string]func(*vit.Config){
		"registers":  func(c *vit.Config) { c.Registers = 4 },
		"dist_token": func(c *vit.Config) { c.DistToken = true },
		"embed_dim":  func(c *vit.Config) { c.EmbedDim = 8 },
		"act":        func(c *vit.Config) { c.Act = "quick_gelu" },
	} {
		c := Config(26, 4, 8, 3, 3)
		edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "none of the ViT encoder options") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := Config(26, 4, 8, 3, 3).Validate(); err != nil {
		t.Fatal(err)
	}
}
