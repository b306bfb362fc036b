package viz

import (
	"math"
	"testing"

	"github.com/vitgo/vit"
)

func TestPCARecoversComponents(t *testing.T) {
	const rows, cols = 400, 12
	// Two orthonormal directions u1, u2 with variances 9 and 1 (plus a
	// mean offset that PCA must remove).
	u1 := make([]float64, cols)
	u2 := make([]float64, cols)
	u1[0], u1[3] = 0.6, 0.8
	u2[5], u2[7] = -math.Sqrt(0.5), math.Sqrt(0.5)
	x := make([]float32, rows*cols)
	for r := range rows {
		// Deterministic zero-mean coefficients: ±3 and ±1 in all four
		// combinations, so that a and b are uncorrelated.
		a := 3.0 * float64(1-2*(r%2))
		b := 1.0 * float64(1-2*((r/2)%2))
		for j := range cols {
			x[r*cols+j] = float32(a*u1[j] + b*u2[j] + 0.25*float64(j))
		}
	}
	p, err := PrincipalComponents(x, rows, cols, 5)
	if err != nil {
		t.Fatal(err)
	}
	dot := func(a, b []float64) float64 {
		s := 0.0
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	if d := math.Abs(dot(p.Components[0], u1)); d < 1-1e-6 {
		t.Fatalf("first component %v, |·u1| = %v", p.Components[0], d)
	}
	if d := math.Abs(dot(p.Components[1], u2)); d < 1-1e-6 {
		t.Fatalf("second component %v, |·u2| = %v", p.Components[1], d)
	}
	if math.Abs(p.Explained[0]-0.9) > 1e-6 || math.Abs(p.Explained[1]-0.1) > 1e-6 {
		t.Fatalf("explained %v, want 0.9, 0.1, 0...", p.Explained)
	}
	if math.Abs(p.Variance[0]-9) > 1e-4 {
		t.Fatalf("variance %v, want 9", p.Variance[0])
	}
	total := 0.0
	for _, e := range p.Explained {
		total += e
	}
	if total > 1+1e-9 {
		t.Fatalf("explained variances sum to %v", total)
	}
	// Sign convention: the largest entry of each component is positive.
	for _, c := range p.Components[:2] {
		big := 0
		for i := range c {
			if math.Abs(c[i]) > math.Abs(c[big]) {
				big = i
			}
		}
		if c[big] < 0 {
			t.Fatalf("component %v has a negative largest entry", c)
		}
	}
}

func TestEmbeddingPCAOfModel(t *testing.T) {
	m, err := vit.New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := EmbeddingPCA(m, 28)
	if err != nil {
		t.Fatal(err)
	}
	// dim 16 filters of 48 values: at most 15 non-zero directions.
	if len(p.Components) != 28 || len(p.Components[0]) != 48 {
		t.Fatalf("%d components of %d", len(p.Components), len(p.Components[0]))
	}
	total := 0.0
	for i, e := range p.Explained {
		if e < 0 || (i > 0 && e > p.Explained[i-1]+1e-12) {
			t.Fatalf("explained variances not sorted: %v", p.Explained)
		}
		total += e
	}
	if total > 1+1e-9 || total < 0.999 {
		t.Fatalf("explained variance sums to %v", total)
	}
	img := FilterImage(p.Components, 3, 4, 7)
	if img.Bounds().Dx() != 7*48+8*3 || img.Bounds().Dy() != 4*48+5*3 {
		t.Fatalf("filter image %v", img.Bounds())
	}
}

func TestPositionSimilarity(t *testing.T) {
	for _, pe := range []string{"learned", "sincos"} {
		c := tinyConfig()
		c.PosEmbed = pe
		m, err := vit.New(c, 4)
		if err != nil {
			t.Fatal(err)
		}
		s := PositionSimilarity(m)
		n := c.NumPatches()
		if len(s) != n {
			t.Fatalf("%d rows, want %d", len(s), n)
		}
		for i := range n {
			if math.Abs(s[i][i]-1) > 1e-12 {
				t.Fatalf("self-similarity %v", s[i][i])
			}
			for j := range n {
				if s[i][j] != s[j][i] || s[i][j] < -1 || s[i][j] > 1 {
					t.Fatalf("s[%d][%d] = %v, s[%d][%d] = %v", i, j, s[i][j], j, i, s[j][i])
				}
			}
		}
		if pe == "sincos" {
			// Fixed embeddings: neighbours are more alike than far patches.
			if !(s[0][1] > s[0][n-1]) {
				t.Fatalf("sincos: neighbour %v, far %v", s[0][1], s[0][n-1])
			}
		}
	}
	// Exact values on constructed vectors.
	x := []float32{1, 0, 0, 2, 1, 1, 0, 0}
	s := CosineSimilarity(x, 4, 2)
	if s[0][1] != 0 || math.Abs(s[0][2]-math.Sqrt(0.5)) > 1e-12 || s[3][0] != 0 || s[3][3] != 1 {
		t.Fatalf("cosine similarity %v", s)
	}
}

// TestPixelFiltersOfHybrid checks that a hybrid's first convolution
// kernels come out in FilterImage's (channel, row, column) order.
func TestPixelFiltersOfHybrid(t *testing.T) {
	c := tinyConfig()
	c.Stem = []vit.StemConv{{Channels: 2, Kernel: 3, Stride: 2}}
	c.Patch = 2
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	conv := m.Stem[0].Conv
	for i := range conv.Dense.W.Data {
		conv.Dense.W.Data[i] = float32(i) // W[o, ky, kx, ch] = ((o·3+ky)·3+kx)·3+ch
	}
	w, n, side := PixelFilters(m)
	if n != 2 || side != 3 || len(w) != 2*3*3*3 {
		t.Fatalf("%d filters of side %d, %d values", n, side, len(w))
	}
	for o := range 2 {
		for ch := range 3 {
			for ky := range 3 {
				for kx := range 3 {
					if got, want := w[((o*3+ch)*3+ky)*3+kx], float32(((o*3+ky)*3+kx)*3+ch); got != want {
						t.Fatalf("filter %d channel %d (%d, %d) = %v, want %v", o, ch, ky, kx, got, want)
					}
				}
			}
		}
	}
}
