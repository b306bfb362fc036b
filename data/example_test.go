package data_test

import (
	"fmt"

	"github.com/vitgo/vit/data"
)

func Example() {
	// Open("") gives the installed Fashion-MNIST, or the embedded subset.
	// The embedded subset is used here so the output is the same anywhere.
	train, test := data.Embedded()
	fmt.Println(train)
	fmt.Println(test)

	loader := data.NewLoader(train, 128, data.LoaderOptions{
		Shuffle:   true,
		DropLast:  true,
		Seed:      1,
		Augment:   &data.Augment{PadCrop: 4, HFlip: true},
		Normalize: data.FashionMNISTNorm,
	})
	epoch, resumeAt := 0, 0
	it := loader.Epoch(epoch, resumeAt)
	defer it.Close()
	n := 0
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if n == 0 {
			fmt.Printf("X [%d, %d, %d, %d], %d labels\n", b.B, b.C, b.H, b.W, len(b.Labels))
		}
		// ... forward and backward pass on b.X and b.Labels ...
		b.Release() // b's buffers are reused from here on
		n++
	}
	fmt.Println(n, "batches per epoch")
	// Output:
	// fashion-mnist (embedded subset) (train): 6000 images [1, 28, 28], 10 classes
	// fashion-mnist (embedded subset) (test): 1000 images [1, 28, 28], 10 classes
	// X [128, 1, 28, 28], 128 labels
	// 46 batches per epoch
}
