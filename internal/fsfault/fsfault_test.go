//go:build unix

package fsfault

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestLimitFileSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	lift := LimitFileSize(t, 1000)
	err := os.WriteFile(p, make([]byte, 5000), 0o644)
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("writing 5000 bytes under a 1000-byte limit: %v, want EFBIG", err)
	}
	lift()
	if err := os.WriteFile(p, make([]byte, 5000), 0o644); err != nil {
		t.Fatalf("after lifting the limit: %v", err)
	}
}
