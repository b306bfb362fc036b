package data

import (
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func idxBytes(payload []byte, dims ...int) []byte {
	return append(idxHeader(dims...), payload...)
}

func TestIDXRoundTrip(t *testing.T) {
	d := synthetic(37, 1, 5, 7, 4)
	for _, compress := range []bool{false, true} {
		dir := t.TempDir()
		// A misleading suffix: the format is detected by magic bytes.
		im, lb := filepath.Join(dir, "im.gz"), filepath.Join(dir, "lb.bin")
		if err := WriteIDX(d, im, lb, compress); err != nil {
			t.Fatal(err)
		}
		got, err := ReadIDX(im, lb)
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if got.N != d.N || got.C != 1 || got.H != 5 || got.W != 7 || len(got.Classes) != 4 {
			t.Fatalf("compress=%v: got %v", compress, got)
		}
		if !bytes.Equal(got.Pixels, d.Pixels) || !slices.Equal(got.Labels, d.Labels) {
			t.Fatalf("compress=%v: content differs", compress)
		}
	}
}

func TestLoadIDXDirNames(t *testing.T) {
	d := synthetic(20, 1, 4, 4, 3)
	dir := t.TempDir()
	// Original MNIST spelling, raw, for train; gzip for test.
	if err := WriteIDX(d, filepath.Join(dir, "train-images.idx3-ubyte"), filepath.Join(dir, "train-labels.idx1-ubyte"), false); err != nil {
		t.Fatal(err)
	}
	te := d.Subset([]int{0, 1, 2, 3, 4})
	if err := WriteIDX(te, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), true); err != nil {
		t.Fatal(err)
	}
	train, test, err := LoadIDXDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 20 || test.N != 5 || len(train.Classes) != 3 || &train.Classes[0] != &test.Classes[0] {
		t.Fatalf("got %v / %v", train, test)
	}
	if _, _, err := LoadIDXDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Fatalf("empty dir: %v", err)
	}
}

func TestRealFashionMNIST(t *testing.T) {
	train, test := installedFashion(t)
	if train.N != 60000 || test.N != 10000 || train.C != 1 || train.H != 28 || train.W != 28 {
		t.Fatalf("got %v / %v", train, test)
	}
	for c, n := range train.ClassCounts() {
		if n != 6000 {
			t.Errorf("train class %d (%s): %d images, want 6000", c, train.Classes[c], n)
		}
	}
	for c, n := range test.ClassCounts() {
		if n != 1000 {
			t.Errorf("test class %d: %d images, want 1000", c, n)
		}
	}
	if train.Classes[9] != "Ankle boot" {
		t.Errorf("classes %v", train.Classes)
	}
	n := ComputeNormalize(train)
	t.Logf("Fashion-MNIST train mean %.6f std %.6f", n.Mean[0], n.Std[0])
	if math.Abs(float64(n.Mean[0]-FashionMNISTNorm.Mean[0])) > 5e-5 || math.Abs(float64(n.Std[0]-FashionMNISTNorm.Std[0])) > 5e-5 {
		t.Errorf("computed %v, FashionMNISTNorm says %v", n, FashionMNISTNorm)
	}
}

// TestHostileIDX feeds broken files to the readers: each must fail with an
// error naming the file, without panicking or allocating much.
func TestHostileIDX(t *testing.T) {
	goodImages := idxBytes(make([]byte, 3*4*4), 3, 4, 4)
	goodLabels := idxBytes([]byte{0, 1, 2}, 3)
	huge := func(dims ...int) []byte { return idxBytes(make([]byte, 16), dims...) }
	truncGz := gz(goodImages)
	corruptGz := bytes.Clone(gz(idxBytes(bytes.Repeat([]byte{1, 2, 3, 4, 5}, 100), 25, 4, 5)))
	for i := 12; i < len(corruptGz)-8; i += 3 {
		corruptGz[i] ^= 0x5a
	}
	tests := []struct {
		name           string
		images, labels []byte
		bad            string // "images" or "labels": the file the error must name
		want           string
	}{
		{"empty images", nil, goodLabels, "images", "unexpected EOF"},
		{"short header", []byte{0, 0, 8}, goodLabels, "images", "unexpected EOF"},
		{"wrong magic", append([]byte{1, 2, 3, 4}, goodImages[4:]...), goodLabels, "images", "not an IDX"},
		{"float element type", append([]byte{0, 0, 0x0d, 3}, goodImages[4:]...), goodLabels, "images", "element type 0x0d"},
		{"labels as images", goodLabels, goodLabels, "images", "1 dimensions"},
		{"images as labels", goodImages, goodImages, "labels", "3 dimensions"},
		{"product overflows", huge(math.MaxUint32, math.MaxUint32, math.MaxUint32), goodLabels, "images", "more than"},
		{"claims 60 GB", huge(60000, 1000, 1000), goodLabels, "images", "more than"},
		{"claims 4 GB raw", huge(1<<16, 256, 256), goodLabels, "images", "more than the limit"},
		{"claims 4 GB gzip", gz(huge(1<<16, 256, 256)), goodLabels, "images", "more than the limit"},
		{"claims 512 MB raw", huge(1<<13, 256, 256), goodLabels, "images", "truncated"},
		{"claims 512 MB gzip", gz(huge(1<<13, 256, 256)), goodLabels, "images", "gzip trailer says the content is 32 bytes"},
		{"truncated raw", goodImages[:len(goodImages)-5], goodLabels, "images", "truncated"},
		{"truncated gzip", truncGz[:len(truncGz)-12], goodLabels, "images", "gzip trailer"},
		{"corrupt gzip", corruptGz, idxBytes(make([]byte, 25), 25), "images", ""},
		{"not gzip after magic", []byte{0x1f, 0x8b, 0, 0, 0, 0}, goodLabels, "images", "gzip"},
		{"trailing raw", append(bytes.Clone(goodImages), 9), goodLabels, "images", "unexpected bytes"},
		{"trailing gzip", gz(append(bytes.Clone(goodImages), 9, 9)), goodLabels, "images", "gzip trailer says the content is 66 bytes"},
		{"zero images", idxBytes(nil, 0, 4, 4), idxBytes(nil, 0), "images", "empty"},
		{"count mismatch", goodImages, idxBytes([]byte{0, 1}, 2), "labels", "2 labels"},
		{"label out of range", goodImages, idxBytes([]byte{0, 12, 2}, 3), "labels", "label 12 of item 1 out of range [0, 10)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			im := writeBytes(t, filepath.Join(dir, "train-images-idx3-ubyte"), tc.images)
			lb := writeBytes(t, filepath.Join(dir, "train-labels-idx1-ubyte"), tc.labels)
			writeBytes(t, filepath.Join(dir, "t10k-images-idx3-ubyte"), goodImages)
			writeBytes(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), goodLabels)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := FashionMNIST(dir) // 10 classes, so labels are range-checked
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("no error")
			}
			file := im
			if tc.bad == "labels" {
				file = lb
			}
			if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should name %s and say %q", err, filepath.Base(file), tc.want)
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > 200<<20 {
				t.Errorf("allocated %d MiB", a>>20)
			}
			if _, err := ReadIDX(im, lb); err == nil && tc.name != "label out of range" {
				t.Errorf("ReadIDX: no error")
			}
		})
	}
}

func TestDatasetSubsetSplitValidate(t *testing.T) {
	d := synthetic(50, 2, 3, 3, 5)
	s := d.Subset([]int{4, 0, 4})
	if s.N != 3 || s.Labels[0] != 4 || !bytes.Equal(s.Image(1), d.Image(0)) || !bytes.Equal(s.Image(2), d.Image(4)) {
		t.Fatalf("Subset wrong: %v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tr, te := d.Split(0.2)
	if tr.N != 40 || te.N != 10 {
		t.Fatalf("Split: %d + %d", tr.N, te.N)
	}
	for c, n := range te.ClassCounts() {
		if n != 2 {
			t.Errorf("test class %d: %d", c, n)
		}
	}
	bad := *d
	bad.Labels = slices.Clone(d.Labels)
	bad.Labels[3] = 5
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted label 5 of 5 classes")
	}
	bad = *d
	bad.Pixels = d.Pixels[1:]
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted short Pixels")
	}
}

// A folder whose training and test IDX files are both broken gets one
// error on one line (the two splits decode concurrently; their errors were
// joined with a newline).
func TestIDXDirErrorIsOneLine(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not an IDX file"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := loadIDXDir(dir, nil)
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("broken train and test files: %q, want one line", err)
	}
}
