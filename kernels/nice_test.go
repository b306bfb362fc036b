package kernels

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestComputeNice: LockComputeThread lowers the calling thread's priority
// and restores it; helpers adopt SetComputeNice's value on their next
// task; out-of-range values are refused.
func TestComputeNice(t *testing.T) {
	if err := niceSupported(); err != nil {
		if SetComputeNice(5) == nil {
			t.Fatal("SetComputeNice succeeded where it is not supported")
		}
		t.Skip(err)
	}
	for _, bad := range []int{-1, 20} {
		if err := SetComputeNice(bad); err == nil || !strings.Contains(err.Error(), "want 0 to 19") {
			t.Errorf("SetComputeNice(%d): %v", bad, err)
		}
	}
	runtime.LockOSThread()
	before, err := threadNice()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	want := min(before+5, 19)
	unlock, err := LockComputeThread(want)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := threadNice(); got != want {
		t.Errorf("thread nice %d after LockComputeThread(%d)", got, want)
	}
	unlock()
	runtime.LockOSThread()
	after, _ := threadNice()
	runtime.UnlockOSThread()
	if after != before {
		t.Errorf("thread nice %d after unlock, was %d", after, before)
	}

	// Helpers: run a parallel loop whose parts report their thread's nice.
	if err := SetComputeNice(want); err != nil {
		t.Fatal(err)
	}
	defer SetComputeNice(0)
	seen := make([]int, 64)
	for range 3 { // a helper adopts the value at its next task
		ParallelFor(len(seen), 1, func(lo, hi int) {
			n, _ := threadNice()
			for i := lo; i < hi; i++ {
				seen[i] = n
			}
		})
	}
	if Workers > 1 && !slices.Contains(seen, want) {
		t.Errorf("no helper ran at nice %d: %v", want, seen)
	}
}
