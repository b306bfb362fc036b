package main

import (
	"path/filepath"
	"testing"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/imageio"
)

// The set is what the benchmark needs: a model that loads and distinct
// photos that decode at 7/8 of the source photo's size.
func TestWrite(t *testing.T) {
	out := t.TempDir()
	if err := write(out, "Ti/16", 10, 3, "../../imageio/testdata/in/chelsea.png"); err != nil {
		t.Fatal(err)
	}
	m, err := checkpoint.Load(filepath.Join(out, "model"))
	if err != nil || m.Config.ImageHeight != 224 || m.Config.Classes != 10 {
		t.Fatalf("model: %v", err)
	}
	var first []uint8
	for i, name := range []string{"000000.jpg", "000001.jpg", "000002.jpg"} {
		img, err := imageio.Load(filepath.Join(out, "images", name))
		if err != nil || img.W != 350 || img.H != 245 {
			t.Fatalf("%s: %v", name, err)
		}
		if i == 0 {
			first = img.Pix
		} else if string(img.Pix) == string(first) {
			t.Fatalf("%s is the same photo as 000000.jpg", name)
		}
	}
}
