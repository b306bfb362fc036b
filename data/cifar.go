package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	cifarSide   = 32
	cifarImage  = 3 * cifarSide * cifarSide
	cifarRecord = 1 + cifarImage
)

// cifarDir returns dir, or its cifar-10-batches-bin sub-directory (the
// folder the official archive extracts to) if dir itself holds no batch.
func cifarDir(dir string) (string, bool) {
	for _, d := range []string{dir, filepath.Join(dir, "cifar-10-batches-bin")} {
		if st, err := os.Stat(filepath.Join(d, "data_batch_1.bin")); err == nil && st.Mode().IsRegular() {
			return d, true
		}
	}
	return dir, false
}

// LoadCIFAR10 reads the binary version of CIFAR-10 from dir (or from its
// cifar-10-batches-bin sub-directory): data_batch_1.bin to
// data_batch_5.bin for training, test_batch.bin for testing, each a
// sequence of 3073-byte records (a label byte, then a 32x32 image as red,
// green and blue planes). Images are [N, 3, 32, 32]. Class names come from
// batches.meta.txt if present, else [CIFAR10Classes].
func LoadCIFAR10(dir string) (train, test *Dataset, err error) {
	dir, _ = cifarDir(dir)
	classes := CIFAR10Classes
	b, err := readSmallFile(filepath.Join(dir, "batches.meta.txt"), 64<<10)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if err == nil {
		var names []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				names = append(names, l)
			}
		}
		if len(names) != 10 {
			return nil, nil, fmt.Errorf("data: %s: %d class names, want 10", filepath.Join(dir, "batches.meta.txt"), len(names))
		}
		classes = names
	}
	var trainFiles []string
	for i := 1; i <= 5; i++ {
		trainFiles = append(trainFiles, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)))
	}
	if train, err = readCIFARFiles(trainFiles, classes); err != nil {
		return nil, nil, err
	}
	if test, err = readCIFARFiles([]string{filepath.Join(dir, "test_batch.bin")}, classes); err != nil {
		return nil, nil, err
	}
	train.Name, test.Name = "cifar-10 (train)", "cifar-10 (test)"
	return train, test, nil
}

// readCIFARFiles concatenates CIFAR-10 batch files.
func readCIFARFiles(paths []string, classes []string) (*Dataset, error) {
	sizes := make([]int64, len(paths))
	var total int64
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("data: %s: not a regular file", p)
		}
		if st.Size() == 0 || st.Size()%cifarRecord != 0 {
			return nil, fmt.Errorf("data: %s: size %d is not a positive multiple of the %d-byte CIFAR-10 record", p, st.Size(), cifarRecord)
		}
		sizes[i] = st.Size()
		total += st.Size() / cifarRecord
		if total*cifarImage > MaxDataBytes {
			return nil, fmt.Errorf("data: %s: %d images of CIFAR-10 are over the limit of %d bytes (data.MaxDataBytes)", p, total, MaxDataBytes)
		}
	}
	d := &Dataset{
		Pixels:  make([]uint8, 0, total*cifarImage),
		Labels:  make([]int, 0, total),
		N:       int(total),
		C:       3,
		H:       cifarSide,
		W:       cifarSide,
		Classes: classes,
	}
	var rec [cifarRecord]byte
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		r := bufio.NewReaderSize(f, 1<<16)
		for j := int64(0); j < sizes[i]/cifarRecord; j++ {
			if _, err := io.ReadFull(r, rec[:]); err != nil {
				f.Close()
				return nil, fmt.Errorf("data: %s: record %d: %w", p, j, err)
			}
			if int(rec[0]) >= len(classes) {
				f.Close()
				return nil, fmt.Errorf("data: %s: record %d: label %d out of range [0, %d)", p, j, rec[0], len(classes))
			}
			d.Labels = append(d.Labels, int(rec[0]))
			d.Pixels = append(d.Pixels, rec[1:]...)
		}
		f.Close()
	}
	return d, nil
}

// readSmallFile reads a file of at most limit bytes, failing on a longer
// one (or a device such as /dev/zero) instead of reading it whole.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("data: %s: more than %d bytes", path, limit)
	}
	return b, err
}
