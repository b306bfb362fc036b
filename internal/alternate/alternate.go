// Package alternate measures how much faster one piece of code runs than
// another on a machine whose speed drifts over seconds: it alternates
// short bursts of both and takes the median ratio of their rates.
package alternate

import (
	"slices"
	"testing"
	"time"
)

// Burst is how long each side runs before the other takes over.
const Burst = 150 * time.Millisecond

// Speedup runs base and alt in alternating bursts (after one warm-up burst
// each), b.N times each, and reports the median of alt's rate over base's
// as the benchmark metric "speedup", which it also returns.
func Speedup(b *testing.B, base, alt func()) float64 {
	b.Helper()
	rate := func(f func()) float64 {
		start := time.Now()
		n := 0
		for time.Since(start) < Burst || n < 2 {
			f()
			n++
		}
		return float64(n) / time.Since(start).Seconds()
	}
	rate(base)
	rate(alt)
	b.ResetTimer()
	ratios := make([]float64, b.N)
	for i := range ratios {
		r := rate(base)
		ratios[i] = rate(alt) / r
	}
	slices.Sort(ratios)
	median := ratios[len(ratios)/2]
	b.ReportMetric(median, "speedup")
	return median
}
