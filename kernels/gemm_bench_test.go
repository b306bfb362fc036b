package kernels

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShape is one product of the model: C[m, n] (+)= op(A)·op(B) with
// inner dimension k.
type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
	beta           float32
}

var benchShapes = []benchShape{
	// Small ViT training (batch 128 × 50 tokens, dim 128, MLP 512): forward
	// (weights stored [out, in], so op(B) = Wᵀ), input gradient, weight gradient.
	{"train/qkv", false, true, 6400, 384, 128, 0},
	{"train/proj", false, true, 6400, 128, 128, 0},
	{"train/fc1", false, true, 6400, 512, 128, 0},
	{"train/fc2", false, true, 6400, 128, 512, 0},
	{"train/fc1_dx", false, false, 6400, 128, 512, 0},
	{"train/fc2_dx", false, false, 6400, 512, 128, 0},
	{"train/qkv_dW", true, false, 384, 128, 6400, 1},
	{"train/fc1_dW", true, false, 512, 128, 6400, 1},
	{"train/fc2_dW", true, false, 128, 512, 6400, 1},
	// ViT-B/16 inference, batch 16 (3152 = 16·197 tokens), plain layout.
	{"vitb/proj", false, false, 3152, 768, 768, 0},
	{"vitb/qkv", false, false, 3152, 2304, 768, 0},
	{"vitb/fc1", false, false, 3152, 3072, 768, 0},
	{"vitb/fc2", false, false, 3152, 768, 3072, 0},
	{"vitb/qkv_Wt", false, true, 3152, 2304, 768, 0},
	// Peer shapes of bench_gemm.py (M×K×N there).
	{"peer/1576x768x768", false, false, 1576, 768, 768, 0},
	{"peer/1576x768x3072", false, false, 1576, 3072, 768, 0},
	{"peer/1576x3072x768", false, false, 1576, 768, 3072, 0},
	{"peer/1024x1024x1024", false, false, 1024, 1024, 1024, 0},
	{"peer/6400x128x512", false, false, 6400, 512, 128, 0},
	// ViT-Ti/16 batch 1 (197 tokens, dim 192, MLP 768).
	{"vitti1/proj", false, true, 197, 192, 192, 0},
	{"vitti1/qkv", false, true, 197, 576, 192, 0},
	{"vitti1/fc1", false, true, 197, 768, 192, 0},
	{"vitti1/fc2", false, true, 197, 192, 768, 0},
}

// Per-head attention products, run by SgemmSerial.
var benchSerialShapes = []benchShape{
	{"train/QKt_50x50x32", false, true, 50, 50, 32, 0},
	{"train/PV_50x32x50", false, false, 50, 32, 50, 0},
	{"vit/QKt_197x197x64", false, true, 197, 197, 64, 0},
	{"vit/PV_197x64x197", false, false, 197, 64, 197, 0},
	{"vit/dP_197x197x64", false, true, 197, 197, 64, 0},
	{"vit/dV_197x64x197", true, false, 197, 64, 197, 0},
}

func benchGemm(b *testing.B, s benchShape, f func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)) {
	r := rand.New(rand.NewPCG(1, 1))
	lda, ldb := s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	a, bm, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
	f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, s.beta, c, s.n)
	b.ResetTimer()
	for b.Loop() {
		f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, s.beta, c, s.n)
	}
	flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm times Sgemm on the model's shapes, named m×n×k with the
// transposes in the name.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", s.name, s.m, s.n, s.k), func(b *testing.B) { benchGemm(b, s, Sgemm) })
	}
}

// BenchmarkSgemmSerial times SgemmSerial on per-head attention shapes.
func BenchmarkSgemmSerial(b *testing.B) {
	for _, s := range benchSerialShapes {
		b.Run(s.name, func(b *testing.B) { benchGemm(b, s, SgemmSerial) })
	}
}

// BenchmarkMicroKernel times each microkernel alone on packed data that
// stays in cache: the ceiling for one core.
func BenchmarkMicroKernel(b *testing.B) {
	for _, mk := range kernelsAvail {
		b.Run(mk.name, func(b *testing.B) {
			const k = 256
			r := rand.New(rand.NewPCG(1, 1))
			a, bp := randSlice(r, mk.mr*k), randSlice(r, mk.nr*k)
			c := make([]float32, mk.mr*mk.nr)
			for b.Loop() {
				mk.fn(k, &a[0], &bp[0], &c[0], mk.nr, 1, 1)
			}
			flop := 2 * float64(mk.mr*mk.nr*k)
			b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

var benchWorkers = flag.Int("gemmworkers", 0, "workers for BenchmarkGemmDirect (0: Workers)")

// directBenchShapes are the products BenchmarkGemmDirect compares with and
// without in-place operands: small-ViT training (batch 128 × 50 tokens =
// 6400 rows, dim 128, qkv 384, MLP 512; forward y = x·Wᵀ, input gradient
// dx = dy·W, weight gradient dW = dyᵀ·x), its per-head attention products
// (SgemmSerial) and inference (GemmPacked and Sgemm).
var directBenchShapes = []struct {
	benchShape
	fn string // "sgemm", "serial" or "packed"
}{
	{benchShape{"fwd/qkv", false, true, 6400, 384, 128, 0}, "sgemm"},
	{benchShape{"fwd/proj", false, true, 6400, 128, 128, 0}, "sgemm"},
	{benchShape{"fwd/fc1", false, true, 6400, 512, 128, 0}, "sgemm"},
	{benchShape{"fwd/fc2", false, true, 6400, 128, 512, 0}, "sgemm"},
	{benchShape{"dx/qkv", false, false, 6400, 128, 384, 0}, "sgemm"},
	{benchShape{"dx/proj", false, false, 6400, 128, 128, 0}, "sgemm"},
	{benchShape{"dx/fc1", false, false, 6400, 128, 512, 0}, "sgemm"},
	{benchShape{"dx/fc2", false, false, 6400, 512, 128, 0}, "sgemm"},
	{benchShape{"dW/qkv", true, false, 384, 128, 6400, 1}, "sgemm"},
	{benchShape{"dW/proj", true, false, 128, 128, 6400, 1}, "sgemm"},
	{benchShape{"dW/fc1", true, false, 512, 128, 6400, 1}, "sgemm"},
	{benchShape{"dW/fc2", true, false, 128, 512, 6400, 1}, "sgemm"},
	{benchShape{"attn/QKt", false, true, 50, 50, 32, 0}, "serial"},
	{benchShape{"attn/PV", false, false, 50, 32, 50, 0}, "serial"},
	{benchShape{"attn/dP", false, true, 50, 50, 32, 0}, "serial"},
	{benchShape{"attn/dV", true, false, 50, 32, 50, 0}, "serial"},
	{benchShape{"attn/dQ", false, false, 50, 32, 50, 0}, "serial"},
	{benchShape{"attn/dK", true, false, 50, 32, 50, 0}, "serial"},
	{benchShape{"infer/vitti1_qkv", false, false, 197, 576, 192, 0}, "packed"},
	{benchShape{"infer/vitti1_proj", false, false, 197, 192, 192, 0}, "packed"},
	{benchShape{"infer/vitti1_fc2", false, false, 197, 192, 768, 0}, "packed"},
	{benchShape{"infer/vitb_qkv", false, false, 3152, 2304, 768, 0}, "packed"},
	{benchShape{"infer/vitb_qkv_sgemm", false, false, 3152, 2304, 768, 0}, "sgemm"},
}

// BenchmarkGemmDirect times each of directBenchShapes with packed operands
// only (old: the path before in-place reads) and as products now run
// (new), named shape/m×n×k/path, so that the two run one after the other.
// Interleave repeats with a shell loop rather than -count, which repeats
// each benchmark in a row.
//
// -gemmworkers=N runs Sgemm and GemmPacked on N workers rather than
// Workers (N = 1 gives one core's rate, steadier on a busy machine).
func BenchmarkGemmDirect(b *testing.B) {
	defer func(old directMode) { direct = old }(direct)
	if *benchWorkers > 0 {
		defer func(old int) { Workers = old }(Workers)
		Workers = *benchWorkers
	}
	paths := []struct {
		name string
		mode directMode
	}{{"old", directNever}, {"new", directAuto}}
	for _, s := range directBenchShapes {
		for _, path := range paths {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/%s", s.name, s.m, s.n, s.k, path.name), func(b *testing.B) {
				direct = path.mode
				switch s.fn {
				case "sgemm":
					benchGemm(b, s.benchShape, Sgemm)
				case "serial":
					benchGemm(b, s.benchShape, SgemmSerial)
				case "packed":
					benchPacked(b, s.benchShape)
				}
			})
		}
	}
}

// benchPacked times GemmPacked(F32) on s (op(B) packed once, outside the
// timing).
func benchPacked(b *testing.B, s benchShape) {
	r := rand.New(rand.NewPCG(1, 1))
	x, w, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
	p := PackB(F32, false, s.k, s.n, w, s.n)
	GemmPacked(s.m, 1, x, s.k, p, s.beta, c, s.n)
	b.ResetTimer()
	for b.Loop() {
		GemmPacked(s.m, 1, x, s.k, p, s.beta, c, s.n)
	}
	flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkMicroKernelStrided times each strided kernel alone on operands
// that stay in cache (k = 128 steps), packed and read in place with the
// training shapes' strides: row-major A (aRow = lda, aStep 1), transposed
// A (aRow 1, aStep = lda), row-major B (bStep = ldb).
func BenchmarkMicroKernelStrided(b *testing.B) {
	const k = 128
	for _, mk := range kernelsAvail {
		if mk.strided == nil {
			continue
		}
		for _, st := range []struct {
			name               string
			aRow, aStep, bStep int
		}{
			{"packed", 1, mk.mr, mk.nr},
			{"A128", 128, 1, mk.nr},
			{"A512", 512, 1, mk.nr},
			{"At384", 1, 384, mk.nr},
			{"B128", 1, mk.mr, 128},
			{"B512", 1, mk.mr, 512},
			{"A128B512", 128, 1, 512},
			{"At384B128", 1, 384, 128},
		} {
			b.Run(mk.name+"/"+st.name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				a := randSlice(r, (mk.mr-1)*st.aRow+(k-1)*st.aStep+1)
				bp := randSlice(r, (k-1)*st.bStep+mk.nr)
				c := make([]float32, mk.mr*mk.nr)
				for b.Loop() {
					mk.strided(k, &a[0], st.aRow, st.aStep, &bp[0], st.bStep, &c[0], mk.nr, 1, 1)
				}
				flop := 2 * float64(mk.mr*mk.nr*k)
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
