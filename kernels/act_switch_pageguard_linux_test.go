package kernels

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// pageGuarded maps n float32s between two inaccessible pages, either
// ending exactly at the end of the accessible memory (atEnd) or starting at
// its beginning, so that any access outside them, read or write, faults.
func pageGuarded(t *testing.T, n int, atEnd bool) []float32 {
	page := syscall.Getpagesize()
	data := (4*n + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, data+2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	if err := syscall.Mprotect(mem[page+data:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	off := page
	if atEnd {
		off = page + data - 4*n
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), n)
}

// TestSoftmaxPageGuard runs both softmax kernels on every path with the
// rows right against inaccessible pages: a read or write past the last row
// (or before the first) crashes the test. Values are checked by
// TestSoftmaxRows and TestSoftmaxBackwardRows.
func TestSoftmaxPageGuard(t *testing.T) {
	paths := []bool{false}
	if useAVX2Act {
		paths = append(paths, true)
	}
	defer func(v bool) { setAct(v) }(useAVX2Act)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, asm := range paths {
		setAct(asm)
		for _, cols := range softmaxCols {
			for _, rows := range []int{1, 3} {
				for _, atEnd := range []bool{true, false} {
					x := softmaxInput(rng, "neginf", rows, cols)
					p := pageGuarded(t, len(x), atEnd)
					copy(p, x)
					SoftmaxRows(p, rows, cols)
					dp := pageGuarded(t, len(x), atEnd)
					for i := range dp {
						dp[i] = float32(rng.NormFloat64())
					}
					SoftmaxBackwardRows(dp, p, rows, cols, 0.125)
				}
			}
		}
	}
}
