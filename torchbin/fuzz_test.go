package torchbin

import (
	"archive/zip"
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzNewReader opens whole checkpoint archives and reads every tensor:
// no panic, and every tensor that reads has as many values as its shape,
// never more than its storage holds.
func FuzzNewReader(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "odd.pt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, entries := range []map[string][]byte{
		{"a/data.pkl": tensorPickle("FloatStorage", 4, 1, []byte{3}, []byte{1}), "a/data/0": make([]byte, 16)},
		{"a/data.pkl": tensorPickle("HalfStorage", 6, 0, []byte{2, 3}, []byte{1, 2}), "a/data/0": make([]byte, 12), "a/byteorder": []byte("little")},
		{"a/data.pkl": tensorPickle("FloatStorage", 127, 0, []byte{127, 127, 127, 127}, []byte{0, 0, 0, 0}), "a/data/0": make([]byte, 508)},
	} {
		f.Add(zipBytes(f, entries))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			_, shape, ok := file.Info(name)
			if !ok {
				t.Fatalf("%q listed but not found", name)
			}
			vals, _, err := file.Float32(name)
			if err != nil {
				continue
			}
			n := 1
			for _, d := range shape {
				n *= d
			}
			if n != len(vals) || int64(n) > file.tensors[name].st.numel {
				t.Fatalf("%q: %d values for shape %v, storage of %d", name, len(vals), shape, file.tensors[name].st.numel)
			}
		}
	})
}

// zipBytes builds a stored zip archive of entries, in name order.
func zipBytes(t testing.TB, entries map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(entries)) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(entries[n])
	}
	zw.Close()
	return buf.Bytes()
}
