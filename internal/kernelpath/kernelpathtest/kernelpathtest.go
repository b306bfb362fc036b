// Package kernelpathtest runs tests once per kernel path set: as on this
// CPU, and as on CPUs with fewer features (AVX-512 without bf16
// instructions, AVX2 alone, none), wherever this CPU has what each set
// needs. See package kernelpath.
package kernelpathtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/kernelpath"
	_ "github.com/vitgo/vit/kernels" // registers the sets
)

// Run runs f as one subtest per kernel path set of the build, named after
// the set ("avx512bf16", "avx512", "avx2", "go"; the default set of this
// CPU first), with package kernels forced to the set while f runs. A set
// needing a CPU feature this CPU lacks is a subtest that skips, saying
// which feature; the sets this build leaves out (purego tag, or not amd64)
// are named in the log. Run then logs which sets ran and which were
// skipped.
//
// f must not call t.Parallel, start work that outlives it, or reuse
// weights packed (kernels.PackB, Model.PackWeights) under another set: it
// makes its model and packs inside.
func Run(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	run(t, kernelpath.Sets(), f)
}

// run is Run on the sets given.
func run(t *testing.T, sets []kernelpath.Set, f func(t *testing.T)) {
	t.Helper()
	var ran, skipped, notBuilt []string
	for _, s := range sets {
		switch {
		case s.NotBuilt:
			notBuilt = append(notBuilt, s.Name)
		case s.Lacks != "":
			skipped = append(skipped, fmt.Sprintf("%s (CPU lacks %s)", s.Name, s.Lacks))
			t.Run(s.Name, func(t *testing.T) {
				t.Skipf("kernel path set %s: skipped, CPU lacks %s", s.Name, s.Lacks)
			})
		default:
			t.Run(s.Name, func(t *testing.T) {
				restore, err := kernelpath.Force(s.Name)
				if err != nil {
					t.Fatal(err)
				}
				defer restore()
				ran = append(ran, Describe(s)) // not when -run leaves the set out
				f(t)
			})
		}
	}
	if len(ran) > 0 {
		t.Logf("kernel path sets run: %s", strings.Join(ran, "; "))
	}
	if len(skipped) > 0 {
		t.Logf("kernel path sets skipped for lack of a CPU feature: %s", strings.Join(skipped, ", "))
	}
	if len(notBuilt) > 0 {
		t.Logf("kernel path sets not in this build (purego tag, or not amd64): %s", strings.Join(notBuilt, ", "))
	}
}

// Describe names s and its paths for logs, marking this CPU's default:
// "avx2 (gemm/avx2, bf16/fp32-kernel, ...)".
func Describe(s kernelpath.Set) string {
	d := fmt.Sprintf("%s (%s)", s.Name, strings.Join(s.Paths, ", "))
	if s.Default {
		d += " [default]"
	}
	return d
}
