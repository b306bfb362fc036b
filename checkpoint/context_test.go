package checkpoint

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vitgo/vit"
)

// countdown is a context that is cancelled after its Err has been asked
// left times: a cancellation that arrives in the middle of a load.
type countdown struct {
	context.Context
	left int
}

func (c *countdown) Err() error {
	if c.left <= 0 {
		return context.Canceled
	}
	c.left--
	return nil
}

// Every format's loader stops between tensors when its context is done.
func TestLoadContextCancelled(t *testing.T) {
	c := vit.Config{ImageHeight: 16, ImageWidth: 16, Channels: 3, Patch: 8, Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Classes: 3}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths := map[string]string{"vit": filepath.Join(dir, "vit"), "hf": filepath.Join(dir, "hf"), "timm": filepath.Join(dir, "timm")}
	if err := Save(paths["vit"], m); err != nil {
		t.Fatal(err)
	}
	if err := SaveHF(paths["hf"], m); err != nil {
		t.Fatal(err)
	}
	if err := SaveTimm(paths["timm"], m); err != nil {
		t.Fatal(err)
	}
	for name, p := range paths {
		if _, err := LoadContext(context.Background(), p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := LoadContext(ctx, p); !errors.Is(err, context.Canceled) {
			t.Errorf("%s, cancelled before: err %v", name, err)
		}
		if _, err := LoadContext(&countdown{Context: context.Background(), left: 3}, p); !errors.Is(err, context.Canceled) {
			t.Errorf("%s, cancelled after 3 tensors: err %v", name, err)
		}
	}
}
