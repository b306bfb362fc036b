package npz

import (
	"bytes"
	"testing"
)

func FuzzParseHeader(f *testing.F) {
	f.Add(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", nil))
	f.Add(npy(2, "{'descr': '>i8', 'fortran_order': True, 'shape': (), }", nil))
	f.Add(npy(3, `{"descr":"|u1","fortran_order":False,"shape":(0,4L,)}`, nil))
	f.Add(npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", nil))
	f.Add([]byte(npyMagic + "\x01\x00\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseNPYHeader(b)
		if err != nil {
			return
		}
		if h.dataOffset > int64(len(b)) || h.size <= 0 || h.nelem < 0 {
			t.Fatalf("inconsistent header %+v", h)
		}
		n := int64(1)
		for _, d := range h.shape {
			if d < 0 {
				t.Fatalf("negative dimension in %v", h.shape)
			}
			n *= int64(d)
		}
		if n != h.nelem {
			t.Fatalf("nelem %d, shape %v", h.nelem, h.shape)
		}
	})
}

func FuzzReadNPY(f *testing.F) {
	f.Add(npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f32bytes(1, 2, 3, 4)))
	f.Add(npy(2, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", []byte{0, 0x3c, 0, 0xc0}))
	f.Add(npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (100000000,), }", []byte{1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, shape, err := ReadNPY(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(vals) {
			t.Fatalf("%d values for shape %v", len(vals), shape)
		}
	})
}

// FuzzArchive opens an archive and reads every array: no panic, and every
// array that reads has as many values as its shape says, within the limit.
func FuzzArchive(f *testing.F) {
	f.Add(zipOf(f, member{"a.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f32bytes(1, 2)), false}))
	f.Add(zipOf(f, member{"b/c.npy", npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 1), }", make([]byte, 16)), true},
		member{"d.npy", npy(2, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", []byte{1, 2, 3}), false}))
	f.Add(zipOf(f, member{"big.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }", f32bytes(1)), true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		a.MaxArrayBytes = 64 << 20
		for _, name := range a.Names() {
			_, shape, err := a.Info(name)
			if err != nil {
				continue
			}
			vals, shape2, err := a.Float32(name)
			if err != nil {
				continue
			}
			n := 1
			for _, d := range shape {
				n *= d
			}
			if n != len(vals) || len(shape) != len(shape2) || int64(n)*4 > a.MaxArrayBytes {
				t.Fatalf("%q: %d values for shape %v (Info %v)", name, len(vals), shape2, shape)
			}
		}
	})
}
