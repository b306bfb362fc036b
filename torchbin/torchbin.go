// Package torchbin reads the floating-point tensors of a checkpoint that
// PyTorch's torch.save wrote in its zip format (PyTorch 1.6 and later), such
// as a Hugging Face pytorch_model.bin or a timm pytorch_model.bin: a
// pickled dictionary of tensors whose storages are entries of the archive.
//
// Only the part of pickle that such a file uses is interpreted (numbers,
// strings, tuples, lists, dictionaries, and the three torch callables that
// rebuild tensors and parameters); a file that names any other Python
// callable is refused, so reading a checkpoint never runs code from it.
// float32, float16, bfloat16 and float64 storages are read, as float32.
package torchbin

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"sort"
	"strings"

	"github.com/vitgo/vit/internal/half"
)

// File is an open checkpoint.
type File struct {
	zr      *zip.ReadCloser
	dir     string // the archive's top folder: data.pkl and data/ live in it
	tensors map[string]*tensor
	names   []string
}

// Open reads the tensor index of the checkpoint at path. Tensors are read
// on demand by Float32.
func Open(name string) (*File, error) {
	zr, err := zip.OpenReader(name)
	if err != nil {
		if errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("%s is not a PyTorch zip checkpoint (files from PyTorch before 1.6 are not supported: load and save it again with torch.save, or convert it to safetensors)", name)
		}
		return nil, err
	}
	f := &File{zr: zr, tensors: map[string]*tensor{}}
	if err := f.index(); err != nil {
		zr.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

func (f *File) index() error {
	var pkl *zip.File
	for _, e := range f.zr.File {
		if path.Base(e.Name) == "data.pkl" && strings.Count(e.Name, "/") == 1 {
			if pkl != nil {
				return errors.New("two data.pkl entries")
			}
			pkl = e
		}
		if path.Base(e.Name) == "byteorder" {
			b, err := readEntry(e, 16)
			if err != nil {
				return err
			}
			if s := strings.TrimSpace(string(b)); s != "little" {
				return fmt.Errorf("byte order %q (only little-endian checkpoints are supported)", s)
			}
		}
	}
	if pkl == nil {
		return errors.New("no data.pkl: not a torch.save checkpoint")
	}
	f.dir = path.Dir(pkl.Name)
	p, err := readEntry(pkl, maxPickle)
	if err != nil {
		return err
	}
	obj, err := unpickle(p)
	if err != nil {
		return err
	}
	d, ok := obj.(*dict)
	if !ok {
		return fmt.Errorf("the checkpoint holds a %T, not a dictionary of tensors", obj)
	}
	// A training checkpoint keeps the weights under one of these keys.
	if !hasTensor(d) {
		for i, k := range d.keys {
			if s, _ := k.(string); s == "state_dict" || s == "model" || s == "model_state_dict" || s == "module" {
				if sub, ok := d.vals[i].(*dict); ok && hasTensor(sub) {
					d = sub
					break
				}
			}
		}
	}
	for i, k := range d.keys {
		name, ok := k.(string)
		t, isT := d.vals[i].(*tensor)
		if !ok || !isT {
			continue // other entries (a step count, say) are not weights
		}
		if _, dup := f.tensors[name]; dup {
			return fmt.Errorf("tensor %q appears twice", name)
		}
		f.tensors[name] = t
		f.names = append(f.names, name)
	}
	if len(f.names) == 0 {
		return errors.New("no tensors in the checkpoint's dictionary")
	}
	sort.Strings(f.names)
	return nil
}

func hasTensor(d *dict) bool {
	for _, v := range d.vals {
		if _, ok := v.(*tensor); ok {
			return true
		}
	}
	return false
}

// readEntry reads a whole zip entry of at most limit bytes.
func readEntry(e *zip.File, limit int64) ([]byte, error) {
	if e.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", e.Name, e.UncompressedSize64, limit)
	}
	r, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	defer r.Close()
	b := make([]byte, e.UncompressedSize64)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	return b, nil
}

// Names lists the tensors, sorted.
func (f *File) Names() []string { return f.names }

// Info returns a tensor's storage type (F32, F16, BF16, F64, or the name of
// a storage Float32 cannot read) and shape.
func (f *File) Info(name string) (dtype string, shape []int, ok bool) {
	t, ok := f.tensors[name]
	if !ok {
		return "", nil, false
	}
	shape = make([]int, len(t.shape))
	for i, d := range t.shape {
		shape[i] = int(d)
	}
	return t.st.dtype, shape, true
}

// itemSize is the bytes per element of the storage types Float32 reads.
var itemSize = map[string]int64{"F32": 4, "F16": 2, "BF16": 2, "F64": 8}

// maxElems bounds one tensor (and one storage), in elements.
const maxElems = 1 << 33

// Float32 reads a tensor as float32, in row-major order whatever its
// strides, and returns it with its shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("no tensor %q", name)
	}
	_, shape, _ := f.Info(name)
	size, ok := itemSize[t.st.dtype]
	if !ok {
		return nil, nil, fmt.Errorf("tensor %q: storage %s is not a floating-point type this reader converts (float32, float16, bfloat16, float64)", name, t.st.dtype)
	}
	// Bounds: the elements, and the farthest storage element the view reads.
	n, last := int64(1), t.offset
	for i, d := range t.shape {
		if d != 0 && n > maxElems/d {
			return nil, nil, fmt.Errorf("tensor %q: shape %v is too large", name, t.shape)
		}
		n *= d
		if d > 0 {
			if t.stride[i] > 0 && d-1 > (maxElems-last)/t.stride[i] {
				return nil, nil, fmt.Errorf("tensor %q: strides %v run past any storage", name, t.stride)
			}
			last += (d - 1) * t.stride[i]
		}
	}
	out := make([]float32, n)
	if n == 0 {
		return out, shape, nil
	}
	if t.st.numel > maxElems || last >= t.st.numel {
		return nil, nil, fmt.Errorf("tensor %q: reads element %d of a storage of %d", name, last, t.st.numel)
	}
	raw, err := f.storageBytes(t.st, (last+1)*size)
	if err != nil {
		return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	at := func(i int64) float32 {
		b := raw[i*size:]
		switch t.st.dtype {
		case "F32":
			return math.Float32frombits(binary.LittleEndian.Uint32(b))
		case "F16":
			return half.ToFloat32(binary.LittleEndian.Uint16(b))
		case "BF16":
			return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
		default:
			return float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		}
	}
	// Walk the view in row-major order with an odometer over the dims.
	idx := make([]int64, len(t.shape))
	src := t.offset
	for k := range out {
		out[k] = at(src)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			src += t.stride[d]
			if idx[d] < t.shape[d] {
				break
			}
			src -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return out, shape, nil
}

// storageBytes reads the first n bytes of a storage's entry.
func (f *File) storageBytes(st *storage, n int64) ([]byte, error) {
	want := f.dir + "/data/" + st.key
	for _, e := range f.zr.File {
		if e.Name != want {
			continue
		}
		if e.UncompressedSize64 < uint64(n) {
			return nil, fmt.Errorf("storage %s holds %d bytes, the tensor needs %d", st.key, e.UncompressedSize64, n)
		}
		r, err := e.Open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("storage %s: %w", st.key, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("storage %s is missing from the archive", st.key)
}

// Close releases the file.
func (f *File) Close() error { return f.zr.Close() }
