package torchbin

import (
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/memlimit"
)

// TestTensorBomb opens, under a 3 GiB address-space limit, a checkpoint of
// about a kilobyte whose pickle describes a tensor of 4·127⁴ elements
// (4.2 GB as float32) viewing a storage of 127 with zero strides: it must be
// refused from the index, before anything is allocated for it.
func TestTensorBomb(t *testing.T) {
	if !memlimit.Child(t, 3<<30) {
		return
	}
	p := writeZip(t, map[string][]byte{
		"a/data.pkl": tensorPickle("FloatStorage", 127, 0, []byte{127, 127, 127, 127, 4}, []byte{0, 0, 0, 0, 0}),
		"a/data/0":   make([]byte, 4*127),
	})
	f, err := Open(p)
	if err == nil {
		defer f.Close()
		_, _, err = f.Float32("w")
	}
	if err == nil || !strings.Contains(err.Error(), "more than its storage's 127") {
		t.Fatalf("got %v", err)
	}
}
