package train

import (
	"slices"
	"testing"

	"github.com/vitgo/vit/data"
)

// TestEvaluateFlip checks the mirror-image test-time augmentation: it
// scores a dataset and its mirror image identically (each image's logits
// are the same mean of the two passes), and differently from plain
// evaluation of a model that is not mirror-symmetric.
func TestEvaluateFlip(t *testing.T) {
	_, test := data.Embedded()
	test = test.Subset(seq(200))
	mirror := test.Subset(seq(200))
	for r := 0; r < len(mirror.Pixels); r += mirror.W {
		slices.Reverse(mirror.Pixels[r : r+mirror.W])
	}
	m := tinyModel(t, test, 3)
	for i := range m.Head.W.Data { // New zeroes the head: give it weights
		m.Head.W.Data[i] = float32(i%7-3) / 4
	}
	a, err := EvaluateFlip(m, test, 64)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EvaluateFlip(m, mirror, 64)
	if err != nil {
		t.Fatal(err)
	}
	if a.Loss != b.Loss || a.Accuracy != b.Accuracy {
		t.Fatalf("flip-averaged loss %v / %v, accuracy %v / %v for an image set and its mirror", a.Loss, b.Loss, a.Accuracy, b.Accuracy)
	}
	plain, err := Evaluate(m, test, 64)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Loss == a.Loss {
		t.Fatalf("flip averaging changed nothing (loss %v)", a.Loss)
	}
}
