package imageio

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The goldens are written by testdata/gen.py with Pillow; see its doc
// string. These tests only read files.

type goldenRecord struct {
	Kind   string          `json:"kind"`
	Input  string          `json:"input"`
	Golden string          `json:"golden"`
	Mode   string          `json:"mode"`
	W      int             `json:"w"`
	H      int             `json:"h"`
	SHA256 string          `json:"sha256"`
	Crop   []int           `json:"crop"` // x, y, w, h
	Filter string          `json:"filter"`
	Params json.RawMessage `json:"params"`
	Shape  []int           `json:"shape"`
	Head   [][]float32     `json:"head"`
}

type goldenIndex struct {
	Pillow  string         `json:"pillow"`
	Records []goldenRecord `json:"records"`
}

func readGoldens(t *testing.T) goldenIndex {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenIndex
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func mustLoad(t *testing.T, path string) *RGB {
	t.Helper()
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func cropRGB(m *RGB, c []int) *RGB {
	if c == nil {
		return m
	}
	return crop(m, c[0], c[1], c[2], c[3])
}

// diffStats compares two equal-sized sample slices.
type diffStats struct {
	n, exact int
	max      int
	sum      float64
}

func (d *diffStats) add(a, b []uint8) {
	for i := range a {
		v := int(a[i]) - int(b[i])
		if v < 0 {
			v = -v
		}
		d.n++
		if v == 0 {
			d.exact++
		}
		d.max = max(d.max, v)
		d.sum += float64(v)
	}
}

func (d diffStats) exactFrac() float64 { return float64(d.exact) / float64(max(d.n, 1)) }
func (d diffStats) mean() float64      { return d.sum / float64(max(d.n, 1)) }

func TestGoldenDecode(t *testing.T) {
	g := readGoldens(t)
	for _, r := range g.Records {
		if r.Kind != "decode" {
			continue
		}
		t.Run(r.Input, func(t *testing.T) {
			m := mustLoad(t, filepath.Join("testdata/in", r.Input))
			if m.W != r.W || m.H != r.H {
				t.Fatalf("size %dx%d, Pillow %dx%d", m.W, m.H, r.W, r.H)
			}
			sum := sha256.Sum256(m.Pix)
			same := hex.EncodeToString(sum[:]) == r.SHA256
			if r.Golden == "" {
				if !same {
					t.Errorf("%s (Pillow mode %s): pixels differ from Pillow's convert(\"RGB\")", r.Input, r.Mode)
				}
				return
			}
			gold := mustLoad(t, filepath.Join("testdata/golden", r.Golden))
			var d diffStats
			d.add(cropRGB(m, r.Crop).Pix, gold.Pix)
			t.Logf("%-20s mode %-4s identical=%v exact %.4f  mean|d| %.4f  max %d", r.Input, r.Mode, same, d.exactFrac(), d.mean(), d.max)
			// Lossy decoders: Go's inverse DCT (and VP8 loop filter rounding)
			// are not libjpeg's/libwebp's, so a few levels of difference remain.
			if d.mean() > 0.1 || d.max > 4 {
				t.Errorf("%s: decode differs from Pillow: mean|d| %.3f, max %d", r.Input, d.mean(), d.max)
			}
		})
	}
}

func TestGoldenResize(t *testing.T) {
	g := readGoldens(t)
	srcs := map[string]*RGB{}
	per := map[string]*diffStats{}
	for _, r := range g.Records {
		if r.Kind != "resize" {
			continue
		}
		src := srcs[r.Input]
		if src == nil {
			src = mustLoad(t, filepath.Join("testdata/in", r.Input))
			srcs[r.Input] = src
		}
		f, err := ParseFilter(r.Filter)
		if err != nil {
			t.Fatal(err)
		}
		got := Resize(cropRGB(src, r.Crop), r.W, r.H, f)
		gold := mustLoad(t, filepath.Join("testdata/golden", r.Golden))
		var d diffStats
		d.add(got.Pix, gold.Pix)
		if per[r.Filter] == nil {
			per[r.Filter] = &diffStats{}
		}
		p := per[r.Filter]
		p.n, p.exact, p.sum, p.max = p.n+d.n, p.exact+d.exact, p.sum+d.sum, max(p.max, d.max)
		// Resize claims Pillow's result bit for bit (integer fixed-point
		// arithmetic, as Pillow's): every sample must be equal.
		if d.max != 0 {
			t.Errorf("%s: differs from Pillow: %.5f of samples equal, max |d| %d", r.Golden, d.exactFrac(), d.max)
		}
	}
	for _, f := range []string{"nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"} {
		if d := per[f]; d != nil {
			t.Logf("resize %-8s %8d samples: exact %.6f, max |d| %d", f, d.n, d.exactFrac(), d.max)
		}
	}
}

func TestGoldenPipelines(t *testing.T) {
	g := readGoldens(t)
	for _, r := range g.Records {
		if r.Kind != "hf" && r.Kind != "timm" {
			continue
		}
		t.Run(strings.TrimSuffix(r.Golden, ".png"), func(t *testing.T) {
			var pp struct {
				Size          []int
				Resample      string
				Interpolation string
				Crop          []int
				Rescale       float64
				CropPct       float64 `json:"crop_pct"`
				Mean, Std     []float32
			}
			if err := json.Unmarshal(r.Params, &pp); err != nil {
				t.Fatal(err)
			}
			var mean, std [3]float32
			copy(mean[:], pp.Mean)
			copy(std[:], pp.Std)
			var pre Preprocessor
			switch r.Kind {
			case "hf":
				f, _ := ParseFilter(pp.Resample)
				p := HFProcessor{Size: Size{pp.Size[0], pp.Size[1]}, Resample: f, RescaleFactor: pp.Rescale, Mean: mean, Std: std}
				if pp.Crop != nil {
					p.CropSize = Size{pp.Crop[0], pp.Crop[1]}
				}
				pre = p
			case "timm":
				f, _ := ParseFilter(pp.Interpolation)
				pre = TimmTransform{InputSize: Size{pp.Size[0], pp.Size[1]}, CropPct: pp.CropPct, Interpolation: f, Mean: mean, Std: std}
			}
			img := mustLoad(t, filepath.Join("testdata/in", r.Input))
			got, err := pre.Preprocess(img)
			if err != nil {
				t.Fatal(err)
			}
			H, W := r.Shape[1], r.Shape[2]
			if len(got) != 3*H*W {
				t.Fatalf("len %d, want 3x%dx%d", len(got), H, W)
			}
			gold := mustLoad(t, filepath.Join("testdata/golden", r.Golden))
			// Compare in pixel units: undo the normalisation of our tensor.
			var sum, maxd float64
			exact := 0
			for c := 0; c < 3; c++ {
				for i := 0; i < H*W; i++ {
					v := (float64(got[c*H*W+i])*float64(std[c]) + float64(mean[c])) * 255
					d := math.Abs(v - float64(gold.Pix[i*3+c]))
					sum += d
					maxd = max(maxd, d)
					if d < 1e-3 {
						exact++
					}
				}
			}
			n := float64(3 * H * W)
			t.Logf("%-28s exact %.5f  mean|d| %.4f levels (%.2e in [0,1] units)  max %.1f", r.Golden, float64(exact)/n, sum/n, sum/n/255, maxd)
			if sum/n > 1 {
				t.Errorf("mean |diff| %.3f levels > 1/255", sum/n)
			}
			if !strings.HasSuffix(r.Input, ".jpg") {
				if maxd > 1.001 {
					t.Errorf("max |diff| %.2f levels on a lossless input", maxd)
				}
				// The float arithmetic itself must be Python's, bit for bit.
				for c := 0; c < 3; c++ {
					for i, want := range r.Head[c] {
						if got[c*H*W+i] != want {
							t.Errorf("tensor[%d,0,%d] = %v, Python %v", c, i, got[c*H*W+i], want)
						}
					}
				}
			}
		})
	}
}
