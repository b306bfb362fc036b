package boundedread

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := File(p, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("File(10 bytes, limit 10) = %q, %v", b, err)
	}
	if _, err := File(p, 9); err == nil || !strings.Contains(err.Error(), "is over") {
		t.Errorf("File(10 bytes, limit 9): %v", err)
	}
	if _, err := File(p+"x", 9); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
