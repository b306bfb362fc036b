// Command gen writes the Fashion-MNIST subset that package data embeds.
//
// It reads the full Fashion-MNIST IDX files (by default from Debian's
// fashion-mnist package), picks a class-balanced subset with a fixed seed
// and writes it as gzip IDX files:
//
//	go run ./data/internal/gen -src /usr/share/datasets/fashion-mnist -out data/embedded
//
// The output is deterministic: the same input gives byte-identical files.
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/vitgo/vit/data"
)

func main() {
	src := flag.String("src", "/usr/share/datasets/fashion-mnist", "directory with the Fashion-MNIST IDX files")
	out := flag.String("out", "data/embedded", "output directory")
	perTrain := flag.Int("train", 600, "training images per class")
	perTest := flag.Int("test", 100, "test images per class")
	seed := flag.Uint64("seed", 1, "selection seed")
	flag.Parse()

	train, test, err := data.FashionMNIST(*src)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, s := range []struct {
		d      *data.Dataset
		prefix string
		per    int
	}{{train, "train", *perTrain}, {test, "t10k", *perTest}} {
		sub := s.d.Subset(balanced(s.d, s.per, *seed))
		err := data.WriteIDX(sub,
			filepath.Join(*out, s.prefix+"-images-idx3-ubyte.gz"),
			filepath.Join(*out, s.prefix+"-labels-idx1-ubyte.gz"), true)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d images, per class %v\n", s.prefix, sub.N, sub.ClassCounts())
	}
}

// balanced returns, in increasing order, per randomly chosen indices of
// each class of d.
func balanced(d *data.Dataset, per int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 0x766974))
	byClass := make([][]int, len(d.Classes))
	for _, i := range r.Perm(d.N) {
		l := d.Labels[i]
		if len(byClass[l]) < per {
			byClass[l] = append(byClass[l], i)
		}
	}
	var idx []int
	for c, ix := range byClass {
		if len(ix) < per {
			log.Fatalf("class %d has only %d images, want %d", c, len(ix), per)
		}
		idx = append(idx, ix...)
	}
	slices.Sort(idx)
	return idx
}
