package data

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	train, test := Embedded()
	if train.N != 6000 || test.N != 1000 || train.H != 28 || train.W != 28 || train.C != 1 {
		t.Fatalf("got %v / %v", train, test)
	}
	if !strings.HasPrefix(train.Name, EmbeddedName) || train.Classes[0] != "T-shirt/top" {
		t.Fatalf("name %q classes %v", train.Name, train.Classes)
	}
	for c := range 10 {
		if train.ClassCounts()[c] != 600 || test.ClassCounts()[c] != 100 {
			t.Fatalf("unbalanced: %v %v", train.ClassCounts(), test.ClassCounts())
		}
	}
	// Fresh copies each call.
	train.Pixels[0] = 255
	again, _ := Embedded()
	if again.Pixels[0] == 255 && bytes.Count(again.Pixels[:28], []byte{0}) == 27 {
		t.Fatal("Embedded returned a shared buffer")
	}
	// The subset is real: each embedded test image occurs in the
	// installed test set.
	_, full := installedFashion(t)
	seen := map[string]int{}
	for i := range full.N {
		seen[string(full.Image(i))] = full.Labels[i]
	}
	for i := range test.N {
		l, ok := seen[string(test.Image(i))]
		if !ok || l != test.Labels[i] {
			t.Fatalf("embedded test image %d not in Fashion-MNIST", i)
		}
	}
}

func TestOpenNames(t *testing.T) {
	t.Setenv("VIT_DATA", "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	train, _, err := Open("embedded")
	if err != nil || !strings.HasPrefix(train.Name, EmbeddedName) {
		t.Fatalf("embedded: %v %v", train, err)
	}
	train, _, err = Open("")
	if err != nil {
		t.Fatal(err)
	}
	_, installed := os.Stat(filepath.Join(debianFashion, "train-images-idx3-ubyte.gz"))
	if (installed == nil) != (train.N == 60000) {
		t.Fatalf("Open(\"\") gave %v", train)
	}
	if _, _, err := Open(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "not a known name") {
		t.Fatalf("missing path: %v", err)
	}
}
