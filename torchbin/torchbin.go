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
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/vitgo/vit/internal/half"
)

// File is an open checkpoint.
type File struct {
	zr       *zip.Reader
	size     int64     // of the archive
	closer   io.Closer // the file Open opened
	dir      string    // the archive's top folder: data.pkl and data/ live in it
	entries  map[string]*zip.File
	tensors  map[string]*tensor
	names    []string
	maxBytes int64
}

// maxDeflateRatio bounds deflate's expansion (about 1032:1 at most).
const maxDeflateRatio = 1040

// Open reads the tensor index of the checkpoint at path. Tensors are read
// on demand by Float32.
func Open(name string) (*File, error) {
	fd, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		fd.Close()
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := NewReader(fd, st.Size())
	if err != nil {
		fd.Close()
		if errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("%s is not a PyTorch zip checkpoint (files from PyTorch before 1.6 are not supported: load and save it again with torch.save, or convert it to safetensors)", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.closer = fd
	return f, nil
}

// NewReader reads the tensor index of the checkpoint held in r, of size
// bytes. Every tensor the index names is checked against the archive
// before NewReader returns: its view lies inside its storage, and the
// storage's entry holds the bytes it declares and fits in the archive, so
// the shapes Info reports are backed by data.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, err
	}
	f := &File{zr: zr, size: size, entries: map[string]*zip.File{}, tensors: map[string]*tensor{}}
	if err := f.index(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) index() error {
	var pkl *zip.File
	for _, e := range f.zr.File {
		f.entries[e.Name] = e
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
		if err := f.check(t); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
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
	b, err := readGrow(r, int64(e.UncompressedSize64))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	return b, nil
}

// readGrow reads exactly n bytes from r into a buffer that grows as data
// arrives, so a size the archive's directory overstates costs only what
// the entry really holds.
func readGrow(r io.Reader, n int64) ([]byte, error) {
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(max(len(buf), chunk)))))
		}
		k := int(min(n-int64(len(buf)), int64(cap(buf)-len(buf))))
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// storageItemSize is the bytes per element of every torch storage type
// (1 for a type not listed: still a lower bound).
var storageItemSize = map[string]int64{
	"F32": 4, "F16": 2, "BF16": 2, "F64": 8,
	"LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
	"ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
}

// check verifies that t is backed by its archive: its view stays inside
// its storage, it reads no more elements than the storage has, and the
// storage's entry exists, holds the storage's bytes and fits in the
// archive.
func (f *File) check(t *tensor) error {
	n, last := int64(1), t.offset
	for i, d := range t.shape {
		if d != 0 && n > maxElems/d {
			return fmt.Errorf("shape %v is too large", t.shape)
		}
		n *= d
		if d > 0 {
			if t.stride[i] > 0 && d-1 > (maxElems-last)/t.stride[i] {
				return fmt.Errorf("strides %v run past any storage", t.stride)
			}
			last += (d - 1) * t.stride[i]
		}
	}
	if n == 0 {
		return nil
	}
	st := t.st
	if st.numel > maxElems || last >= st.numel {
		return fmt.Errorf("reads element %d of a storage of %d", last, st.numel)
	}
	if n > st.numel {
		return fmt.Errorf("shape %v has %d elements, more than its storage's %d (views that repeat elements are not supported)", t.shape, n, st.numel)
	}
	e, ok := f.entries[f.dir+"/data/"+st.key]
	if !ok {
		return fmt.Errorf("storage %s is missing from the archive", st.key)
	}
	size := storageItemSize[st.dtype]
	if size == 0 {
		size = 1
	}
	if need := st.numel * size; e.UncompressedSize64 < uint64(need) {
		return fmt.Errorf("storage %s holds %d bytes, the tensor needs %d", st.key, e.UncompressedSize64, need)
	}
	return f.checkEntry(e)
}

// checkEntry verifies that the sizes e's directory entry declares are
// possible in an archive of f.size bytes.
func (f *File) checkEntry(e *zip.File) error {
	off, err := e.DataOffset()
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	csize, usize := e.CompressedSize64, e.UncompressedSize64
	if off < 0 || csize > uint64(f.size) || off > f.size-int64(csize) {
		return fmt.Errorf("%s: %d bytes at offset %d run past the end of the %d-byte archive", e.Name, csize, off, f.size)
	}
	switch e.Method {
	case zip.Store:
		if usize != csize {
			return fmt.Errorf("%s: stored entry of %d bytes claims %d", e.Name, csize, usize)
		}
	case zip.Deflate:
		if usize/maxDeflateRatio > csize {
			return fmt.Errorf("%s: %d bytes cannot inflate to the %d it claims", e.Name, csize, usize)
		}
	default:
		return fmt.Errorf("%s: unsupported compression method %d", e.Name, e.Method)
	}
	return nil
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
	e, ok := f.entries[f.dir+"/data/"+st.key]
	if !ok {
		return nil, fmt.Errorf("storage %s is missing from the archive", st.key)
	}
	if e.UncompressedSize64 < uint64(n) {
		return nil, fmt.Errorf("storage %s holds %d bytes, the tensor needs %d", st.key, e.UncompressedSize64, n)
	}
	r, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := readGrow(r, n)
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", st.key, err)
	}
	return b, nil
}

// Close releases the file opened by Open (a no-op for NewReader's).
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}
