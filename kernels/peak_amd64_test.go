//go:build amd64 && !purego

package kernels

import (
	"testing"
	"time"

	"golang.org/x/sys/cpu"
)

// TestPeakLoops runs each assembly peak loop the CPU has on one core and
// logs its rate: VDPBF16PS included, whether or not BF16 products use it.
func TestPeakLoops(t *testing.T) {
	loops := []struct {
		name  string
		have  bool
		loop  func(n int)
		flops float64
	}{
		{"avx512 fma", cpu.X86.HasAVX512F, peakAVX512, peakChains512 * 16 * 2},
		{"avx512 bf16 dot", cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16, peakBF16, peakChains512 * 16 * 4},
		{"avx2 fma", cpu.X86.HasAVX2 && cpu.X86.HasFMA, peakAVX2, peakChains256 * 8 * 2},
	}
	for _, l := range loops {
		if !l.have {
			t.Logf("%s: not on this CPU", l.name)
			continue
		}
		f := peakRun(l.loop, l.flops, 1, 30*time.Millisecond)
		if !(f > 0) {
			t.Errorf("%s: %g FLOP/s", l.name, f)
		}
		t.Logf("%s: %.1f GFLOP/s on one core", l.name, f/1e9)
	}
}
