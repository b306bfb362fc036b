package kernels

import (
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/kernelpath"
)

// TestPathSets forces every path set of the build that this CPU runs and
// checks that the dispatchers then choose exactly the set's paths (PackB
// included), and that restoring brings back the default choice. The root
// package's model tests run on each set (kernelpathtest.Run); this test
// makes sure that they do not run one set under several names.
func TestPathSets(t *testing.T) {
	sets := kernelpath.Sets()
	if len(sets) == 0 || !sets[0].Default {
		t.Fatalf("the default set is not listed first: %v", sets)
	}
	before := chosenPaths()
	for i, s := range sets {
		if s.Default != (i == 0) {
			t.Errorf("set %s: Default = %v", s.Name, s.Default)
		}
		if !s.Runs() {
			if s.NotBuilt {
				t.Logf("path set %s: not in this build (%s)", s.Name, buildTags)
			} else {
				t.Logf("path set %s: skipped, CPU lacks %s", s.Name, s.Lacks)
			}
			if _, err := kernelpath.Force(s.Name); err == nil {
				t.Errorf("forcing %s, which cannot run here, gave no error", s.Name)
			}
			continue
		}
		restore, err := kernelpath.Force(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		got := chosenPaths()
		restore()
		// chosenPaths names Sgemm's kernel, then PackB's, then the rest.
		want := slices.Insert(slices.Clone(s.Paths), 1, s.Paths[0])
		if !slices.Equal(got, want) {
			t.Errorf("forcing %s: the dispatchers choose %v, want %v", s.Name, got, want)
		}
		if after := chosenPaths(); !slices.Equal(after, before) {
			t.Fatalf("after set %s the dispatchers choose %v, want %v as before", s.Name, after, before)
		}
		t.Logf("path set %s: %s", s.Name, strings.Join(s.Paths, ", "))
	}
	if _, err := kernelpath.Force("sse"); err == nil {
		t.Error("forcing an unknown set gave no error")
	}
}

// TestPathSetGuards checks that a set cannot be forced over another, nor
// while a kernel runs on the worker pool.
func TestPathSetGuards(t *testing.T) {
	mustPanic := func(what, want string, f func()) {
		t.Helper()
		defer func() {
			if r, _ := recover().(string); !strings.Contains(r, want) {
				t.Errorf("%s: panic %q, want one saying %q", what, r, want)
			}
		}()
		f()
	}
	restore, err := kernelpath.Force("go")
	if err != nil {
		t.Fatal(err)
	}
	mustPanic("forcing a set over another", "forced already", func() { kernelpath.Force("go") })
	restore()

	h := (*startHelpers(1))[0]
	for !h.idle.CompareAndSwap(true, false) {
		// Another test's product still holds the helper.
	}
	mustPanic("forcing while a helper works", "while kernels run", func() { kernelpath.Force("go") })
	h.idle.Store(true)
	restore, err = kernelpath.Force("go")
	if err != nil {
		t.Fatalf("after a refused force: %v", err)
	}
	restore()
}
