package data

import (
	"fmt"
	"strconv"
)

// Dataset is a labelled set of images held as bytes, the way the files
// store them.
//
// Pixels has length N*C*H*W and is laid out [N, C, H, W]: image i occupies
// Pixels[i*C*H*W : (i+1)*C*H*W], channel-major (planar). Labels has length
// N, each in [0, len(Classes)).
type Dataset struct {
	Name    string   // human-readable origin, e.g. "fashion-mnist (train)"
	Pixels  []uint8  // [N, C, H, W]
	Labels  []int    // [N]
	N       int      // number of images
	C, H, W int      // channels (1 grey, 3 RGB), height, width
	Classes []string // class names, indexed by label
}

// Fashion-MNIST class names, indexed by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// MNIST class names, indexed by label.
var MNISTClasses = digitClasses(10)

// CIFAR-10 class names, indexed by label, as in batches.meta.txt.
var CIFAR10Classes = []string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

func digitClasses(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}

// ImageSize returns C*H*W, the number of bytes of one image.
func (d *Dataset) ImageSize() int { return d.C * d.H * d.W }

// Image returns image i, [C, H, W], as a slice of d.Pixels (not a copy).
func (d *Dataset) Image(i int) []uint8 {
	s := d.ImageSize()
	return d.Pixels[i*s : (i+1)*s : (i+1)*s]
}

// Subset returns a new dataset with the images idx[0], idx[1], ... of d,
// in that order. Pixels and labels are copied; Classes is shared. It
// panics if an index is out of range.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := d.ImageSize()
	out := &Dataset{
		Name:    d.Name,
		Pixels:  make([]uint8, len(idx)*s),
		Labels:  make([]int, len(idx)),
		N:       len(idx),
		C:       d.C,
		H:       d.H,
		W:       d.W,
		Classes: d.Classes,
	}
	for j, i := range idx {
		if i < 0 || i >= d.N {
			panic(fmt.Sprintf("data: Subset index %d out of range [0, %d)", i, d.N))
		}
		copy(out.Pixels[j*s:(j+1)*s], d.Pixels[i*s:(i+1)*s])
		out.Labels[j] = d.Labels[i]
	}
	return out
}

// ClassCounts returns the number of images of each class, [len(Classes)].
func (d *Dataset) ClassCounts() []int {
	c := make([]int, len(d.Classes))
	for _, l := range d.Labels {
		if l >= 0 && l < len(c) {
			c[l]++
		}
	}
	return c
}

// Validate checks that the fields of d are consistent: positive sizes,
// slice lengths matching N, C, H, W, and labels in [0, len(Classes)).
func (d *Dataset) Validate() error {
	switch {
	case d.N < 0 || d.C <= 0 || d.H <= 0 || d.W <= 0:
		return fmt.Errorf("data: %s: bad shape [%d, %d, %d, %d]", d.Name, d.N, d.C, d.H, d.W)
	case len(d.Pixels) != d.N*d.ImageSize():
		return fmt.Errorf("data: %s: %d pixel bytes, want N*C*H*W = %d", d.Name, len(d.Pixels), d.N*d.ImageSize())
	case len(d.Labels) != d.N:
		return fmt.Errorf("data: %s: %d labels for %d images", d.Name, len(d.Labels), d.N)
	case len(d.Classes) == 0:
		return fmt.Errorf("data: %s: no classes", d.Name)
	}
	for i, l := range d.Labels {
		if l < 0 || l >= len(d.Classes) {
			return fmt.Errorf("data: %s: label %d of image %d out of range [0, %d)", d.Name, l, i, len(d.Classes))
		}
	}
	return nil
}

func (d *Dataset) String() string {
	return fmt.Sprintf("%s: %d images [%d, %d, %d], %d classes", d.Name, d.N, d.C, d.H, d.W, len(d.Classes))
}
