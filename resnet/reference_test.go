package resnet

import (
	"math"
	"strconv"
	"testing"

	"github.com/vitgo/vit/nn"
	"github.com/vitgo/vit/safetensors"
)

// TestReference compares the logits, the loss and every parameter's
// gradient with PyTorch's on the same small random network, for both stems
// (goldens by testdata/gen_reference.py, a ResNet v2 written after timm's).
func TestReference(t *testing.T) {
	for _, name := range []string{"small", "standard"} {
		t.Run(name, func(t *testing.T) {
			f, err := safetensors.Open("testdata/reference_" + name + ".safetensors")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			meta := f.Metadata()
			atoi := func(k string) int {
				v, err := strconv.Atoi(meta[k])
				if err != nil {
					t.Fatalf("metadata %s: %v", k, err)
				}
				return v
			}
			get := func(name string) []float32 {
				v, _, err := f.Float32(name)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			batch, classes := atoi("batch"), atoi("classes")
			m, err := Zero(Config(atoi("depth"), atoi("width"), atoi("side"), atoi("channels"), classes))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params() {
				copy(p.Data, get(p.Name))
			}
			ws := m.NewWorkspace(batch, true)
			logits, err := m.Forward(ws, get("x"), batch)
			if err != nil {
				t.Fatal(err)
			}
			close(t, "logits", logits, get("logits"), 1e-4)
			labels := make([]int, batch)
			for i, v := range get("labels") {
				labels[i] = int(v)
			}
			dlogits := make([]float32, len(logits))
			loss, _ := nn.CrossEntropy(dlogits, logits, labels, classes, 0)
			if want := float64(get("loss")[0]); math.Abs(loss-want) > 1e-4*max(1, math.Abs(want)) {
				t.Errorf("loss %v, want %v", loss, want)
			}
			m.ZeroGrad()
			if err := m.Backward(ws, dlogits, batch); err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params() {
				close(t, "gradient of "+p.Name, p.Grad, get("grad."+p.Name), 2e-3)
			}
		})
	}
}

// close fails t when got and want differ by more than tol relative to
// want's largest magnitude, or to 0.01 when that is smaller: a kernel
// standardised over two values (stage 0's conv3 at width 2) is ±1 whatever
// its weights, so their true gradient is 0 and both engines return
// rounding noise of order 1e-5.
func close(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	worst, at := 0.0, 0
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > worst {
			worst, at = d, i
		}
	}
	if worst > tol*math.Max(scale, 1e-2) {
		t.Errorf("%s[%d] = %v, want %v (largest difference %.3g, %.3g of the largest value %.3g)", what, at, got[at], want[at], worst, worst/scale, scale)
	}
}
