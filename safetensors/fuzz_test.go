package safetensors

import (
	"bytes"
	"testing"
)

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, []Tensor{
		{Name: "a", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		{Name: "b", Shape: []int{3}, Data: []float32{1, 2, 3}, DType: "F16"},
		{Name: "c", Data: []float32{5}, DType: "BF16"},
	}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add(build(`{}`, nil))
	f.Add(build(`{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, le32(1, 2)))
	f.Add(build(`{"x":{"dtype":"U8","shape":[0,3],"data_offsets":[0,0]},"y":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 0}))
	f.Add(build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, le32(1, 2)))
	f.Add(build(`{"__metadata__":{"a":"b"},"x":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`, le32(1, 2)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'})

	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		defer file.Close()
		for _, name := range file.Names() {
			dtype, shape, ok := file.Info(name)
			if !ok {
				t.Fatalf("Info(%q) not found", name)
			}
			raw, err := file.Raw(name)
			if err != nil {
				t.Fatal(err)
			}
			n := 1
			for _, d := range shape {
				n *= d
			}
			if len(raw) != n*dtypeSizes[dtype] {
				t.Fatalf("%q: %d raw bytes for %d elements of %s", name, len(raw), n, dtype)
			}
			vals, _, err := file.Float32(name)
			if err == nil && len(vals) != n {
				t.Fatalf("%q: %d values, want %d", name, len(vals), n)
			}
		}
	})
}

// FuzzRead reads through the io.ReaderAt path (header, then data read as
// it arrives), which must agree with Parse on every input.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, []Tensor{{Name: "w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}}, nil)
	f.Add(buf.Bytes())
	f.Add(build(`{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, []byte{0, 0x3f, 0, 0x40}))
	f.Add(build(`{"x":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}`, le32(1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		rf, rerr := Read(bytes.NewReader(b), int64(len(b)))
		pf, perr := Parse(b)
		if (rerr == nil) != (perr == nil) {
			t.Fatalf("Read: %v, Parse: %v", rerr, perr)
		}
		if rerr != nil {
			return
		}
		for _, name := range pf.Names() {
			a, _ := rf.Raw(name)
			c, _ := pf.Raw(name)
			if !bytes.Equal(a, c) {
				t.Fatalf("%q: Read and Parse disagree", name)
			}
		}
	})
}
