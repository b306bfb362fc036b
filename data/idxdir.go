package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// idxNames returns the file names tried for split ("train" or "t10k") and
// kind ("images-idx3" or "labels-idx1"), in order of preference: the
// Fashion-MNIST/torchvision spelling and the original MNIST one
// ("train-images.idx3-ubyte"), each gzipped or raw.
func idxNames(split, kind string) []string {
	a := split + "-" + kind + "-ubyte"
	b := split + "-" + strings.Replace(kind, "-", ".", 1) + "-ubyte"
	return []string{a + ".gz", a, b + ".gz", b}
}

// findIDX returns the path of the first of idxNames(split, kind) in dir.
func findIDX(dir, split, kind string) (string, error) {
	names := idxNames(split, kind)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("data: %s: no %s (looked for %s)", dir, names[0], strings.Join(names, ", "))
}

// hasIDX reports whether dir holds a train images IDX file.
func hasIDX(dir string) bool {
	_, err := findIDX(dir, "train", "images-idx3")
	return err == nil
}

// LoadIDXDir reads the four IDX files of an MNIST-style directory:
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
// and t10k-labels-idx1-ubyte, each raw or gzipped (with or without a .gz
// suffix; the original MNIST spelling train-images.idx3-ubyte is accepted
// too). The two returned datasets share Classes, named "0", "1", ... up to
// the largest label of either split. Images are [N, 1, H, W].
func LoadIDXDir(dir string) (train, test *Dataset, err error) {
	return loadIDXDir(dir, nil)
}

// loadIDXDir reads dir; with classes non-nil, labels must index it. The
// two splits are decoded concurrently.
func loadIDXDir(dir string, classes []string) (train, test *Dataset, err error) {
	var paths [4]string
	for i, sk := range [4][2]string{{"train", "images-idx3"}, {"train", "labels-idx1"}, {"t10k", "images-idx3"}, {"t10k", "labels-idx1"}} {
		if paths[i], err = findIDX(dir, sk[0], sk[1]); err != nil {
			return nil, nil, err
		}
	}
	var testErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		test, testErr = readIDXPair(paths[2], paths[3], len(classes))
	}()
	train, err = readIDXPair(paths[0], paths[1], len(classes))
	<-done
	if err == nil {
		err = testErr // one error, one line: the training split's first
	}
	if err != nil {
		return nil, nil, err
	}
	if train.H != test.H || train.W != test.W {
		return nil, nil, fmt.Errorf("data: %s: train images are %dx%d but test images are %dx%d", dir, train.H, train.W, test.H, test.W)
	}
	if classes == nil {
		classes = digitClasses(max(len(train.Classes), len(test.Classes)))
	}
	train.Classes, test.Classes = classes, classes
	train.Name, test.Name = dir+" (train)", dir+" (test)"
	return train, test, nil
}
