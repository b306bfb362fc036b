package memlimit

import (
	"os"
	"strings"
	"testing"
)

// TestBomb allocates 4 GiB. Run directly it is skipped; TestLimitBites
// runs it in a child under a 1 GiB limit, where it must die.
func TestBomb(t *testing.T) {
	if os.Getenv(envKey) != t.Name() {
		t.Skip("run by TestLimitBites in a child process")
	}
	if !Child(t, 1<<30) {
		return
	}
	b := make([]byte, 4<<30)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	t.Log("allocated 4 GiB under a 1 GiB limit")
}

// TestLimitBites shows that the limit is real: the child running TestBomb
// fails instead of allocating.
func TestLimitBites(t *testing.T) {
	if raceEnabled || !supported {
		t.Skip("no limit here")
	}
	out, err := runChild("TestBomb")
	if err == nil {
		t.Fatalf("a 4 GiB allocation under a 1 GiB limit succeeded:\n%s", out)
	}
	if strings.Contains(string(out), "allocated 4 GiB") {
		t.Fatalf("the allocation succeeded:\n%s", out)
	}
}

// TestSmallAllocationPasses runs a modest body under a 2 GiB limit.
func TestSmallAllocationPasses(t *testing.T) {
	if !Child(t, 2<<30) {
		return
	}
	b := make([]byte, 256<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
}
