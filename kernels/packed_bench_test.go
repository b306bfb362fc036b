package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// packedBenchShapes are the weight products of ViT inference, C[m, n] =
// X[m, k]·W, named by layer.
var packedBenchShapes = []struct {
	name    string
	m, n, k int
}{
	// ViT-B/16, batch 16 (3152 = 16·197 tokens), dim 768, MLP 3072.
	{"vitb/proj", 3152, 768, 768},
	{"vitb/qkv", 3152, 2304, 768},
	{"vitb/fc1", 3152, 3072, 768},
	{"vitb/fc2", 3152, 768, 3072},
	// ViT-Ti/16, batch 1 (197 tokens), dim 192, MLP 768.
	{"vitti1/qkv", 197, 576, 192},
	{"vitti1/proj", 197, 192, 192},
	{"vitti1/fc1", 197, 768, 192},
	{"vitti1/fc2", 197, 192, 768},
}

// BenchmarkGemmPacked times GemmPacked on the ViT shapes in each format,
// named format/layer/m×n×k, in GFLOP/s (2·m·n·k per product). Formats:
// fp32 and bf16 as PackB packs them; where the CPU has AVX512_BF16 also
// bf16 forced onto each kernel, bf16-fp32kernel and bf16-avx512bf16.
func BenchmarkGemmPacked(b *testing.B) {
	type format struct {
		name string
		pack func(k, n int, w []float32) *PackedB
	}
	formats := []format{
		{"fp32", func(k, n int, w []float32) *PackedB { return PackB(F32, false, k, n, w, n) }},
		{"bf16", func(k, n int, w []float32) *PackedB { return PackB(BF16, false, k, n, w, n) }},
	}
	if len(bf16KernelsAvail) > 0 {
		formats = append(formats, format{"bf16-fp32kernel", func(k, n int, w []float32) *PackedB {
			return packBWith(kernel, nil, BF16, false, k, n, w, n)
		}})
		for _, bk := range bf16KernelsAvail {
			formats = append(formats, format{"bf16-" + bk.name, func(k, n int, w []float32) *PackedB {
				return packBWith(kernel, bk, BF16, false, k, n, w, n)
			}})
		}
	}
	for _, f := range formats {
		for _, s := range packedBenchShapes {
			b.Run(fmt.Sprintf("%s/%s/%dx%dx%d", f.name, s.name, s.m, s.n, s.k), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				x, w, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
				p := f.pack(s.k, s.n, w)
				GemmPacked(s.m, 1, x, s.k, p, 0, c, s.n)
				b.ResetTimer()
				for b.Loop() {
					GemmPacked(s.m, 1, x, s.k, p, 0, c, s.n)
				}
				flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkBF16Kernel times each bf16-pair kernel alone on packed data
// that stays in cache (none without AVX512_BF16), as BenchmarkMicroKernel
// does for the fp32 kernels.
func BenchmarkBF16Kernel(b *testing.B) {
	for _, bk := range bf16KernelsAvail {
		b.Run(bk.name, func(b *testing.B) {
			const kp = 128
			a, bp := make([]uint16, bk.mr*2*kp), make([]uint16, bk.nr*2*kp)
			for i := range a {
				a[i] = toBF16(float32(i%7) - 3)
			}
			for i := range bp {
				bp[i] = toBF16(float32(i%5) - 2)
			}
			c := make([]float32, bk.mr*bk.nr)
			for b.Loop() {
				bk.fn(kp, &a[0], &bp[0], &c[0], bk.nr, 1, 1)
			}
			flop := 4 * float64(bk.mr*bk.nr*kp)
			b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPeak reports Peak on one core and on Workers cores, in GFLOP/s
// (100 ms a measurement).
func BenchmarkPeak(b *testing.B) {
	for _, dt := range []DType{F32, BF16} {
		for _, workers := range []int{1, Workers} {
			b.Run(fmt.Sprintf("%v/workers=%d", dt, workers), func(b *testing.B) {
				var flops float64
				var how string
				for b.Loop() {
					flops, how = Peak(dt, workers, 100*time.Millisecond)
				}
				b.ReportMetric(flops/1e9, "GFLOP/s")
				b.Log(how)
			})
		}
	}
}
