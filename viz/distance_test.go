package viz

import (
	"math"
	"testing"

	"github.com/vitgo/vit"
)

// attentionFrom builds [1, 1, tokens, tokens] attention where patch i gives
// weight w(i, j) to patch j and cls to the class token; rows are normalised.
func attentionFrom(g Grid, cls float64, w func(i, j int) float64) []float32 {
	t, n, f := g.Tokens(), g.Patches(), g.first()
	a := make([]float32, t*t)
	for i := range t {
		row := make([]float64, t)
		if g.ClassToken {
			row[0] = cls
		}
		for j := range n {
			if i >= f {
				row[f+j] = w(i-f, j)
			} else {
				row[f+j] = 1 // the class token's own row: ignored
			}
		}
		s := 0.0
		for _, v := range row {
			s += v
		}
		for j := range row {
			a[i*t+j] = float32(row[j] / s)
		}
	}
	return a
}

func TestMeanDistanceLocal(t *testing.T) {
	for _, cls := range []bool{true, false} {
		g := Grid{H: 4, W: 5, Patch: 8, ClassToken: cls}
		// Attending only to itself (plus the class token): distance 0.
		self := attentionFrom(g, 3, func(i, j int) float64 {
			if i == j {
				return 1
			}
			return 0
		})
		d, err := MeanDistance(self, 1, 1, g)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(d[0]) > 1e-6 {
			t.Fatalf("self attention distance %v, want 0", d[0])
		}
		// Equal attention to the 4-neighbours that exist: every neighbour is
		// one patch away, so the distance is exactly the patch size.
		near := attentionFrom(g, 0.5, func(i, j int) float64 {
			dy, dx := i/g.W-j/g.W, i%g.W-j%g.W
			if dx*dx+dy*dy == 1 {
				return 1
			}
			return 0
		})
		d, err = MeanDistance(near, 1, 1, g)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(d[0]-8) > 1e-4 {
			t.Fatalf("4-neighbour attention distance %v, want 8", d[0])
		}
	}
}

func TestMeanDistanceUniform(t *testing.T) {
	// 2×2 grid: from each patch the distances are 0, P, P, P√2.
	const p = 16
	g := Grid{H: 2, W: 2, Patch: p, ClassToken: true}
	uni := attentionFrom(g, 7, func(i, j int) float64 { return 1 })
	// Two heads, two images: a self-attending head and the uniform one.
	self := attentionFrom(g, 7, func(i, j int) float64 {
		if i == j {
			return 1
		}
		return 0
	})
	var att []float32
	for range 2 {
		att = append(att, self...)
		att = append(att, uni...)
	}
	d, err := MeanDistance(att, 2, 2, g)
	if err != nil {
		t.Fatal(err)
	}
	want := (2*p + p*math.Sqrt2) / 4
	if math.Abs(d[0]) > 1e-6 || math.Abs(d[1]-want) > 1e-4 {
		t.Fatalf("distances %v, want [0 %v]", d, want)
	}
	// A 3×3 grid, uniform: the mean over all ordered pairs of patches.
	g = Grid{H: 3, W: 3, Patch: 1}
	uni = attentionFrom(g, 0, func(i, j int) float64 { return 1 })
	d, err = MeanDistance(uni, 1, 1, g)
	if err != nil {
		t.Fatal(err)
	}
	// Per query the sum of distances is: corner 1+1+2+2+√2+√5·2+√8 (×4),
	// edge 1·3+√2·2+2+√5·2 (×4), centre 1·4+√2·4; all over 81 pairs.
	corner := 1 + 1 + 2 + 2 + math.Sqrt2 + 2*math.Sqrt(5) + math.Sqrt(8)
	edge := 3 + 2*math.Sqrt2 + 2 + 2*math.Sqrt(5)
	centre := 4 + 4*math.Sqrt2
	want = (4*corner + 4*edge + centre) / 81
	if math.Abs(d[0]-want) > 1e-5 {
		t.Fatalf("3×3 uniform distance %v, want %v", d[0], want)
	}
	if u := UniformDistance(g); math.Abs(u-want) > 1e-9 {
		t.Fatalf("UniformDistance of a 3×3 grid: %v, want %v", u, want)
	}
	// The report's 7×7 grid of 4-pixel patches (Fashion-MNIST, patch 4).
	if u := UniformDistance(Grid{H: 7, W: 7, Patch: 4}); math.Abs(u-14.4) > 0.05 {
		t.Fatalf("UniformDistance of 7×7 patches of 4 pixels: %v, want about 14.4", u)
	}
}

func TestMeanAttentionDistanceModel(t *testing.T) {
	c := tinyConfig()
	m, err := vit.New(c, 2)
	if err != nil {
		t.Fatal(err)
	}
	n := 5
	x := make([]float32, n*3*16*12)
	for i := range x {
		x[i] = float32(math.Cos(float64(i) * 0.37))
	}
	d, err := MeanAttentionDistance(m, x, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	diag := math.Hypot(12-4, 16-4)
	if len(d) != c.Depth || len(d[0]) != c.Heads {
		t.Fatalf("shape %d×%d", len(d), len(d[0]))
	}
	for _, l := range d {
		for _, v := range l {
			if !(v > 0 && v <= diag) {
				t.Fatalf("distance %v out of (0, %v]", v, diag)
			}
		}
	}
	// The mean over images equals the mean of per-image distances.
	g := GridOf(c)
	probs, _, err := m.Attention(x, n, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := MeanDistance(probs[1], n, c.Heads, g)
	if err != nil {
		t.Fatal(err)
	}
	for h := range direct {
		if math.Abs(direct[h]-d[1][h]) > 1e-9 {
			t.Fatalf("head %d: %v vs %v", h, direct[h], d[1][h])
		}
	}
}

func TestDistanceSummaries(t *testing.T) {
	d := [][]float64{{2, 4, 9}, {6, 6, 6}, {10, 11, 12}}
	got := DistanceByLayer(d)
	want := []LayerDistance{{5, 2, 9}, {6, 6, 6}, {11, 10, 12}}
	for l := range want {
		if math.Abs(got[l].Mean-want[l].Mean) > 1e-12 || got[l].Min != want[l].Min || got[l].Max != want[l].Max {
			t.Errorf("layer %d: %+v, want %+v", l+1, got[l], want[l])
		}
	}
	// Layer means 5, 6, 11 with 3 heads each: slope (11−5)/2 = 3 px per layer.
	for _, tc := range []struct {
		d    [][]float64
		want float64
	}{{d, 3}, {[][]float64{{7, 7}, {7, 7}}, 0}, {[][]float64{{9}, {5}}, -4}, {[][]float64{{3, 4}}, 0}, {nil, 0}} {
		if g := DistanceGrowth(tc.d); math.Abs(g-tc.want) > 1e-12 {
			t.Errorf("DistanceGrowth(%v) = %v, want %v", tc.d, g, tc.want)
		}
	}
}
