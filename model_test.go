package vit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
	"github.com/vitgo/vit/internal/kernelpath"
	"github.com/vitgo/vit/internal/kernelpath/kernelpathtest"
	"github.com/vitgo/vit/nn"
)

func tinyConfig() Config {
	return Config{ImageHeight: 8, ImageWidth: 12, Channels: 3, Patch: 4, Dim: 8, Depth: 2, Heads: 2, MLPDim: 16, Classes: 3}
}

// backwardCases are the configurations of the whole-model gradient tests:
// each pooling, position embedding, regulariser, attention and stem.
func backwardCases() []struct {
	name string
	edit func(*Config)
} {
	return []struct {
		name string
		edit func(*Config)
	}{
		{"cls", func(*Config) {}},
		{"gap", func(c *Config) { c.Pool = "gap" }},
		{"sincos", func(c *Config) { c.PosEmbed = "sincos"; c.NoQKVBias = true }},
		{"no-pos", func(c *Config) { c.PosEmbed = "none" }},
		{"learned-2d", func(c *Config) { c.PosEmbed = "learned-2d" }},
		{"relative", func(c *Config) { c.PosEmbed = "relative" }},
		{"relative-gap", func(c *Config) { c.PosEmbed = "relative"; c.Pool = "gap" }},
		{"dropout", func(c *Config) { c.Dropout = 0.2; c.AttentionDropout = 0.2; c.DropPath = 0.3 }},
		{"droppath", func(c *Config) { c.DropPath = 0.5 }},
		{"performer", func(c *Config) { c.Attention = "performer"; c.Features = 16 }},
		{"hybrid", hybridPatch2},
		{"hybrid-1x1", hybrid1x1},
		{"dinov2-reg", func(c *Config) {
			c.Registers, c.LayerScale, c.PosGridH, c.PosGridW, c.PosResize = 2, true, 3, 4, "bicubic"
		}},
		{"swiglu-aa", func(c *Config) {
			c.FFN, c.LayerScale, c.PosGridH, c.PosGridW, c.PosResize, c.Dropout = "swiglu", true, 3, 2, "bicubic-antialias", 0.1
		}},
		{"clip", func(c *Config) {
			c.NormPre, c.NoPatchBias, c.Act, c.EmbedDim, c.LayerNormEps = true, true, "quick_gelu", 6, 1e-5
		}},
		{"siglip", func(c *Config) { c.Pool, c.NoClassToken, c.Act = "map", true, "gelu_tanh" }},
		{"map-cls", func(c *Config) { c.Pool, c.Registers = "map", 1 }},
		{"avg-fcnorm", func(c *Config) { c.Pool, c.Registers = "avg", 1 }},
		{"deit-distilled", func(c *Config) { c.DistToken = true }},
		{"deit-cls-head", func(c *Config) { c.DistToken, c.NoDistHead = true, true }},
		{"prelogits", func(c *Config) { c.RepresentationSize = 5; c.DropPath = 0.2 }},
		// The encoder modules with the other position embeddings.
		{"learned-2d-deit-reg", func(c *Config) { c.PosEmbed, c.DistToken, c.Registers = "learned-2d", true, 2 }},
		{"sincos-deit-reg", func(c *Config) { c.PosEmbed, c.DistToken, c.Registers, c.NoDistHead = "sincos", true, 1, true }},
		{"none-siglip", func(c *Config) { c.PosEmbed, c.Pool, c.NoClassToken, c.Act = "none", "map", true, "gelu_tanh" }},
		{"relative-avg-layerscale", func(c *Config) { c.PosEmbed, c.Pool, c.LayerScale = "relative", "avg", true }},
		{"relative-siglip-swiglu", func(c *Config) { c.PosEmbed, c.Pool, c.NoClassToken, c.FFN = "relative", "map", true, "swiglu" }},
		{"relative-clip", func(c *Config) { c.PosEmbed, c.NormPre, c.EmbedDim = "relative", true, 6 }},
	}
}

// gradProblem is a tiny model with its gradients computed once: the loss
// (label-smoothed cross-entropy, in float64, with fixed dropout masks) as
// a function of the parameters and of the input x, and its gradient with
// respect to each (the parameters' Grad, and dx).
type gradProblem struct {
	m     *Model
	x, dx []float32
	loss  func() float64
}

// newGradProblem builds the model of tinyConfig edited by edit, with
// weights that make every gradient informative, and runs Forward and
// Backward once.
func newGradProblem(t *testing.T, edit func(*Config)) *gradProblem {
	t.Helper()
	c := tinyConfig()
	edit(&c)
	m, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	// A zero head would hide the body's gradients: give it weights.
	copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.5))
	if m.ClassToken != nil {
		copy(m.ClassToken.Data, gradcheck.Random(rng, c.Dim, 0.5))
	}
	for _, b := range m.Blocks {
		if b.RelPos != nil { // zero at initialisation, like BEiT's
			copy(b.RelPos.Table.Data, gradcheck.Random(rng, b.RelPos.Table.Size(), 0.5))
		}
	}
	if m.RegTokens != nil {
		// Zero tokens would sit where LayerNorm's gradient is 1/√eps.
		copy(m.RegTokens.Data, gradcheck.Random(rng, len(m.RegTokens.Data), 0.5))
	}
	if m.DistToken != nil && !c.learnedTable() {
		// Without a learned position embedding (sincos: a zero row;
		// learned-2d, none: no row) the distillation token is its small
		// initial draw, nearly constant.
		copy(m.DistToken.Data, gradcheck.Random(rng, c.Dim, 0.5))
	}
	if len(m.Stem) > 0 {
		// GELU maps much of a random map near 0, and LayerNorm
		// then magnifies tokens that are nearly constant: spread
		// the tokens so that finite differences stay accurate.
		copy(m.PatchEmbed.B.Data, gradcheck.Random(rng, c.Dim, 1))
		copy(m.PosEmbed.Data, gradcheck.Random(rng, len(m.PosEmbed.Data), 0.5))
	}
	batch := 2
	x := gradcheck.Random(rng, batch*c.Channels*c.ImageHeight*c.ImageWidth, 1)
	labels := []int{0, 2}
	ws := m.NewWorkspace(batch, true)
	loss := func() float64 {
		ws.Seed(7, 7)
		logits, err := m.Forward(ws, x, batch)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := nn.CrossEntropy(nil, logits, labels, c.Classes, 0.1)
		return l
	}
	dlogits := make([]float32, batch*c.Classes)
	ws.Seed(7, 7)
	logits, _ := m.Forward(ws, x, batch)
	nn.CrossEntropy(dlogits, logits, labels, c.Classes, 0.1)
	m.ZeroGrad()
	ws.inputGrad = make([]float32, len(x))
	if err := m.Backward(ws, dlogits, batch); err != nil {
		t.Fatal(err)
	}
	return &gradProblem{m: m, x: x, dx: ws.inputGrad, loss: loss}
}

// params lists the learned tensors and their gradients for gradcheck.Directional.
func (p *gradProblem) params() []gradcheck.Tensor {
	var ts []gradcheck.Tensor
	for _, q := range p.m.Params() {
		if !q.Frozen {
			ts = append(ts, gradcheck.Tensor{Name: q.Name, X: q.Data, Grad: q.Grad})
		}
	}
	return ts
}

// directional are the step and tolerances of the whole-model directional
// checks: float32 forward passes, a loss summed in float64.
var directional = gradcheck.DirectionalOptions{Eps: 1e-2, RTol: 2e-2, ATol: 3e-5, Dirs: 3, Seed: 1}

// TestModelBackward checks every parameter's gradient of the whole model
// against finite differences, entry by entry (a few probes per tensor), for
// each configuration of backwardCases.
func TestModelBackward(t *testing.T) { kernelpathtest.Run(t, testModelBackward) }

func testModelBackward(t *testing.T) {
	for _, tc := range backwardCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := newGradProblem(t, tc.edit)
			for _, q := range p.m.Params() {
				if q.Frozen {
					continue
				}
				gradcheck.Check(t, q.Name, q.Data, q.Grad, p.loss, 1e-2, 2e-2, 24)
			}
		})
	}
}

// TestModelDirectional checks the whole model's gradient along random
// directions (gradcheck.Directional): over every parameter at once, each
// parameter tensor alone, and the input image, for each configuration of
// backwardCases. TestDirectionalCatchesWrongGradients shows that the check
// fails when one tensor's gradient is halved or missing.
func TestModelDirectional(t *testing.T) { kernelpathtest.Run(t, testModelDirectional) }

func testModelDirectional(t *testing.T) {
	for _, tc := range backwardCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := newGradProblem(t, tc.edit)
			if err := gradcheck.Directional(p.params(), p.loss, directional); err != nil {
				t.Errorf("parameters:\n%v", err)
			}
			input := []gradcheck.Tensor{{Name: "input", X: p.x, Grad: p.dx}}
			if err := gradcheck.Directional(input, p.loss, directional); err != nil {
				t.Errorf("input:\n%v", err)
			}
		})
	}
}

// TestModelDirectionalBlocked is TestModelDirectional at a size where the
// GEMM works in blocks, on every kernel path set: 300 rows (more than one
// row block of every microkernel, spread over the workers) and weight
// gradients summed over 300 rows (more than one k block, so the kernels
// also accumulate into C). The tiny models above fit one block of each;
// TestReferenceModelBackward, larger still, runs on the default set alone.
// It checks the weight matrices, whose gradients are such products, each
// alone and all at once, and the input.
func TestModelDirectionalBlocked(t *testing.T) { kernelpathtest.Run(t, testModelDirectionalBlocked) }

func testModelDirectionalBlocked(t *testing.T) {
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 4, Dim: 40, Depth: 2, Heads: 4, MLPDim: 136, Classes: 10}
	m, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 9))
	copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.5))
	const batch = 6
	x := gradcheck.Random(rng, batch*c.Channels*c.ImageHeight*c.ImageWidth, 1)
	labels := []int{0, 1, 2, 3, 4, 5}
	ws := m.NewWorkspace(batch, true)
	loss := func() float64 {
		logits, err := m.Forward(ws, x, batch)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := nn.CrossEntropy(nil, logits, labels, c.Classes, 0)
		return l
	}
	dlogits := make([]float32, batch*c.Classes)
	logits, _ := m.Forward(ws, x, batch)
	nn.CrossEntropy(dlogits, logits, labels, c.Classes, 0)
	m.ZeroGrad()
	ws.inputGrad = make([]float32, len(x))
	if err := m.Backward(ws, dlogits, batch); err != nil {
		t.Fatal(err)
	}
	var ts []gradcheck.Tensor
	for _, q := range m.Params() {
		if len(q.Shape) == 2 && !q.Frozen {
			ts = append(ts, gradcheck.Tensor{Name: q.Name, X: q.Data, Grad: q.Grad})
		}
	}
	ts = append(ts, gradcheck.Tensor{Name: "input", X: x, Grad: ws.inputGrad})
	if err := gradcheck.Directional(ts, loss, directional); err != nil {
		t.Error(err)
	}
}

// TestDirectionalCatchesWrongGradients proves that the directional check
// can fail: on a correct gradient it passes, and with one tensor's gradient
// halved (a large weight matrix) or zeroed (a LayerNorm bias, the class
// token, the input) it reports that tensor.
func TestDirectionalCatchesWrongGradients(t *testing.T) {
	for _, tc := range []struct {
		tensor string
		break_ func([]float32)
	}{
		{"blocks.0.mlp.fc1.weight", func(g []float32) { kernelsScale(g, 0.5) }},
		{"head.bias", func(g []float32) { kernelsScale(g, 0.5) }},
		{"blocks.1.norm1.bias", func(g []float32) { clear(g) }},
		{"cls_token", func(g []float32) { clear(g) }},
		{"input", func(g []float32) { clear(g) }},
	} {
		t.Run(tc.tensor, func(t *testing.T) {
			p := newGradProblem(t, func(*Config) {})
			ts := p.params()
			if tc.tensor == "input" {
				ts = []gradcheck.Tensor{{Name: "input", X: p.x, Grad: p.dx}}
			}
			if err := gradcheck.Directional(ts, p.loss, directional); err != nil {
				t.Fatalf("correct gradients rejected: %v", err)
			}
			found := false
			for _, q := range ts {
				if q.Name == tc.tensor {
					tc.break_(q.Grad)
					found = true
				}
			}
			if !found {
				t.Fatalf("no tensor %s", tc.tensor)
			}
			err := gradcheck.Directional(ts, p.loss, directional)
			if err == nil || !strings.Contains(err.Error(), tc.tensor+":") {
				t.Fatalf("the check did not report the broken gradient of %s: %v", tc.tensor, err)
			}
			t.Logf("reported: %v", err)
		})
	}
}

func kernelsScale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// TestClassShortcut checks that the last block computing the class token
// alone (classBlock) gives the logits and gradients of the whole block, and
// that it is taken exactly when nothing else of the block's output is read.
func TestClassShortcut(t *testing.T) { kernelpathtest.Run(t, testClassShortcut) }

func testClassShortcut(t *testing.T) {
	defer func() { classShortcut = true }()
	cases := []struct {
		name  string
		edit  func(*Config)
		taken bool
	}{
		{"cls", func(*Config) {}, true},
		{"no-qkv-bias", func(c *Config) { c.NoQKVBias = true }, true},
		{"droppath", func(c *Config) { c.DropPath = 0.5 }, true},
		{"hybrid", hybridPatch2, true},
		{"gap", func(c *Config) { c.Pool = "gap" }, false},
		{"dropout", func(c *Config) { c.Dropout = 0.2 }, false},
		{"performer", func(c *Config) { c.Attention = "performer"; c.Features = 16 }, false},
		{"dinov2-reg-swiglu", func(c *Config) {
			c.Registers, c.LayerScale, c.FFN, c.PosGridH, c.PosGridW, c.PosResize = 2, true, "swiglu", 3, 4, "bicubic"
		}, true},
		{"clip", func(c *Config) { c.NormPre, c.Act, c.EmbedDim = true, "quick_gelu", 5 }, true},
		{"deit-cls-head", func(c *Config) { c.DistToken, c.NoDistHead = true, true }, true},
		{"deit-distilled", func(c *Config) { c.DistToken = true }, false},
		{"siglip", func(c *Config) { c.Pool, c.NoClassToken = "map", true }, false},
		{"avg", func(c *Config) { c.Pool = "avg" }, false},
		{"relative", func(c *Config) { c.PosEmbed = "relative" }, false},
		{"learned-2d-reg", func(c *Config) { c.PosEmbed, c.Registers = "learned-2d", 2 }, true},
		{"none-deit-cls-head", func(c *Config) { c.PosEmbed, c.DistToken, c.NoDistHead = "none", true, true }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig()
			c.Depth = 3
			tc.edit(&c)
			m, err := New(c, 1)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(4, 5))
			copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.5))
			batch := 3
			x := gradcheck.Random(rng, batch*c.Channels*c.ImageHeight*c.ImageWidth, 1)
			labels := []int{0, 2, 1}
			run := func(shortcut bool) (logits, predicted []float32, grads [][]float32) {
				classShortcut = shortcut
				ws := m.NewWorkspace(batch, true)
				ws.Seed(3, 9)
				out, err := m.Forward(ws, x, batch)
				if err != nil {
					t.Fatal(err)
				}
				if shortcut && ws.classOnly != tc.taken {
					t.Fatalf("shortcut taken: %v, want %v", ws.classOnly, tc.taken)
				}
				if skipped := c.SkippedFLOPs(true); shortcut && (skipped > 0) != tc.taken {
					t.Fatalf("SkippedFLOPs(train) = %d with the shortcut taken: %v", skipped, tc.taken)
				}
				logits = append(logits, out...)
				dlogits := make([]float32, batch*c.Classes)
				nn.CrossEntropy(dlogits, out, labels, c.Classes, 0.1)
				m.ZeroGrad()
				if err := m.Backward(ws, dlogits, batch); err != nil {
					t.Fatal(err)
				}
				for _, p := range m.Params() {
					grads = append(grads, append([]float32(nil), p.Grad...))
				}
				m.ResetWorkspaces()
				if predicted, err = m.Predict(x, batch); err != nil {
					t.Fatal(err)
				}
				return logits, predicted, grads
			}
			wantLogits, wantPredicted, wantGrads := run(false)
			logits, predicted, grads := run(true)
			close := func(what string, got, want []float32) {
				t.Helper()
				var scale float64
				for _, v := range want {
					scale = max(scale, math.Abs(float64(v)))
				}
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > 1e-5*scale+1e-9 {
						t.Fatalf("%s[%d] = %v with the shortcut, %v without", what, i, got[i], want[i])
					}
				}
			}
			close("logits", logits, wantLogits)
			close("Predict", predicted, wantPredicted)
			for i, p := range m.Params() {
				close(p.Name+" grad", grads[i], wantGrads[i])
			}
		})
	}
}

// TestInferenceMatchesTraining checks that the shared-buffer inference path
// and the training path give the same logits when no regulariser is active.
func TestInferenceMatchesTraining(t *testing.T) { kernelpathtest.Run(t, testInferenceMatchesTraining) }

func testInferenceMatchesTraining(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{{"plain", func(*Config) {}}, {"hybrid", hybridPatch2}, {"hybrid-1x1", hybrid1x1}} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig()
			c.Depth = 3
			tc.edit(&c)
			m, err := New(c, 4)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.5))
			batch := 3
			x := gradcheck.Random(rng, batch*c.Channels*c.ImageHeight*c.ImageWidth, 1)
			train, _ := m.Forward(m.NewWorkspace(batch, true), x, batch)
			infer, err := m.Predict(x, batch)
			if err != nil {
				t.Fatal(err)
			}
			for i := range train {
				if math.Abs(float64(train[i]-infer[i])) > 1e-5 {
					t.Fatalf("logit %d: train path %v, inference path %v", i, train[i], infer[i])
				}
			}
		})
	}
}

// hybridPatch2 makes tinyConfig a hybrid: two convolutions (stride 2 in
// all; the first with a LayerNorm) give a 4×6 map, cut into 2×2 patches.
func hybridPatch2(c *Config) {
	c.Stem = []StemConv{{Channels: 4, Kernel: 3, Stride: 1, Norm: true}, {Channels: 5, Kernel: 3, Stride: 2}}
	c.Patch = 2
}

// hybrid1x1 is the paper's special case: 1×1 patches of a 2×3 map.
func hybrid1x1(c *Config) {
	c.Stem = []StemConv{{Channels: 4, Kernel: 3, Stride: 2}, {Channels: 6, Kernel: 1, Stride: 2}}
	c.Patch = 1
}

func TestPatchify(t *testing.T) {
	// A 1×2×4×4 image with patch 2: the first patch of channel 0 is the top-left 2×2.
	x := make([]float32, 2*4*4)
	for i := range x {
		x[i] = float32(i)
	}
	p := make([]float32, 4*8)
	Patchify(p, x, 1, 2, 4, 4, 2)
	want := []float32{0, 1, 4, 5, 16, 17, 20, 21}
	for i, v := range want {
		if p[i] != v {
			t.Fatalf("patch 0 = %v, want %v", p[:8], want)
		}
	}
	// Patch 1 (row 0, column 1) starts at pixel 2.
	if p[8] != 2 || p[9] != 3 || p[10] != 6 {
		t.Fatalf("patch 1 = %v", p[8:16])
	}
}

func TestPresetsAndFLOPs(t *testing.T) {
	tests := []struct {
		name   string
		params int64 // the paper's Table 1 (millions) and timm's exact counts
		gflops float64
	}{
		{"B/16", 86567656, 35.1},
		{"L/16", 304326632, 123.1},
		{"Ti/16", 5717416, 2.5},
		{"S/16", 22050664, 9.2},
	}
	for _, tt := range tests {
		c, err := Preset(tt.name, 224, 3, 1000)
		if err != nil {
			t.Fatal(err)
		}
		m, err := newZero(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.NumParams(); got != tt.params {
			t.Errorf("%s: %d parameters, want %d", tt.name, got, tt.params)
		}
		if got := float64(c.FLOPs()) / 1e9; math.Abs(got-tt.gflops) > 0.05*tt.gflops {
			t.Errorf("%s: %.2f GFLOPs, want about %.1f", tt.name, got, tt.gflops)
		}
	}
	for _, bad := range []string{"X/16", "B", "B/0", "B/x"} {
		if _, err := Preset(bad, 224, 3, 10); err == nil {
			t.Errorf("Preset(%q) gave no error", bad)
		}
	}
	if _, err := Preset("B/16", 100, 3, 10); err == nil {
		t.Error("image 100 with patch 16 gave no error")
	}
}

// TestAttentionGradients checks the captured attention gradient against
// finite differences of the chosen logit: perturbing the attention input is
// not possible from outside, so check the identity Σ dlogit/dA ⊙ A-sized
// perturbation via the probabilities' own consistency: the captured probs
// equal Attention's and grads have the right shape and are not all zero.
func TestAttentionGradients(t *testing.T) { kernelpathtest.Run(t, testAttentionGradients) }

func testAttentionGradients(t *testing.T) {
	c := tinyConfig()
	m, _ := New(c, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.5))
	batch := 2
	x := gradcheck.Random(rng, batch*c.Channels*c.ImageHeight*c.ImageWidth, 1)
	probs, grads, logits, err := m.AttentionGradients(x, batch, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	want, wantLogits, _ := m.Attention(x, batch, []int{0, 1})
	for l := range c.Depth {
		for i, v := range want[l] {
			if math.Abs(float64(v-probs[l][i])) > 1e-6 {
				t.Fatalf("layer %d: probs differ from Attention's", l)
			}
		}
		nonzero := false
		for _, g := range grads[l] {
			nonzero = nonzero || g != 0
		}
		if len(grads[l]) != batch*c.Heads*c.Tokens()*c.Tokens() || !nonzero {
			t.Fatalf("layer %d: gradient of length %d, nonzero %v", l, len(grads[l]), nonzero)
		}
	}
	for i := range logits {
		if math.Abs(float64(logits[i]-wantLogits[i])) > 1e-5 {
			t.Fatal("logits differ from Predict's")
		}
	}
	for _, p := range m.Params() {
		for _, g := range p.Grad {
			if g != 0 {
				t.Fatalf("%s: parameter gradients changed", p.Name)
			}
		}
	}
}

// TestPerformerSwitch runs a softmax model with Performer attention: with
// many features its logits approach the softmax ones, and switching back
// restores them exactly.
func TestPerformerSwitch(t *testing.T) { kernelpathtest.Run(t, testPerformerSwitch) }

func testPerformerSwitch(t *testing.T) {
	c := tinyConfig()
	m, _ := New(c, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.5))
	// Moderate query·key products, the regime where FAVOR+'s variance is small.
	for _, b := range m.Blocks {
		for i := range b.QKV.W.Data[:2*c.Dim*c.Dim] {
			b.QKV.W.Data[i] *= 0.3
		}
	}
	batch := 2
	x := gradcheck.Random(rng, batch*c.Channels*c.ImageHeight*c.ImageWidth, 1)
	exact, _ := m.Predict(x, batch)
	if err := m.SetAttention("performer", 4096, 1); err != nil {
		t.Fatal(err)
	}
	if m.NumParams() != func() int64 { m2, _ := New(c, 4); return m2.NumParams() }() {
		t.Fatal("random features counted as parameters")
	}
	approx, err := m.Predict(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	var num, den float64
	for i := range exact {
		num += float64((approx[i] - exact[i]) * (approx[i] - exact[i]))
		den += float64(exact[i] * exact[i])
	}
	if rel := math.Sqrt(num / den); rel > 0.05 {
		t.Fatalf("performer logits differ from softmax by %.3f (relative)", rel)
	}
	if _, _, err := m.Attention(x, batch, []int{0}); err == nil {
		t.Fatal("attention maps of a Performer model gave no error")
	}
	m.SetAttention("softmax", 0, 0)
	back, _ := m.Predict(x, batch)
	for i := range exact {
		if back[i] != exact[i] {
			t.Fatal("switching back to softmax changed the logits")
		}
	}
	if err := m.SetAttention("linear", 0, 0); err == nil {
		t.Fatal("unknown attention gave no error")
	}
}

// TestPredictConcurrent runs Predict from many goroutines at once (run the
// suite with -race to check for data races) and checks every result equals
// the serial one.
func TestPredictConcurrent(t *testing.T) { kernelpathtest.Run(t, testPredictConcurrent) }

func testPredictConcurrent(t *testing.T) {
	c := tinyConfig()
	m, _ := New(c, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.5))
	x := gradcheck.Random(rng, 3*c.Channels*c.ImageHeight*c.ImageWidth, 1)
	want, _ := m.Predict(x, 3)
	errs := make(chan error, 16)
	for g := range 16 {
		go func() {
			for range 20 {
				got, err := m.Predict(x, 1+g%3)
				if err != nil {
					errs <- err
					return
				}
				for i := range got {
					if got[i] != want[i] {
						errs <- fmt.Errorf("goroutine %d: logit %d = %v, want %v", g, i, got[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestTrainStepAllocations checks that a training step allocates no
// buffers: what remains is the worker pool's goroutine hand-off.
func TestTrainStepAllocations(t *testing.T) { kernelpathtest.Run(t, testTrainStepAllocations) }

func testTrainStepAllocations(t *testing.T) {
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 4, Dim: 32, Depth: 2, Heads: 2, MLPDim: 64, Classes: 10, DropPath: 0.1, Dropout: 0.1}
	m, _ := New(c, 1)
	batch := 16
	x := make([]float32, batch*28*28)
	labels := make([]int, batch)
	dl := make([]float32, batch*10)
	ws := m.NewWorkspace(batch, true)
	step := func() {
		logits, _ := m.Forward(ws, x, batch)
		nn.CrossEntropy(dl, logits, labels, 10, 0)
		m.ZeroGrad()
		m.Backward(ws, dl, batch)
	}
	step()
	// The GEMM's packing buffers come with jobs from a sync.Pool, whose
	// per-CPU caches can hand a product a job that a smaller product
	// sized, which then grows its buffers: a round of steps may allocate
	// tens of KiB that way. A buffer the step does not reuse allocates in
	// every round; so the step passes when any of three rounds stays
	// within the bound.
	const steps, rounds, bound = 5, 3, 64 << 10
	var perStep uint64
	for range rounds {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range steps {
			step()
		}
		runtime.ReadMemStats(&after)
		perStep = (after.TotalAlloc - before.TotalAlloc) / steps
		t.Logf("%d bytes, %d allocations per step", perStep, (after.Mallocs-before.Mallocs)/steps)
		if perStep <= bound {
			return
		}
	}
	t.Fatalf("a training step allocates %d bytes; buffers should be reused", perStep)
}

// TestReferenceModelBackward checks gradients at the full size of the
// reference small ViT (28×28, patch 4, dim 128, depth 6, 4 heads, MLP 512),
// where the GEMM takes its blocked assembly paths, a few probes per tensor.
func TestReferenceModelBackward(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size gradient check skipped in -short mode")
	}
	// Through the finite differences a full-size model takes about 30 s
	// on two cores: this test runs on the default path set alone, while
	// every set runs the small models of the tests above.
	t.Logf("ran on the default kernel path set only: %s", kernelpathtest.Describe(kernelpath.Default()))
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 4, Dim: 128, Depth: 6, Heads: 4, MLPDim: 512, Classes: 10}
	m, _ := New(c, 1)
	rng := rand.New(rand.NewPCG(2, 3))
	copy(m.Head.W.Data, gradcheck.Random(rng, len(m.Head.W.Data), 0.2))
	batch := 16
	x := gradcheck.Random(rng, batch*28*28, 1)
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = i % 10
	}
	ws := m.NewWorkspace(batch, true)
	loss := func() float64 {
		logits, _ := m.Forward(ws, x, batch)
		l, _ := nn.CrossEntropy(nil, logits, labels, 10, 0)
		return l
	}
	dl := make([]float32, batch*10)
	logits, _ := m.Forward(ws, x, batch)
	nn.CrossEntropy(dl, logits, labels, 10, 0)
	m.ZeroGrad()
	if err := m.Backward(ws, dl, batch); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		gradcheck.Check(t, p.Name, p.Data, p.Grad, loss, 3e-3, 5e-2, 3)
	}
}

func TestHybridConfig(t *testing.T) {
	stem, err := ParseStem("32:3:1:ln, 64:3:2")
	if err != nil {
		t.Fatal(err)
	}
	if !stem[0].Norm || stem[1].Norm {
		t.Errorf("norms %v", stem)
	}
	if got := FormatStem(stem); got != "32:3:1:ln,64:3:2" {
		t.Errorf("FormatStem(ParseStem) = %q", got)
	}
	for _, bad := range []string{"32:3", "a:3:1", "32:3:1,", "32:3:1:1", "32:3:1:bn"} {
		if _, err := ParseStem(bad); err == nil {
			t.Errorf("ParseStem(%q): no error", bad)
		}
	}
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 2, Dim: 64, Depth: 6, Heads: 4, MLPDim: 256, Classes: 10, Stem: stem}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.StemStride() != 2 || c.PixelPatch() != 4 || c.GridH() != 7 || c.NumPatches() != 49 || c.PatchSize() != 64*2*2 {
		t.Errorf("stride %d, pixel patch %d, grid %d, patches %d, patch size %d", c.StemStride(), c.PixelPatch(), c.GridH(), c.NumPatches(), c.PatchSize())
	}
	plain := c
	plain.Stem, plain.Patch = nil, 4
	// The stem's two convolutions on 28×28 and 14×14 maps; the patch
	// embedding then reads 256 values per patch instead of 16.
	stemFLOPs := int64(2*28*28*1*9*32 + 2*14*14*32*9*64)
	embedDiff := int64(2 * 49 * (256 - 16) * 64)
	if got, want := c.FLOPs()-plain.FLOPs(), stemFLOPs+embedDiff; got != want {
		t.Errorf("hybrid FLOPs exceed plain by %d, want %d", got, want)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"even kernel", func(c *Config) { c.Stem = []StemConv{{Channels: 8, Kernel: 2, Stride: 1}} }},
		{"zero stride", func(c *Config) { c.Stem = []StemConv{{Channels: 8, Kernel: 3, Stride: 0}} }},
		{"no channels", func(c *Config) { c.Stem = []StemConv{{Channels: 0, Kernel: 3, Stride: 1}} }},
		{"indivisible", func(c *Config) {
			c.Stem = []StemConv{{Channels: 8, Kernel: 3, Stride: 2}, {Channels: 8, Kernel: 3, Stride: 2}}
		}},
	} {
		bad := c
		tc.edit(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestNewSeedsPerformerFeatures checks that New draws the Performer random
// features from its seed, as Config.RedrawEvery documents (they used to
// come from seed 0 whatever the seed), and that the features a block
// computes with are the tensor Params lists, so that whatever a loader or
// a redraw writes there is what the model uses.
func TestNewSeedsPerformerFeatures(t *testing.T) {
	c := tinyConfig()
	c.Attention, c.Features = "performer", 16
	features := func(seed uint64) []float32 {
		m, err := New(c, seed)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), m.Blocks[1].Performer.W.Data...)
	}
	a, b, a2 := features(1), features(2), features(1)
	if !slices.Equal(a, a2) {
		t.Fatal("New with the same seed drew different features")
	}
	if slices.Equal(a, b) {
		t.Fatal("New with seeds 1 and 2 drew the same features")
	}
	m, _ := New(c, 7)
	ref, _ := New(c, 0)
	ref.RedrawFeatures(7)
	for l, b := range m.Blocks {
		if !slices.Equal(b.Performer.W.Data, ref.Blocks[l].Performer.W.Data) {
			t.Fatalf("block %d: New(c, 7) features differ from RedrawFeatures(7)", l)
		}
		found := false
		for _, p := range m.Params() {
			found = found || p == b.Performer.W
		}
		if !found {
			t.Fatalf("block %d: the Performer's features are not among the model's Params", l)
		}
	}
}

// TestParamsOwnTheirData checks that a model is one set of tensors: no two
// of Params share memory, for every model option (a Performer's features
// used to live in two Params-visible places that loading could split).
func TestParamsOwnTheirData(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"cls", func(*Config) {}},
		{"gap", func(c *Config) { c.Pool = "gap" }},
		{"sincos", func(c *Config) { c.PosEmbed = "sincos" }},
		{"performer", func(c *Config) { c.Attention = "performer"; c.Features = 16 }},
		{"hybrid", hybridPatch2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig()
			tc.edit(&c)
			m, err := New(c, 1)
			if err != nil {
				t.Fatal(err)
			}
			owner := map[*float32]string{}
			names := map[string]bool{}
			for _, p := range m.Params() {
				if names[p.Name] {
					t.Fatalf("two tensors named %s", p.Name)
				}
				names[p.Name] = true
				for _, s := range [][]float32{p.Data, p.Grad} {
					for i := range s {
						if o, ok := owner[&s[i]]; ok {
							t.Fatalf("%s shares memory with %s", p.Name, o)
						}
						owner[&s[i]] = p.Name
					}
				}
			}
		})
	}
}

// TestEncoderPresets: the encoder families of Preset build the image towers
// with their modules; DINOv2-B/14's body has timm's vit_base_patch14_dinov2
// count, 86,579,712 values (patch embedding 452,352, class token 768,
// position embeddings 1,370·768, twelve blocks of 7,087,872 plus LayerScale
// 1,536, final norm 1,536).
func TestEncoderPresets(t *testing.T) {
	c, err := Preset("DINOv2-B/14", 224, 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if body := c.NumParams() - (768*1000 + 1000); body != 86579712 || !c.resamplesPos() || c.PosGridH != 37 {
		t.Errorf("DINOv2-B/14: %d body values, grid %d resampled %v", body, c.PosGridH, c.resamplesPos())
	}
	c, err = Preset("CLIP-B/16", 224, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.FeatureDim() != 512 || c.Tokens() != 197 || !c.NormPre || c.Act != "quick_gelu" {
		t.Errorf("CLIP-B/16: %+v", c)
	}
	for _, name := range []string{"SigLIP-B/16", "DINOv2reg-S/14", "DeiT-Ti/16"} {
		if _, err := Preset(name, 224, 3, 10); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Preset("BEiT-B/16", 224, 3, 10); err == nil {
		t.Error("an unknown family was accepted")
	}
}
