package torchbin

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit/safetensors"
)

// TestOddTensors reads every tensor of odd.pt (written by torch.save; see
// testdata/gen.py) and compares it with the float32 copy PyTorch wrote to
// odd.safetensors.
func TestOddTensors(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "odd.pt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := safetensors.Open(filepath.Join("testdata", "odd.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if !slices.Equal(f.Names(), want.Names()) {
		t.Fatalf("names %v, want %v", f.Names(), want.Names())
	}
	types := map[string]string{"f16": "F16", "bf16": "BF16", "f64": "F64", "f32": "F32", "transposed": "F32"}
	for _, name := range f.Names() {
		got, shape, err := f.Float32(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w, wshape, err := want.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "scalar" {
			wshape = []int{} // safetensors.File reports a 0-d tensor as [1]
		}
		if !slices.Equal(shape, wshape) {
			t.Fatalf("%s: shape %v, want %v", name, shape, wshape)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s[%d] = %v, want %v", name, i, got[i], w[i])
			}
		}
		if dt, ok := types[name]; ok {
			if got, _, _ := f.Info(name); got != dt {
				t.Errorf("%s: storage %s, want %s", name, got, dt)
			}
		}
	}
}

func TestLegacyFormat(t *testing.T) {
	_, err := Open(filepath.Join("testdata", "legacy.pt"))
	if err == nil || !strings.Contains(err.Error(), "before 1.6") {
		t.Fatalf("legacy checkpoint: %v", err)
	}
}

// writeZip builds a checkpoint archive from entries.
func writeZip(t *testing.T, entries map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(entries[n])
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "x.pt")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tensorPickle pickles {"w": tensor} as torch.save does, with the given
// storage class, storage size, offset, shape and stride.
func tensorPickle(storageClass string, numel, offset int, shape, stride []byte) []byte {
	var p bytes.Buffer
	p.WriteString("\x80\x02ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00w")
	p.WriteString("ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\n" + storageClass + "\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK" + string(rune(numel)) + "tQ")
	p.WriteString("K" + string(rune(offset)))
	p.WriteString("(")
	for _, d := range shape {
		p.WriteString("K" + string(rune(d)))
	}
	p.WriteString("t(")
	for _, s := range stride {
		p.WriteString("K" + string(rune(s)))
	}
	p.WriteString("t\x89h\x00)RtRu.")
	return p.Bytes()
}

func TestHostileCheckpoints(t *testing.T) {
	four := make([]byte, 16) // 4 float32 zeros
	cases := []struct {
		name    string
		entries map[string][]byte
		want    string // in the error of Open or of Float32
	}{
		{"no data.pkl", map[string][]byte{"a/data/0": four}, "no data.pkl"},
		{"code", map[string][]byte{"a/data.pkl": []byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.")}, "refusing"},
		{"truncated", map[string][]byte{"a/data.pkl": []byte("\x80\x02}q\x00(X\xff\x00\x00\x00w")}, "truncated"},
		{"unknown opcode", map[string][]byte{"a/data.pkl": []byte("\x80\x02\xff.")}, "opcode"},
		{"empty stack", map[string][]byte{"a/data.pkl": []byte("\x80\x02R.")}, "empty stack"},
		{"memo miss", map[string][]byte{"a/data.pkl": []byte("\x80\x02h\x05.")}, "memo"},
		{"not a dict", map[string][]byte{"a/data.pkl": []byte("\x80\x02K\x01.")}, "not a dictionary"},
		{"big endian", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1}), "a/data/0": four, "a/byteorder": []byte("big")}, "byte order"},
		{"missing storage", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1})}, "missing"},
		{"short storage", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1}), "a/data/0": four[:8]}, "holds 8 bytes"},
		{"view past storage", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 2, []byte{2, 2}, []byte{2, 1}), "a/data/0": four}, "storage of 4"},
		{"int storage", map[string][]byte{"a/data.pkl": tensorPickle("LongStorage", 4, 0, []byte{4}, []byte{1}), "a/data/0": make([]byte, 32)}, "not a floating-point"},
		{"short int storage", map[string][]byte{"a/data.pkl": tensorPickle("LongStorage", 4, 0, []byte{4}, []byte{1}), "a/data/0": four}, "holds 16 bytes, the tensor needs 32"},
		{"repeating view", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{100, 100}, []byte{0, 0}), "a/data/0": four}, "views that repeat"},
		{"storage claims", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 100, 0, []byte{100}, []byte{1}), "a/data/0": four}, "holds 16 bytes, the tensor needs 400"},
		{"rank mismatch", map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 0, []byte{4}, []byte{1, 1}), "a/data/0": four}, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Open(writeZip(t, tc.entries))
			if err == nil {
				defer f.Close()
				_, _, err = f.Float32("w")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// The well-formed version of the same pickle reads.
	p := writeZip(t, map[string][]byte{"a/data.pkl": tensorPickle("FloatStorage", 4, 1, []byte{3}, []byte{1}), "a/data/0": four})
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if x, shape, err := f.Float32("w"); err != nil || len(x) != 3 || shape[0] != 3 {
		t.Fatalf("%v %v %v", x, shape, err)
	}
}

// FuzzUnpickle runs the pickle machine on arbitrary programs.
func FuzzUnpickle(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "odd.pt"))
	if err != nil {
		f.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		f.Fatal(err)
	}
	pkl, _ := readEntry(zr.File[0], maxPickle)
	f.Add(pkl)
	f.Fuzz(func(t *testing.T, p []byte) {
		obj, err := unpickle(p)
		if err == nil && obj == nil {
			return
		}
	})
}
