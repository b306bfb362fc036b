package safetensors

import (
	"bytes"
	"encoding/binary"
	"github.com/vitgo/vit/internal/half"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// build assembles a safetensors file from a raw JSON header and a data
// buffer, exactly as the format specifies (no padding added).
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func le32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestParseHandBuilt checks the reader against a fixture assembled by hand
// from the format specification.
func TestParseHandBuilt(t *testing.T) {
	var data []byte
	data = append(data, le32(1, -2, 0.5, 3)...)                           // f32 [0,16)
	data = append(data, 0x00, 0x3c, 0x00, 0xc0)                           // f16 [16,20): 1, -2
	data = append(data, 0x80, 0x3f, 0x40, 0x40)                           // bf16 [20,24): 1, 3
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(0.25)) // f64 [24,32)
	data = binary.LittleEndian.AppendUint32(data, uint32(0xfffffff9))     // i32 [32,36): -7
	data = append(data, 200, 1, 0)                                        // u8 [36,38): 200, 1; bool [38,39): false
	header := `{"__metadata__":{"format":"pt","note":"hand built"},` +
		`"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},` +
		`"h":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},` +
		`"b":{"data_offsets":[20,24],"shape":[1,2],"dtype":"BF16"},` +
		`"d":{"dtype":"F64","shape":[],"data_offsets":[24,32]},` +
		`"i":{"dtype":"I32","shape":[1],"data_offsets":[32,36]},` +
		`"u":{"dtype":"U8","shape":[2],"data_offsets":[36,38]},` +
		`"z":{"dtype":"BOOL","shape":[1,1],"data_offsets":[38,39]},` +
		`"e":{"dtype":"F32","shape":[0,5],"data_offsets":[39,39]}}  `
	f, err := Parse(build(header, data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Names(), []string{"b", "d", "e", "h", "i", "u", "w", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if got, want := f.Metadata(), map[string]string{"format": "pt", "note": "hand built"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata() = %v, want %v", got, want)
	}
	if dt, shape, ok := f.Info("b"); !ok || dt != "BF16" || !reflect.DeepEqual(shape, []int{1, 2}) {
		t.Errorf("Info(b) = %q, %v, %v", dt, shape, ok)
	}
	if _, _, ok := f.Info("missing"); ok {
		t.Error("Info(missing) reported ok")
	}
	want := map[string]struct {
		vals  []float32
		shape []int
	}{
		"w": {[]float32{1, -2, 0.5, 3}, []int{2, 2}},
		"h": {[]float32{1, -2}, []int{2}},
		"b": {[]float32{1, 3}, []int{1, 2}},
		"d": {[]float32{0.25}, []int{}},
		"i": {[]float32{-7}, []int{1}},
		"u": {[]float32{200, 1}, []int{2}},
		"z": {[]float32{0}, []int{1, 1}},
		"e": {[]float32{}, []int{0, 5}},
	}
	for name, w := range want {
		vals, shape, err := f.Float32(name)
		if err != nil {
			t.Errorf("Float32(%s): %v", name, err)
			continue
		}
		if !reflect.DeepEqual(vals, w.vals) || !reflect.DeepEqual(shape, w.shape) {
			t.Errorf("Float32(%s) = %v %v, want %v %v", name, vals, shape, w.vals, w.shape)
		}
	}
	raw, err := f.Raw("h")
	if err != nil || !bytes.Equal(raw, []byte{0x00, 0x3c, 0x00, 0xc0}) {
		t.Errorf("Raw(h) = %x, %v", raw, err)
	}
	if _, _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `tensor "nope"`) {
		t.Errorf("Float32(nope) error = %v", err)
	}
}

// TestWriteGolden pins the exact bytes produced by Write.
func TestWriteGolden(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []Tensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "a<&>", Shape: []int{1, 1}, Data: []float32{-1}, DType: "BF16"},
		{Name: "s", Data: []float32{0.5}},
	}, map[string]string{"z": "last", "a": "first"})
	if err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"a":"first","z":"last"},` +
		`"a<&>":{"dtype":"BF16","shape":[1,1],"data_offsets":[12,14]},` +
		`"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"s":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	want := build(header, append(le32(1, 2, 0.5), 0x80, 0xbf))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Write output mismatch\n got: %q\nwant: %q", buf.Bytes(), want)
	}
	if (len(want)-len(le32(1, 2, 0.5))-2)%8 != 0 {
		t.Errorf("data buffer not 8-byte aligned")
	}

	// No metadata: the key is omitted.
	buf.Reset()
	if err := Write(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := build("{}      ", nil); !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("empty Write = %q, want %q", buf.Bytes(), want)
	}
}

func TestRoundTrip(t *testing.T) {
	tensors := []Tensor{
		{Name: "f32", Shape: []int{2, 3}, Data: []float32{1, 2, 3, -4, 5.5, float32(math.Inf(-1))}},
		{Name: "f16", Shape: []int{3}, Data: []float32{0.5, -1024, 65504}, DType: "F16"},
		{Name: "bf16", Shape: []int{2}, Data: []float32{1.5, -256}, DType: "BF16"},
		{Name: "empty", Shape: []int{0}, Data: nil},
		{Name: "scalar", Shape: nil, Data: []float32{7}},
	}
	md := map[string]string{"epoch": "3"}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, tensors, md); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]func() (*File, error){
		"Open":  func() (*File, error) { return Open(path) },
		"Parse": func() (*File, error) { return Parse(raw) },
		"Read":  func() (*File, error) { return Read(bytes.NewReader(raw), int64(len(raw))) },
	}
	for how, fn := range open {
		f, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if !reflect.DeepEqual(f.Metadata(), md) {
			t.Errorf("%s: metadata = %v", how, f.Metadata())
		}
		for _, tn := range tensors {
			vals, shape, err := f.Float32(tn.Name)
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			wantShape := tn.Shape
			if wantShape == nil {
				wantShape = []int{}
			}
			wantVals := tn.Data
			if wantVals == nil {
				wantVals = []float32{}
			}
			if !reflect.DeepEqual(vals, wantVals) || !reflect.DeepEqual(shape, wantShape) {
				t.Errorf("%s: %s = %v %v, want %v %v", how, tn.Name, vals, shape, wantVals, wantShape)
			}
			dt, _, _ := f.Info(tn.Name)
			if want := tn.DType; dt != want && !(want == "" && dt == "F32") {
				t.Errorf("%s: %s dtype = %s, want %s", how, tn.Name, dt, want)
			}
		}
		if err := f.Close(); err != nil {
			t.Errorf("%s: Close: %v", how, err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("%s: second Close: %v", how, err)
		}
		if _, err := f.Raw("f32"); err == nil {
			t.Errorf("%s: Raw after Close succeeded", how)
		}
	}
}

func TestWriteDeterministic(t *testing.T) {
	mk := func(order []int) []byte {
		all := []Tensor{
			{Name: "x", Shape: []int{1}, Data: []float32{1}, DType: "F16"},
			{Name: "y", Shape: []int{2}, Data: []float32{1, 2}},
			{Name: "w", Shape: []int{1}, Data: []float32{3}},
		}
		var ts []Tensor
		for _, i := range order {
			ts = append(ts, all[i])
		}
		var buf bytes.Buffer
		if err := Write(&buf, ts, map[string]string{"b": "2", "a": "1"}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := mk([]int{0, 1, 2}), mk([]int{2, 0, 1})
	if !bytes.Equal(a, b) {
		t.Errorf("output depends on input order:\n%q\n%q", a, b)
	}
	n := binary.LittleEndian.Uint64(a)
	if n%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", n)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"empty name", []Tensor{{Shape: []int{1}, Data: []float32{1}}}, "empty name"},
		{"reserved", []Tensor{{Name: "__metadata__", Data: []float32{1}}}, "reserved"},
		{"duplicate", []Tensor{{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{1}}}, `tensor "a": duplicate`},
		{"dtype", []Tensor{{Name: "a", Data: []float32{1}, DType: "I8"}}, "unsupported output dtype"},
		{"negative", []Tensor{{Name: "a", Shape: []int{-1, -1}, Data: []float32{1}}}, "negative"},
		{"length", []Tensor{{Name: "a", Shape: []int{2, 2}, Data: []float32{1}}}, "needs 4 elements"},
		{"overflow", []Tensor{{Name: "a", Shape: []int{math.MaxInt / 2, 3}, Data: nil}}, "overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestWriteFileKeepsOldOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, []Tensor{{Name: "a", Data: []float32{1}}}, nil); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	err := WriteFile(path, []Tensor{{Name: "a", Shape: []int{3}, Data: []float32{1}}}, nil)
	if err == nil {
		t.Fatal("expected error")
	}
	now, _ := os.ReadFile(path)
	if !bytes.Equal(old, now) {
		t.Error("existing file modified by failed WriteFile")
	}
}

func TestParseErrors(t *testing.T) {
	f32x2 := le32(1, 2)
	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<40)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"header too long for file", build(`{}`, nil)[:9], "exceeds file size"},
		{"absurd header", append(hugeLen, "{}"...), "exceeds limit"},
		{"header max uint64", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...), "exceeds limit"},
		{"header length zero", build("", nil), "too small"},
		{"invalid json", build(`{"a":`, nil), `tensor "a": invalid entry: unexpected EOF`},
		{"truncated json", build(`{"a`, nil), "invalid header"},
		{"not an object", build(`[1,2]`, nil), "invalid header"},
		{"trailing garbage", build(`{} x`, nil), "trailing data"},
		{"two objects", build(`{}{}`, nil), "trailing data"},
		{"invalid utf8", build("{\"\xff\":1}", nil), "UTF-8"},
		{"entry not object", build(`{"x":3}`, nil), `tensor "x": invalid entry`},
		{"missing dtype", build(`{"x":{"shape":[2],"data_offsets":[0,8]}}`, f32x2), `tensor "x": invalid entry: missing field "dtype"`},
		{"missing shape", build(`{"x":{"dtype":"F32","data_offsets":[0,8]}}`, f32x2), `missing field "shape"`},
		{"null shape", build(`{"x":{"dtype":"F32","shape":null,"data_offsets":[0,8]}}`, f32x2), `missing field "shape"`},
		{"missing offsets", build(`{"x":{"dtype":"F32","shape":[2]}}`, f32x2), `missing field "data_offsets"`},
		{"duplicate field", build(`{"x":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}`, f32x2), `duplicate field "dtype"`},
		{"wrong case field", build(`{"x":{"DTYPE":"F32","shape":[2],"data_offsets":[0,8]}}`, f32x2), `missing field "dtype"`},
		{"dtype not string", build(`{"x":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, f32x2), `tensor "x": invalid entry: field "dtype"`},
		{"unknown dtype", build(`{"x":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}`, f32x2), `tensor "x": unknown dtype "F128"`},
		{"negative dim", build(`{"x":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}`, f32x2), `tensor "x": negative dimension`},
		{"fractional dim", build(`{"x":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, f32x2), `tensor "x": invalid entry`},
		{"dim beyond int64", build(`{"x":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}`, f32x2), `tensor "x": invalid entry`},
		{"shape overflow", build(`{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, f32x2), `overflows`}, // message differs on 32-bit
		{"byte size overflow", build(`{"x":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, f32x2), `overflows`},
		{"zero dim hides overflow", build(`{"x":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}`, nil), `overflows`},
		{"offsets arity", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}}`, f32x2), `data_offsets must have 2 elements`},
		{"negative offset", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, f32x2), `tensor "x": invalid entry: field "data_offsets"`},
		{"begin after end", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, f32x2), `tensor "x": data_offsets [8, 0]: begin > end`},
		{"out of range", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32x2[:4]), `tensor "x": data_offsets [0, 8] out of range`},
		{"huge offsets", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}}`, f32x2), `out of range`},
		{"length mismatch", build(`{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32x2), `tensor "x": data_offsets [0, 8] span 8 bytes, but dtype F32 and shape [3] need 12`},
		{"dtype size mismatch", build(`{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}`, f32x2), `need 4`},
		{"overlap", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), `tensor "y": data_offsets [4, 8] overlap`},
		{"zero-size inside another", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, f32x2), `tensor "y": data_offsets [4, 4] overlap`},
		{"identical offsets", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32x2), `overlap`},
		{"gap", build(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), `tensor "x": data_offsets [4, 8] leave a gap`},
		{"trailing data bytes", build(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32x2), `tensors cover only 4`},
		{"duplicate name", build(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), `tensor "x": duplicate name`},
		{"duplicate metadata", build(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate __metadata__`},
		{"metadata not strings", build(`{"__metadata__":{"a":1}}`, nil), `invalid __metadata__`},
		{"metadata not object", build(`{"__metadata__":[]}`, nil), `invalid __metadata__`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.file)
			if err == nil {
				f.Close()
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %q, want containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q lacks package prefix", err)
			}
			// Read must agree with Parse.
			f, err = Read(bytes.NewReader(tt.file), int64(len(tt.file)))
			if err == nil {
				f.Close()
				t.Fatalf("Read succeeded")
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	f32x2 := le32(1, 2)
	tests := []struct {
		name string
		file []byte
	}{
		{"empty header", build(`{}`, nil)},
		{"null metadata", build(`{"__metadata__":null}`, nil)},
		{"unknown field ignored", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":{"a":[1]}}}`, f32x2)},
		{"whitespace", build(" \n{ \"x\" : {\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]} }\n  ", f32x2)},
		{"unsorted offsets", build(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32x2)},
		{"zero-size tensors share offset", build(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},"b":{"dtype":"I64","shape":[3,0],"data_offsets":[8,8]},"c":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32x2)},
		{"F8 dtype", build(`{"x":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}`, f32x2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		})
	}
}

func TestFloat32UnsupportedDtype(t *testing.T) {
	f, err := Parse(build(`{"x":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}`, le32(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.Float32("x")
	if err == nil || !strings.Contains(err.Error(), `tensor "x": cannot convert dtype F8_E4M3`) {
		t.Errorf("error = %v", err)
	}
	if raw, err := f.Raw("x"); err != nil || len(raw) != 8 {
		t.Errorf("Raw = %v, %v", raw, err)
	}
}

// TestReadLyingSize checks Read when the size argument overstates what the
// reader holds.
func TestReadLyingSize(t *testing.T) {
	file := build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, le32(1, 2))
	// A size larger than the data: the header then fails to tile the
	// (claimed) buffer.
	if _, err := Read(bytes.NewReader(file), 1<<50); err == nil {
		t.Error("Read with oversized size succeeded")
	}
	// A header that claims a big buffer, backed by a short reader: the
	// read fails without allocating the claimed size up front.
	big := build(`{"x":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`, nil)
	_, err := Read(bytes.NewReader(big), int64(len(big))+1<<30)
	if err == nil || !strings.Contains(err.Error(), "reading tensor data") {
		t.Errorf("error = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Error("Open(missing) succeeded")
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open(directory) succeeded")
	}
	p := filepath.Join(dir, "bad")
	os.WriteFile(p, build(`{"x":1}`, nil), 0o644)
	_, err := Open(p)
	if err == nil || !strings.Contains(err.Error(), `tensor "x"`) || !strings.Contains(err.Error(), p) {
		t.Errorf("Open(bad) error = %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Open(empty); err == nil {
		t.Error("Open(empty) succeeded")
	}
}

func TestF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := half.ToFloat32(h)
		back := f32ToF16(f)
		if f != f { // NaN
			if back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x8000 != h&0x8000 {
				t.Fatalf("NaN %#04x -> %#04x", h, back)
			}
			continue
		}
		if back != h {
			t.Fatalf("f16 %#04x -> %g -> %#04x", h, f, back)
		}
	}
}

func TestF16Rounding(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65519, 0x7bff},                            // below the rounding midpoint
		{65520, 0x7c00},                            // midpoint rounds to even: Inf
		{1e10, 0x7c00},                             // overflow
		{-1e10, 0xfc00},                            // overflow
		{1 + 1.0/2048, 0x3c00},                     // tie, round to even (down)
		{1 + 3.0/2048, 0x3c02},                     // tie, round to even (up)
		{float32(math.Ldexp(1, -24)), 0x0001},      // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000},      // tie to even: zero
		{float32(math.Ldexp(1.5, -25)), 0x0001},    // above tie
		{float32(math.Ldexp(3, -25)), 0x0002},      // tie between 1 and 2 units: even
		{float32(math.Ldexp(1, -30)), 0x0000},      // underflow
		{float32(math.Ldexp(1023.5, -24)), 0x0400}, // rounds up into smallest normal
		{float32(math.Copysign(0, -1)), 0x8000},
	}
	for _, tt := range tests {
		if got := f32ToF16(tt.in); got != tt.want {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}

func TestBF16Rounding(t *testing.T) {
	tests := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // max float32 rounds to Inf
		{0x7f800000, 0x7f80}, // Inf
		{0xff800000, 0xff80}, // -Inf
	}
	for _, tt := range tests {
		if got := f32ToBF16(math.Float32frombits(tt.in)); got != tt.want {
			t.Errorf("f32ToBF16(%#08x) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	// NaN with payload only in the low bits must stay NaN.
	if got := f32ToBF16(math.Float32frombits(0x7f800001)); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("NaN became %#04x", got)
	}
}
