package main

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTimeOurs runs and checks vit's side on a small product of each
// kind (one Sgemm, and a batch with B transposed).
func TestTimeOurs(t *testing.T) {
	for _, s := range []shape{{"one", 37, 45, 29, 1, false}, {"batch", 13, 13, 8, 5, true}} {
		tm := timeOurs(s, 0.001)
		if tm.Calls < 3 || tm.MedianS <= 0 || tm.MinS > tm.MedianS {
			t.Errorf("%s: %+v", s.Name, tm)
		}
	}
}

// TestCheck: check accepts a correct product and refuses one with an
// entry off by a little.
func TestCheck(t *testing.T) {
	s := shape{"x", 4, 4, 4, 1, false}
	r := rand.New(rand.NewPCG(1, 1))
	a, b := randn(r, 16), randn(r, 16)
	c := make([]float32, 16)
	for i := range 4 {
		for j := range 4 {
			for l := range 4 {
				c[i*4+j] += a[i*4+l] * b[l*4+j]
			}
		}
	}
	if err := check(s, a, b, c, 4); err != nil {
		t.Fatal(err)
	}
	for i := range c {
		c[i] *= 1.001
	}
	if err := check(s, a, b, c, 4); err == nil {
		t.Fatal("a product 0.1% off passed")
	}
}

func TestTableWarnsOnGenericOpenBLAS(t *testing.T) {
	if properCore() == "" {
		t.Skip("no AVX2: a generic OpenBLAS core is the right one here")
	}
	var info peerOut
	info.Info.Peer = "numpy"
	info.Info.OpenBLAS = &struct {
		Config   string `json:"config"`
		Corename string `json:"corename"`
		Threads  int    `json:"threads"`
	}{"OpenBLAS 0.3.21", "Prescott", 2}
	ours, theirs := map[string][]timing{}, map[string][]timing{}
	for _, s := range vitB8 {
		ours[s.Name] = []timing{{s.Name, 0.01, 0.009, 3}}
		theirs[s.Name] = []timing{{s.Name, 0.02, 0.018, 3}}
	}
	out := table(info, ours, theirs, 2, 1, 1)
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, "-coretype "+properCore()) {
		t.Fatalf("no warning for a Prescott OpenBLAS:\n%s", out)
	}
	if !strings.Contains(out, "| 2.00 |") {
		t.Fatalf("ratio of a side twice as fast missing:\n%s", out)
	}
	info.Info.OpenBLAS.Corename = "Cooperlake"
	if out := table(info, ours, theirs, 2, 1, 1); strings.Contains(out, "WARNING") {
		t.Fatalf("warning for a proper core:\n%s", out)
	}
}
