package data

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// synthetic returns a dataset of n images [c, h, w] with pixels derived
// from the image index and labels i % classes.
func synthetic(n, c, h, w, classes int) *Dataset {
	d := &Dataset{
		Name:    "synthetic",
		Pixels:  make([]uint8, n*c*h*w),
		Labels:  make([]int, n),
		N:       n,
		C:       c,
		H:       h,
		W:       w,
		Classes: digitClasses(classes),
	}
	for i := range d.Pixels {
		d.Pixels[i] = uint8(i*7 + i/(c*h*w)*13)
	}
	for i := range d.Labels {
		d.Labels[i] = i % classes
	}
	return d
}

const debianFashion = "/usr/share/datasets/fashion-mnist"

var realFashion = sync.OnceValues(func() ([2]*Dataset, error) {
	tr, te, err := FashionMNIST(debianFashion)
	return [2]*Dataset{tr, te}, err
})

// installedFashion returns the Debian Fashion-MNIST, or skips the test.
func installedFashion(t *testing.T) (train, test *Dataset) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(debianFashion, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST not installed in " + debianFashion)
	}
	ds, err := realFashion()
	if err != nil {
		t.Fatal(err)
	}
	return ds[0], ds[1]
}

func writeBytes(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
