package data

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"sync"
)

//go:generate go run ./internal/gen -src /usr/share/datasets/fashion-mnist -out embedded

//go:embed embedded/*.gz
var embeddedFS embed.FS

// EmbeddedName is the Name of the datasets returned by [Embedded], without
// the " (train)"/" (test)" suffix.
const EmbeddedName = "fashion-mnist (embedded subset)"

var embeddedOnce = sync.OnceValues(func() ([2]*Dataset, error) {
	var out [2]*Dataset
	for i, split := range []string{"train", "t10k"} {
		im, err := readEmbedded(split+"-images-idx3-ubyte.gz", 3)
		if err != nil {
			return out, err
		}
		lb, err := readEmbedded(split+"-labels-idx1-ubyte.gz", 1)
		if err != nil {
			return out, err
		}
		if lb.dims[0] != im.dims[0] {
			return out, fmt.Errorf("embedded %s: %d labels for %d images", split, lb.dims[0], im.dims[0])
		}
		d := &Dataset{
			Pixels:  im.data,
			Labels:  make([]int, im.dims[0]),
			N:       im.dims[0],
			C:       1,
			H:       im.dims[1],
			W:       im.dims[2],
			Classes: FashionMNISTClasses,
		}
		for j, v := range lb.data {
			d.Labels[j] = int(v)
		}
		if err := d.Validate(); err != nil {
			return out, err
		}
		out[i] = d
	}
	out[0].Name, out[1].Name = EmbeddedName+" (train)", EmbeddedName+" (test)"
	return out, nil
})

func readEmbedded(name string, dims int) (*idxFile, error) {
	b, err := embeddedFS.ReadFile("embedded/" + name)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", name, err)
	}
	f, err := readIDX(zr, -1, dims)
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", name, err)
	}
	return f, nil
}

// Embedded returns a small real subset of Fashion-MNIST compiled into the
// binary: 6,000 training images (600 per class) and 1,000 test images (100
// per class), [N, 1, 28, 28], picked at random with a fixed seed from the
// official files by data/internal/gen. Names start with [EmbeddedName].
//
// Each call returns fresh copies that the caller may modify.
func Embedded() (train, test *Dataset) {
	ds, err := embeddedOnce()
	if err != nil {
		panic("data: corrupt embedded dataset: " + err.Error())
	}
	return ds[0].clone(), ds[1].clone()
}

func (d *Dataset) clone() *Dataset {
	c := *d
	c.Pixels = bytes.Clone(d.Pixels)
	c.Labels = append([]int(nil), d.Labels...)
	return &c
}
