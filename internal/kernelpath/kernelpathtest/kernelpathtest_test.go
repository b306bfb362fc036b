package kernelpathtest

import (
	"slices"
	"testing"

	"github.com/vitgo/vit/internal/kernelpath"
)

// TestRun checks that Run calls f once for each set this CPU runs, with
// that set forced (forcing another one then panics), and never for a set
// the CPU lacks a feature for or the build leaves out.
func TestRun(t *testing.T) {
	sets := kernelpath.Sets()
	var want []string
	for _, s := range sets {
		if s.Runs() {
			want = append(want, s.Name)
		}
	}
	sets = append(sets,
		kernelpath.Set{Name: "avx1024", Lacks: "AVX1024"},
		kernelpath.Set{Name: "neon", NotBuilt: true})
	var got []string
	run(t, sets, func(t *testing.T) {
		got = append(got, t.Name())
		defer func() {
			if recover() == nil {
				t.Error("Force inside Run did not panic: no set was forced")
			}
		}()
		kernelpath.Force("go")
	})
	for i := range want {
		want[i] = t.Name() + "/" + want[i]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("f ran in %v, want %v", got, want)
	}
}
