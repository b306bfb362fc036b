package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// epilogueRef applies e to C[0:m, 0:n] the unfused way: each row through
// the exported passes, in the documented order.
func epilogueRef(e *Epilogue, c []float32, ldc, m, n int) {
	for i := range m {
		lo, hi := i*ldc, i*ldc+n
		row := c[lo:hi]
		if e.Bias != nil {
			AddRowVector(row, e.Bias[:n], 1)
		}
		if e.Add != nil {
			AddTo(row, e.Add[lo:hi])
		}
		if e.GELU != nil {
			if e.Gate.K != 0 {
				GateForward(e.GELU[lo:hi], row, e.Gate)
			} else {
				Gelu(e.GELU[lo:hi], row)
			}
		}
		if e.GELUInput != nil {
			if e.Gate.K != 0 {
				GateBackward(row, row, e.GELUInput[lo:hi], e.Gate)
			} else {
				GeluBackward(row, row, e.GELUInput[lo:hi])
			}
		}
	}
}

// TestEpilogue checks that a product with an epilogue equals the product
// followed by the separate passes, bit for bit, for every kernel, worker
// count, in-place policy and combination of steps, on edge-heavy shapes,
// through Sgemm and GemmPacked, with the exact GELU and with gates; and that nothing outside C[0:m, 0:n] (or
// the GELU output's matching block) is touched.
func TestEpilogue(t *testing.T) {
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0
	defer func(old directMode) { direct = old }(direct)
	shapes := []struct {
		transA, transB bool
		m, n, k, pad   int
		beta           float32
	}{
		{false, true, 50, 96, 32, 0, 0},   // a linear layer's forward
		{false, false, 197, 70, 40, 3, 0}, // a backward dx, odd columns
		{false, true, 13, 17, 300, 1, 1},  // several k blocks, beta 1
		{true, false, 37, 33, 3000, 2, 0}, // deep: the epilogue runs after
		{false, false, 5, 16, 7, 0, -0.5}, // fewer rows than a tile
	}
	steps := []Epilogue{{Bias: []float32{}}, {Add: []float32{}}, {GELU: []float32{}}, {GELUInput: []float32{}},
		{Bias: []float32{}, GELU: []float32{}}, {Bias: []float32{}, Add: []float32{}}, {Bias: []float32{}, Add: []float32{}, GELU: []float32{}, GELUInput: []float32{}},
		{Bias: []float32{}, GELU: []float32{}, Gate: QuickGELU}, {GELUInput: []float32{}, Gate: GELUTanh}}
	r := rand.New(rand.NewPCG(7, 8))
	for _, mode := range []directMode{directAuto, directNever, directAlways} {
		direct = mode
		for _, mk := range testKernels() {
			for si, s := range shapes {
				for ei, tmpl := range steps {
					workers := 1 + (si+ei)%2
					name := fmt.Sprintf("%s/%s/shape%d/steps%d/workers%d", mode, mk.name, si, ei, workers)
					a, lda, b, ldb := randOperands(r, s.transA, s.transB, s.m, s.n, s.k, s.pad)
					ldc := s.n + s.pad
					size := s.m * ldc
					c0 := randSlice(r, size)
					like := func(x []float32) []float32 {
						if x == nil {
							return nil
						}
						return randSlice(r, size)
					}
					e := Epilogue{Bias: like(tmpl.Bias), Add: like(tmpl.Add), GELU: like(tmpl.GELU), GELUInput: like(tmpl.GELUInput), Gate: tmpl.Gate}
					if e.Bias != nil {
						e.Bias = e.Bias[:s.n]
					}
					// The reference: the product, then the passes.
					want := append([]float32(nil), c0...)
					wantE := e
					wantE.GELU = append([]float32(nil), e.GELU...)
					sgemm(mk, workers, s.transA, s.transB, s.m, s.n, s.k, 1.5, a, lda, b, ldb, s.beta, want, ldc)
					epilogueRef(&wantE, want, ldc, s.m, s.n)

					check := func(how string, got, gotGELU []float32) {
						t.Helper()
						for x := range got {
							if math.Float32bits(got[x]) != math.Float32bits(want[x]) {
								t.Fatalf("%s %s: C[%d, %d] = %g, want %g", name, how, x/ldc, x%ldc, got[x], want[x])
							}
						}
						for x := range gotGELU {
							if math.Float32bits(gotGELU[x]) != math.Float32bits(wantE.GELU[x]) {
								t.Fatalf("%s %s: GELU[%d, %d] = %g, want %g", name, how, x/ldc, x%ldc, gotGELU[x], wantE.GELU[x])
							}
						}
					}
					got := append([]float32(nil), c0...)
					gotE := e
					gotE.GELU = append([]float32(nil), e.GELU...)
					sgemmEpilogue(mk, workers, s.transA, s.transB, s.m, s.n, s.k, 1.5, a, lda, b, ldb, s.beta, got, ldc, gotE)
					check("Sgemm", got, gotE.GELU)

					if s.transA {
						continue // GemmPacked takes A as stored
					}
					p := packBWith(mk, nil, F32, s.transB, s.k, s.n, b, ldb)
					got = append([]float32(nil), c0...)
					gotE.GELU = append([]float32(nil), e.GELU...)
					gemmPackedEpilogue(workers, s.m, 1.5, a, lda, p, s.beta, got, ldc, gotE)
					check("GemmPacked", got, gotE.GELU)
				}
			}
		}
	}
}

// TestEpilogueShapes checks that slices too short for C panic with a
// message naming the field, before anything is computed.
func TestEpilogueShapes(t *testing.T) {
	a, b, c := make([]float32, 4*3), make([]float32, 3*5), make([]float32, 4*5)
	for _, tc := range []struct {
		e    Epilogue
		want string
	}{
		{Epilogue{Bias: make([]float32, 4)}, "Bias"},
		{Epilogue{Add: make([]float32, 19)}, "Add"},
		{Epilogue{GELU: make([]float32, 5)}, "GELU"},
		{Epilogue{GELUInput: make([]float32, 0)}, "GELUInput"},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if msg == "" || !contains(msg, tc.want) {
					t.Errorf("epilogue %s too short: panic %q, want one naming it", tc.want, msg)
				}
			}()
			SgemmEpilogue(false, false, 4, 5, 3, 1, a, 3, b, 5, 0, c, 5, tc.e)
		}()
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestEpilogueAllocs checks that fused products allocate nothing in steady
// state, on the pool as on one worker.
func TestEpilogueAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m, n, k := 200, 64, 48
	a, b, c := randSlice(r, m*k), randSlice(r, n*k), make([]float32, m*n)
	e := Epilogue{Bias: randSlice(r, n), Add: randSlice(r, m*n), GELU: make([]float32, m*n)}
	p := PackB(F32, true, k, n, b, k)
	run := func() {
		SgemmEpilogue(false, true, m, n, k, 1, a, k, b, k, 0, c, n, e)
		GemmPackedEpilogue(m, 1, a, k, p, 0, c, n, e)
	}
	run()
	if allocs := testing.AllocsPerRun(20, run); allocs > 0 {
		t.Errorf("%v allocations per fused product pair, want 0", allocs)
	}
}
