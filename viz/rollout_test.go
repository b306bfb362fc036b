package viz

import (
	"math"
	"testing"

	"github.com/vitgo/vit"
)

// randomAttention returns heads row-stochastic t×t matrices.
func randomAttention(seed uint64, heads, t int) []float32 {
	a := make([]float32, heads*t*t)
	s := seed
	for i := range a {
		s = s*6364136223846793005 + 1442695040888963407
		a[i] = float32(s>>40)/float32(1<<24) + 0.01
	}
	for r := range heads * t {
		row := a[r*t : (r+1)*t]
		sum := float32(0)
		for _, v := range row {
			sum += v
		}
		for j := range row {
			row[j] /= sum
		}
	}
	return a
}

func checkRows(t *testing.T, what string, m []float64, n int) {
	t.Helper()
	for i := range n {
		s := 0.0
		for _, v := range m[i*n : (i+1)*n] {
			if v < 0 {
				t.Fatalf("%s: negative entry in row %d", what, i)
			}
			s += v
		}
		if math.Abs(s-1) > 1e-9 {
			t.Fatalf("%s: row %d sums to %v", what, i, s)
		}
	}
}

func TestRolloutRowsSumToOne(t *testing.T) {
	const heads, tokens, layers = 3, 10, 4
	var att [][]float32
	for l := range layers {
		att = append(att, randomAttention(uint64(l+1), heads, tokens))
	}
	for _, opt := range []RolloutOptions{{}, {Fuse: FuseMax}, {Fuse: FuseMin, Discard: 0.5}, {Fuse: FuseMean, Discard: 0.9}} {
		// Every stage of one layer.
		for l, a := range att {
			f := fuseHeads(a, heads, tokens, opt.Fuse)
			discardLowest(f, tokens, 1, opt.Discard)
			addIdentity(f, tokens)
			checkRows(t, string(opt.Fuse)+" layer", f, tokens)
			_ = l
		}
		js, err := RolloutLayers(att, heads, tokens, 1, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range js {
			checkRows(t, "joint "+string(opt.Fuse), j, tokens)
		}
	}
	grads := make([][]float32, layers)
	for l := range grads {
		grads[l] = randomAttention(uint64(l+10), heads, tokens)
		for i := range grads[l] {
			grads[l][i] -= 0.1 // some negative
		}
	}
	j, err := GradientRollout(att, grads, heads, tokens)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, "gradient rollout", j, tokens)
}

func TestDiscardKeepsClassColumn(t *testing.T) {
	const n = 5
	m := make([]float64, n*n)
	for i := range m {
		m[i] = float64(i%n) + 1 // column j has value j+1: the class column is smallest
	}
	discardLowest(m, n, 1, 0.5) // 4 patch columns: the 2 smallest go
	for i := range n {
		row := m[i*n : (i+1)*n]
		if row[0] != 1 || row[1] != 0 || row[2] != 0 || row[3] != 4 || row[4] != 5 {
			t.Fatalf("row %d after discard: %v", i, row)
		}
	}
}

func TestRolloutIdentityAndUniform(t *testing.T) {
	const heads, layers = 2, 3
	g := Grid{H: 2, W: 3, Patch: 4, ClassToken: true}
	tok := g.Tokens()
	ident := make([]float32, heads*tok*tok)
	unif := make([]float32, heads*tok*tok)
	for h := range heads {
		for i := range tok {
			ident[(h*tok+i)*tok+i] = 1
			for j := range tok {
				unif[(h*tok+i)*tok+j] = 1 / float32(tok)
			}
		}
	}
	var ia, ua [][]float32
	for range layers {
		ia, ua = append(ia, ident), append(ua, unif)
	}
	j, err := Rollout(ia, heads, tok, 1, RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tok {
		for k := range tok {
			want := 0.0
			if i == k {
				want = 1
			}
			if math.Abs(j[i*tok+k]-want) > 1e-12 {
				t.Fatalf("identity rollout [%d,%d] = %v", i, k, j[i*tok+k])
			}
		}
	}
	for _, v := range TokenMap(j, g) {
		if v != 0 {
			t.Fatalf("identity attention: class token map %v, want zeros", TokenMap(j, g))
		}
	}
	// Uniform attention U: Â = (U + I)/2, and products stay α·I + (1−α)·U
	// with α = 2^−layers, so the class row over patches is (1−α)/tokens.
	j, err = Rollout(ua, heads, tok, 1, RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := (1 - math.Pow(0.5, layers)) / float64(tok)
	for _, v := range TokenMap(j, g) {
		if math.Abs(v-want) > 1e-7 {
			t.Fatalf("uniform attention map value %v, want %v", v, want)
		}
	}
	// Without a class token, the map is the mean of the rows: 1/tokens.
	gg := Grid{H: 2, W: 3, Patch: 4}
	tg := gg.Tokens()
	u2 := make([]float32, heads*tg*tg)
	for i := range u2 {
		u2[i] = 1 / float32(tg)
	}
	j, err = Rollout([][]float32{u2, u2}, heads, tg, 0, RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range TokenMap(j, gg) {
		if math.Abs(v-1/float64(tg)) > 1e-9 {
			t.Fatalf("gap uniform map value %v, want %v", v, 1/float64(tg))
		}
	}
}

func TestAttentionMap(t *testing.T) {
	g := Grid{H: 2, W: 2, Patch: 4, ClassToken: true}
	const heads = 2
	a := randomAttention(3, 2*heads, g.Tokens()) // batch 2
	m, err := AttentionMap(a, g, heads, 1, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	tok := g.Tokens()
	row := a[((1*heads+1)*tok+3)*tok:]
	for j := range 4 {
		if m[j] != float64(row[1+j]) {
			t.Fatalf("map %v, row %v", m, row[:tok])
		}
	}
	if _, err := AttentionMap(a, g, heads, 0, 0, 4); err == nil {
		t.Fatal("query out of range accepted")
	}
}

func tinyConfig() vit.Config {
	return vit.Config{ImageHeight: 16, ImageWidth: 12, Channels: 3, Patch: 4, Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Classes: 3,
		Labels: []string{"cat", "dog", "bird"}, Mean: []float32{0.5}, Std: []float32{0.25}}
}

func TestExplainModel(t *testing.T) {
	for _, pool := range []string{"cls", "gap"} {
		c := tinyConfig()
		c.Pool = pool
		m, err := vit.New(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m.Head.W.Data {
			m.Head.W.Data[i] = float32(i%7) * 0.1
		}
		x := make([]float32, 2*3*16*12)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)))
		}
		ex, err := Explain(m, x, 2, []int{-1, 2}, RolloutOptions{Discard: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		if ex[1].Class != 2 || ex[0].Class != ex[0].Predicted {
			t.Fatalf("classes: %+v", ex)
		}
		for _, e := range ex {
			if len(e.Rollout) != 12 || len(e.Gradient) != 12 {
				t.Fatalf("map sizes %d, %d", len(e.Rollout), len(e.Gradient))
			}
			s := 0.0
			for _, v := range e.Rollout {
				s += v
			}
			if s <= 0 || s > 1+1e-9 {
				t.Fatalf("%s: rollout map sums to %v", pool, s)
			}
		}
	}
}

// TestGridPrefixTokens: a model's distillation and register tokens sit
// between the class token and the patches; rollout's maps skip them.
func TestGridPrefixTokens(t *testing.T) {
	c := vit.Config{ImageHeight: 8, ImageWidth: 12, Channels: 3, Patch: 4, Dim: 8, Depth: 1, Heads: 2, MLPDim: 16, Classes: 2}
	c.Registers, c.DistToken = 2, true
	g := GridOf(c)
	if g.Tokens() != c.Tokens() || g.first() != 4 || g.Extra != 3 {
		t.Fatalf("grid %+v: %d tokens, first patch %d; want %d tokens, first patch 4", g, g.Tokens(), g.first(), c.Tokens())
	}
	n := g.Tokens()
	joint := make([]float64, n*n)
	for j := range n {
		joint[j] = float64(j) // the class token's row
	}
	got := TokenMap(joint, g)
	for j, v := range got {
		if v != float64(4+j) {
			t.Fatalf("TokenMap %v: want the class row over the patch columns 4…%d", got, n-1)
		}
	}
}
