package checkpoint

import (
	"math"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/vitgo/vit/safetensors"
)

// The goldens come from testdata/gen.py: torch modules reproducing Hugging
// Face's and timm's ViT forward passes, saved in each layout.

const logitTol = 1e-4 // absolute, on logits
const posTol = 1e-5   // absolute, on resampled position embeddings

func golden(t *testing.T) map[string][]float32 {
	t.Helper()
	return goldenFile(t, filepath.Join("testdata", "golden.safetensors"))
}

// goldenFile reads every tensor of a safetensors file as float32.
func goldenFile(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := map[string][]float32{}
	for _, n := range f.Names() {
		d, _, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		g[n] = d
	}
	return g
}

// maxDiff returns the largest absolute difference of two equal-length slices.
func maxDiff(t *testing.T, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	var m float64
	for i := range got {
		m = max(m, math.Abs(float64(got[i])-float64(want[i])))
	}
	return m
}

// topK returns the indices of the k largest values of each row.
func topK(x []float32, rows, k int) [][]int {
	cols := len(x) / rows
	var out [][]int
	for r := range rows {
		row := x[r*cols : (r+1)*cols]
		idx := make([]int, cols)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		out = append(out, idx[:min(k, cols)])
	}
	return out
}

func checkLogits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	d := maxDiff(t, got, want)
	t.Logf("%s: max |Δlogit| = %.2g", name, d)
	if d > logitTol {
		t.Errorf("%s: logits differ from torch by %.3g (> %g)\n got %v\nwant %v", name, d, logitTol, got, want)
	}
	if g, w := topK(got, 2, 5), topK(want, 2, 5); !slices.EqualFunc(g, w, slices.Equal) {
		t.Errorf("%s: top-5 %v, torch %v", name, g, w)
	}
}

func TestPretrainedFormats(t *testing.T) {
	g := golden(t)
	for _, tc := range []struct {
		path, format, input, want string
		image                     [2]int
	}{
		{"hf", FormatHF, "x16", "a/hf", [2]int{16, 16}},
		{"hf/model.safetensors", FormatHF, "x16", "a/hf", [2]int{16, 16}},
		{"timm", FormatTimm, "x16", "a/timm", [2]int{16, 16}},
		{"timm/model.safetensors", FormatTimm, "x16", "a/timm", [2]int{16, 16}},
		{"jax.npz", FormatJAX, "x16", "a/timm", [2]int{16, 16}},
		{"hf_rect", FormatHF, "x16x12", "b/hf", [2]int{16, 12}},
		{"timm_rect", FormatTimm, "x16x12", "b/timm", [2]int{16, 12}},
		{"jax_prelogits.npz", FormatJAX, "x16", "c/jax", [2]int{16, 16}},
		{"big_vision_gap.npz", FormatJAX, "x16", "d/jax", [2]int{16, 16}},
		// The same weights saved by torch.save (gen_bin.py): one file, and
		// two shards with their index.
		{"hf_bin", FormatHF, "x16", "a/hf", [2]int{16, 16}},
		{"hf_bin/pytorch_model.bin", FormatHF, "x16", "a/hf", [2]int{16, 16}},
		{"timm_bin", FormatTimm, "x16", "a/timm", [2]int{16, 16}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p, err := LoadPretrained(filepath.Join("testdata", tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != tc.format {
				t.Errorf("format %q, want %q", p.Format, tc.format)
			}
			c := p.Model.Config
			if c.ImageHeight != tc.image[0] || c.ImageWidth != tc.image[1] {
				t.Errorf("image %d×%d, want %d×%d", c.ImageHeight, c.ImageWidth, tc.image[0], tc.image[1])
			}
			got, err := p.Predict(g[tc.input], 2)
			if err != nil {
				t.Fatal(err)
			}
			checkLogits(t, tc.path, got, g[tc.want])
		})
	}
}

func TestPretrainedConfig(t *testing.T) {
	p, err := LoadPretrained(filepath.Join("testdata", "hf"))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Model.Config
	if c.Dim != 16 || c.Depth != 2 || c.Heads != 4 || c.MLPDim != 32 || c.Patch != 4 || c.Classes != 5 || c.LayerNormEps != 1e-12 {
		t.Errorf("HF config %+v", c)
	}
	if len(c.Labels) != 5 || c.Labels[2] != "great white shark" {
		t.Errorf("labels %v", c.Labels)
	}
	if !slices.Equal(c.Mean, []float32{0.5, 0.5, 0.5}) || !slices.Equal(c.Std, []float32{0.5, 0.5, 0.5}) {
		t.Errorf("normalisation %v %v, want preprocessor_config's 0.5", c.Mean, c.Std)
	}
	p, err = LoadPretrained(filepath.Join("testdata", "timm_rect"))
	if err != nil {
		t.Fatal(err)
	}
	c = p.Model.Config
	if !c.NoQKVBias || c.LayerNormEps != 1e-6 || c.Mean[0] != 0.485 || c.Std[2] != 0.225 || c.Labels[0] != "tench" {
		t.Errorf("timm config %+v", c)
	}
	if m, err := Load(filepath.Join("testdata", "jax_prelogits.npz")); err != nil || m.PreLogits == nil || m.Config.RepresentationSize == 0 {
		t.Errorf("Load of a pre-logits checkpoint: %v; want the pre-logits layer in the model", err)
	}
	m, err := Load(filepath.Join("testdata", "big_vision_gap.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Pool != "gap" || m.Config.Depth != 1 {
		t.Errorf("big_vision config %+v", m.Config)
	}
}

func TestHFViTModelHeadless(t *testing.T) {
	g := golden(t)
	p, err := LoadPretrained(filepath.Join("testdata", "hf_base"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Headless || p.Pooler == nil || len(p.Notes) == 0 {
		t.Fatalf("headless %v, pooler %v, notes %q", p.Headless, p.Pooler != nil, p.Notes)
	}
	f, err := p.Model.Features(g["x16"], 2)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "ViTModel features", f, g["e/features"], logitTol)
	pooled, err := p.PooledOutput(g["x16"], 2)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "ViTModel pooler", pooled, g["e/pooler"], logitTol)
	for _, v := range p.Model.Head.W.Data {
		if v != 0 {
			t.Fatal("head of a headless checkpoint is not zero")
		}
	}
}

func checkClose(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	d := maxDiff(t, got, want)
	t.Logf("%s: max |Δ| = %.2g", name, d)
	if d > tol {
		t.Errorf("%s differs by %.3g (> %g)", name, d, tol)
	}
}

func TestResizePosEmbedMatchesTorch(t *testing.T) {
	g := golden(t)
	for _, tc := range []struct {
		model, key   string
		oldH, oldW   int
		newH, newW   int
		cls          bool
		fromPosEmbed string
	}{
		{"timm", "a/pos6x6", 4, 4, 6, 6, true, ""},
		{"timm", "a/pos2x2", 4, 4, 2, 2, true, ""},
		{"timm", "a/pos3x5", 4, 4, 3, 5, true, ""},
		{"timm_rect", "b/pos6x5", 4, 3, 6, 5, true, ""},
	} {
		p, err := LoadPretrained(filepath.Join("testdata", tc.model))
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range ResizeMethods {
			// The conventions really differ, so matching one is a test.
			other := g[tc.key+"/"+ResizeMethods[(i+1)%len(ResizeMethods)]]
			if d := maxDiff(t, g[tc.key+"/"+m], other); d < 1e-3 {
				t.Errorf("%s: %s and the next method differ by only %g", tc.key, m, d)
			}
			got := ResizePosEmbed(p.Model.PosEmbed.Data, tc.oldH, tc.oldW, tc.newH, tc.newW, p.Model.Config.Dim, tc.cls, m)
			checkClose(t, tc.key+"/"+m, got, g[tc.key+"/"+m], posTol)
		}
	}
}

func TestAdaptToImageMatchesTorch(t *testing.T) {
	g := golden(t)
	for _, tc := range []struct {
		model, input, want string
		h, w               int
	}{
		{"timm", "x24", "a/timm24/", 24, 24},
		{"timm_rect", "x24x20", "b/timm24x20/", 24, 20},
	} {
		for _, method := range ResizeMethods {
			m, err := Load(filepath.Join("testdata", tc.model))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Predict(g["x16"][:2*3*m.Config.ImageHeight*m.Config.ImageWidth], 2); err != nil {
				t.Fatal(err) // fills the workspace pool at the old size
			}
			if err := AdaptToImage(m, tc.h, tc.w, method); err != nil {
				t.Fatal(err)
			}
			got, err := m.Predict(g[tc.input], 2)
			if err != nil {
				t.Fatal(err)
			}
			checkLogits(t, tc.model+"@"+method, got, g[tc.want+method])
		}
	}
	// Hugging Face's own forward with interpolate_pos_encoding=True.
	m, err := Load(filepath.Join("testdata", "hf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := AdaptToImage(m, 24, 24, ResizeBicubic); err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(g["x24"], 2)
	if err != nil {
		t.Fatal(err)
	}
	checkLogits(t, "hf@bicubic", got, g["a/hf24/bicubic"])
	if err := AdaptToImage(m, 25, 24, ResizeBicubic); err == nil {
		t.Error("AdaptToImage to a side that is not a multiple of the patch succeeded")
	}
	if err := AdaptToImage(m, 24, 24, "nearest"); err == nil {
		t.Error("AdaptToImage with an unknown method succeeded")
	}
}
