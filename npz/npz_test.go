package npz

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type goldenArray struct {
	Dtype        string    `json:"dtype"`
	Shape        []int     `json:"shape"`
	FortranOrder bool      `json:"fortran_order"`
	Values       []float64 `json:"values"`
}

// TestGolden compares against archives written by NumPy (testdata/gen.py).
func TestGolden(t *testing.T) {
	js, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]map[string]goldenArray
	if err := json.Unmarshal(js, &golden); err != nil {
		t.Fatal(err)
	}
	sawFortran := false
	for file, arrays := range golden {
		a, err := Open(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for name := range arrays {
			want = append(want, name)
		}
		if got := a.Names(); !reflect.DeepEqual(got, sortedCopy(want)) {
			t.Errorf("%s: Names() = %v, want %v", file, got, sortedCopy(want))
		}
		for name, g := range arrays {
			sawFortran = sawFortran || g.FortranOrder
			vals, shape, err := a.Float32(name)
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			if !reflect.DeepEqual(shape, g.Shape) {
				t.Errorf("%s: %s: shape %v, want %v", file, name, shape, g.Shape)
			}
			if len(vals) != len(g.Values) {
				t.Errorf("%s: %s: %d values, want %d", file, name, len(vals), len(g.Values))
				continue
			}
			for i, v := range g.Values {
				if vals[i] != float32(v) {
					t.Errorf("%s: %s[%d] = %v, want %v", file, name, i, vals[i], float32(v))
					break
				}
			}
			dtype, shape, err := a.Info(name)
			if err != nil || dtype != g.Dtype || !reflect.DeepEqual(shape, g.Shape) {
				t.Errorf("%s: Info(%s) = %q %v %v, want %q %v", file, name, dtype, shape, err, g.Dtype, g.Shape)
			}
		}
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	}
	if !sawFortran {
		t.Error("golden data has no Fortran-order array")
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

// npy builds an .npy file with format version major.0.
func npy(major int, dict string, data []byte) []byte {
	b := []byte(npyMagic)
	b = append(b, byte(major), 0)
	hdr := dict + "\n"
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	}
	b = append(b, hdr...)
	return append(b, data...)
}

func f32bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

type member struct {
	name    string
	data    []byte
	deflate bool
}

// zipOf builds a zip archive in memory.
func zipOf(t testing.TB, members ...member) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		method := zip.Store
		if m.deflate {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openBytes(b []byte) (*Archive, error) {
	return NewReader(bytes.NewReader(b), int64(len(b)))
}

func TestVersionsAndOrders(t *testing.T) {
	data := f32bytes(1, 2, 3, 4, 5, 6)
	var members []member
	for major := 1; major <= 3; major++ {
		for _, deflate := range []bool{false, true} {
			members = append(members,
				member{fmt.Sprintf("c%d%v.npy", major, deflate), npy(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data), deflate},
				member{fmt.Sprintf("f%d%v.npy", major, deflate), npy(major, `{"shape":(2,3),"fortran_order":True,"descr":"<f4"}`, data), deflate})
		}
	}
	members = append(members, member{"notes.txt", []byte("ignored"), false}, member{"dir/", nil, false})
	a, err := openBytes(zipOf(t, members...))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(a.Names()); n != 12 {
		t.Errorf("%d names, want 12: %v", n, a.Names())
	}
	for _, name := range a.Names() {
		vals, shape, err := a.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		want := []float32{1, 2, 3, 4, 5, 6}
		if name[0] == 'f' {
			want = []float32{1, 3, 5, 2, 4, 6}
		}
		if !reflect.DeepEqual(vals, want) || !reflect.DeepEqual(shape, []int{2, 3}) {
			t.Errorf("%s = %v %v, want %v [2 3]", name, vals, shape, want)
		}
	}
}

func TestFortranToC(t *testing.T) {
	// A 2×3×4 array whose element (i,j,k) has value 100i+10j+k, laid
	// out column-major.
	shape := []int{2, 3, 4}
	in := make([]float32, 24)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 4; k++ {
				in[i+2*(j+3*k)] = float32(100*i + 10*j + k)
			}
		}
	}
	out := fortranToC(in, shape)
	n := 0
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 4; k++ {
				if want := float32(100*i + 10*j + k); out[n] != want {
					t.Fatalf("out[%d] = %v, want %v", n, out[n], want)
				}
				n++
			}
		}
	}
	if got := fortranToC(nil, []int{0, 3}); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestReadNPY(t *testing.T) {
	vals, shape, err := ReadNPY(bytes.NewReader(npy(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", []byte{0xff, 0xff, 7, 0})))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(vals, []float32{-1, 7}) || !reflect.DeepEqual(shape, []int{2}) {
		t.Errorf("got %v %v", vals, shape)
	}
	// A header claiming a huge array, with little data behind it.
	_, _, err = ReadNPY(bytes.NewReader(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000,), }", f32bytes(1, 2))))
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("lying header: err = %v", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		npy  []byte
		want string
	}{
		{"empty", nil, "reading magic"},
		{"bad magic", []byte("PK\x03\x04NUMPY\x01\x00"), "bad magic"},
		{"version 4", npy(4, "{}", nil), "unsupported format version 4.0"},
		{"version 1.1", append([]byte(npyMagic+"\x01\x01"), 0, 0), "unsupported format version 1.1"},
		{"truncated length", []byte(npyMagic + "\x02\x00\x10"), "reading header length"},
		{"truncated header", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", nil)[:30], "exceeds the 30-byte entry"},
		{"huge header len", append([]byte(npyMagic+"\x02\x00"), 0xff, 0xff, 0xff, 0x7f), "exceeds limit"},
		{"not a dict", npy(1, "['descr']", nil), "does not start with '{'"},
		{"missing descr", npy(1, "{'fortran_order': False, 'shape': (2,)}", nil), "missing key 'descr'"},
		{"missing shape", npy(1, "{'descr': '<f4', 'fortran_order': False}", nil), "missing key 'shape'"},
		{"missing fortran", npy(1, "{'descr': '<f4', 'shape': (2,)}", nil), "missing key 'fortran_order'"},
		{"duplicate key", npy(1, "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", nil), "duplicate key"},
		{"extra key", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", nil), "unexpected key"},
		{"structured", npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", nil), "structured"},
		{"object dtype", npy(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", nil), "unsupported dtype"},
		{"complex dtype", npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", nil), "unsupported dtype"},
		{"odd float size", npy(1, "{'descr': '<f3', 'fortran_order': False, 'shape': (2,)}", nil), "unsupported dtype"},
		{"native order", npy(1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2,)}", nil), "unsupported dtype"},
		{"pipe multibyte", npy(1, "{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", nil), "byte order required"},
		{"fortran not bool", npy(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", nil), "fortran_order"},
		{"Truex", npy(1, "{'descr': '<f4', 'fortran_order': Truex, 'shape': (2,)}", nil), "fortran_order"},
		{"shape list", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", nil), "shape is not a tuple"},
		{"shape int", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", nil), "shape is not a tuple"},
		{"negative dim", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", nil), "not a non-negative integer"},
		{"huge dim", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", nil), "overflows int"},
		{"shape overflow", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", nil), "overflow"}, // message differs on 32-bit
		{"zero hides overflow", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296)}", nil), "overflow"},
		{"byte overflow", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}", nil), "overflow"},
		{"unterminated string", npy(1, "{'descr", nil), "newline in string"},
		{"unterminated at end", append([]byte(npyMagic+"\x01\x00\x07\x00"), "{'descr"...), "unterminated string"},
		{"trailing junk", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", nil), "unexpected data"},
		{"missing colon", npy(1, "{'descr' '<f4'}", nil), "expected ':'"},
		{"missing comma", npy(1, "{'descr': '<f4' 'shape': (2,)}", nil), "expected ','"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseNPYHeader(tt.npy)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseNPYHeader error = %v, want containing %q", err, tt.want)
			}
			if _, _, err := ReadNPY(bytes.NewReader(tt.npy)); err == nil || !strings.HasPrefix(err.Error(), "npz: ") {
				t.Errorf("ReadNPY error = %v", err)
			}
			// The same file inside an archive reports the array name.
			a, err := openBytes(zipOf(t, member{"x.npy", tt.npy, true}))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = a.Float32("x")
			if err == nil || !strings.HasPrefix(err.Error(), `npz: array "x": `) {
				t.Errorf("Float32 error = %v", err)
			}
		})
	}
}

func TestHeaderAccepts(t *testing.T) {
	tests := []struct {
		dict  string
		shape []int
	}{
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", []int{}},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", []int{3}},
		{"{'descr':'<f4','fortran_order':False,'shape':(3L,2L)}", []int{3, 2}},
		{"{ \"descr\" : \"|b1\" , \"fortran_order\" : True , \"shape\" : ( 1 , 2 , ) }", []int{1, 2}},
		{"{'descr': '>i8', 'fortran_order': False, 'shape': (0, 5)}", []int{0, 5}},
	}
	for _, tt := range tests {
		h, err := parseNPYHeader(npy(1, tt.dict, nil))
		if err != nil {
			t.Errorf("%s: %v", tt.dict, err)
			continue
		}
		if !reflect.DeepEqual(h.shape, tt.shape) {
			t.Errorf("%s: shape %v, want %v", tt.dict, h.shape, tt.shape)
		}
	}
}

func TestArchiveErrors(t *testing.T) {
	good := npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f32bytes(1, 2))
	tests := []struct {
		name string
		zip  []byte
		want string
	}{
		{"short data", zipOf(t, member{"x.npy", good[:len(good)-3], false}), `npz: array "x": member holds`},
		{"long data", zipOf(t, member{"x.npy", append(good, 0, 0, 0, 0), true}), `npz: array "x": member holds`},
		{"lying shape", zipOf(t, member{"x.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }", f32bytes(1, 2)), true}), `implies 4000074`},
		{"header past entry", zipOf(t, member{"x.npy", good[:20], false}), "exceeds the 20-byte entry"},
		{"not npy", zipOf(t, member{"x.npy", []byte("hello world"), false}), "bad magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := openBytes(tt.zip)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = a.Float32("x")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want containing %q", err, tt.want)
			}
		})
	}

	a, _ := openBytes(zipOf(t, member{"x.npy", good, false}))
	if _, _, err := a.Float32("y"); err == nil || !strings.Contains(err.Error(), `array "y": not found`) {
		t.Errorf("missing array: %v", err)
	}
	if _, err := openBytes([]byte("not a zip file at all")); err == nil || !strings.HasPrefix(err.Error(), "npz: ") {
		t.Errorf("not a zip: %v", err)
	}
	if _, err := openBytes(zipOf(t, member{"x.npy", good, false}, member{"x.npy", good, false})); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.npz")); err == nil {
		t.Error("Open(missing) succeeded")
	}

	// A limit smaller than the array.
	a, _ = openBytes(zipOf(t, member{"x.npy", good, true}))
	a.MaxArrayBytes = 4
	if _, _, err := a.Float32("x"); err == nil || !strings.Contains(err.Error(), "exceeding limit") {
		t.Errorf("limit: %v", err)
	}
}

// rawZip builds an archive with one member whose directory entry declares
// arbitrary sizes.
func rawZip(t *testing.T, method uint16, data []byte, csize, usize uint64, crc uint32) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "x.npy", Method: method, CRC32: crc,
		CompressedSize64: csize, UncompressedSize64: usize,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLyingZipSizes(t *testing.T) {
	huge := npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }", f32bytes(1, 2))
	good := npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f32bytes(1, 2))
	var deflated bytes.Buffer
	{
		zw := zip.NewWriter(&deflated)
		w, _ := zw.Create("x.npy")
		w.Write(good)
		zw.Close()
	}
	dz, _ := zip.NewReader(bytes.NewReader(deflated.Bytes()), int64(deflated.Len()))
	dfh := dz.File[0].FileHeader
	dr, _ := dz.File[0].OpenRaw()
	draw := make([]byte, dfh.CompressedSize64)
	dr.Read(draw)

	tests := []struct {
		name  string
		zip   []byte
		want  string
		limit int64
	}{
		{"stored huge", rawZip(t, zip.Store, huge, 1<<38, 1<<38, 0), "extends past the end", 0},
		{"stored sizes differ", rawZip(t, zip.Store, good, uint64(len(good)), 1<<38, 0), "uncompressed size", 0},
		{"stored over limit", rawZip(t, zip.Store, huge, uint64(len(huge)), uint64(len(huge)), 0), "exceeding limit", 1 << 29},
		{"deflate bomb claim", rawZip(t, zip.Deflate, draw, dfh.CompressedSize64, 1<<40, dfh.CRC32), "impossible", 0},
		{"deflate lying usize", rawZip(t, zip.Deflate, draw, dfh.CompressedSize64, uint64(len(good))+8, dfh.CRC32), "member holds", 0},
		{"deflate short usize", rawZip(t, zip.Deflate, draw, dfh.CompressedSize64, uint64(len(good))-4, dfh.CRC32), "member holds", 0},
		{"bad crc", rawZip(t, zip.Deflate, draw, dfh.CompressedSize64, dfh.UncompressedSize64, dfh.CRC32^1), "checksum", 0},
		{"bad method", rawZip(t, 99, good, uint64(len(good)), uint64(len(good)), 0), "compression method", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := openBytes(tt.zip)
			if err != nil {
				t.Fatal(err)
			}
			if tt.limit != 0 {
				a.MaxArrayBytes = tt.limit
			}
			_, _, err = a.Float32("x")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want containing %q", err, tt.want)
			}
		})
	}

	// With a limit above the claimed size, the stored member still fails
	// cleanly on the size mismatch without allocating 1 GiB.
	a, _ := openBytes(rawZip(t, zip.Store, huge, uint64(len(huge)), uint64(len(huge)), 0))
	a.MaxArrayBytes = math.MaxInt64 / 2
	if _, _, err := a.Float32("x"); err == nil || !strings.Contains(err.Error(), "member holds") {
		t.Errorf("error = %v", err)
	}
}

// TestTruncatedArchive truncates the golden archives at many points: every
// prefix must fail cleanly (or, rarely, still parse), never panic.
func TestTruncatedArchive(t *testing.T) {
	for _, file := range []string{"golden_compressed.npz", "golden_stored.npz"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		step := 1
		if testing.Short() {
			step = 7
		}
		for n := 0; n < len(b); n += step {
			a, err := openBytes(b[:n])
			if err != nil {
				continue
			}
			for _, name := range a.Names() {
				a.Float32(name)
			}
		}
		// Corrupt single bytes of the data region.
		for i := 0; i < len(b); i += 13 {
			c := bytes.Clone(b)
			c[i] ^= 0x5a
			a, err := openBytes(c)
			if err != nil {
				continue
			}
			for _, name := range a.Names() {
				a.Float32(name)
			}
		}
	}
}
