package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// softmaxBenchShapes are attention score blocks (rows × cols) as
// nn.Attention softmaxes them: 32 queries × 197 keys (ViT-B/16 at 224²)
// and 50 × 50 (50 tokens: ViT-B/32 at 224²).
var softmaxBenchShapes = [][2]int{{32, 197}, {50, 50}}

// softmaxBenchPaths lists the code paths to time: "go" is the portable code
// (useAVX2Act off), "avx2" the assembly where the CPU has it.
func softmaxBenchPaths() []bool {
	if useAVX2Act {
		return []bool{false, true}
	}
	return []bool{false}
}

func pathName(asm bool) string {
	if asm {
		return "avx2"
	}
	return "go"
}

func randScores(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, seed))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	return x
}

func reportPerElem(b *testing.B, elems int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(elems), "ns/elem")
}

// BenchmarkSoftmaxRows times one block in place (the values stay in a
// realistic range: after the first call they are probabilities). "go" is
// the portable code, "avx2" the assembly with one call per block, and
// "avx2-perrow" the same assembly called once per row, which is what one
// call per row would cost.
func BenchmarkSoftmaxRows(b *testing.B) {
	defer func(v bool) { setAct(v) }(useAVX2Act)
	for _, sh := range softmaxBenchShapes {
		rows, cols := sh[0], sh[1]
		for _, asm := range softmaxBenchPaths() {
			b.Run(fmt.Sprintf("%dx%d/%s", rows, cols, pathName(asm)), func(b *testing.B) {
				setAct(asm)
				x := randScores(rows*cols, 1)
				b.SetBytes(int64(4 * rows * cols))
				b.ResetTimer()
				for range b.N {
					SoftmaxRows(x, rows, cols)
				}
				reportPerElem(b, rows*cols)
			})
			if !asm {
				continue
			}
			b.Run(fmt.Sprintf("%dx%d/avx2-perrow", rows, cols), func(b *testing.B) {
				setAct(true)
				x := randScores(rows*cols, 1)
				b.SetBytes(int64(4 * rows * cols))
				b.ResetTimer()
				for range b.N {
					for r := range rows {
						SoftmaxRows(x[r*cols:(r+1)*cols], 1, cols)
					}
				}
				reportPerElem(b, rows*cols)
			})
		}
	}
}

// BenchmarkSoftmaxBackwardRows times one block of the softmax backward
// pass ("go" is the code nn.SoftmaxBackwardRows had before: kernels.Dot and
// a scalar update loop). dp is refreshed from a copy each time, which the
// time includes (a copy of a block in L1 cache).
func BenchmarkSoftmaxBackwardRows(b *testing.B) {
	defer func(v bool) { setAct(v) }(useAVX2Act)
	for _, sh := range softmaxBenchShapes {
		rows, cols := sh[0], sh[1]
		for _, asm := range softmaxBenchPaths() {
			b.Run(fmt.Sprintf("%dx%d/%s", rows, cols, pathName(asm)), func(b *testing.B) {
				setAct(asm)
				p := randScores(rows*cols, 1)
				SoftmaxRows(p, rows, cols)
				dp0 := randScores(rows*cols, 2)
				dp := make([]float32, len(dp0))
				b.SetBytes(int64(8 * rows * cols))
				b.ResetTimer()
				for range b.N {
					copy(dp, dp0)
					SoftmaxBackwardRows(dp, p, rows, cols, 0.125)
				}
				reportPerElem(b, rows*cols)
			})
		}
	}
}
