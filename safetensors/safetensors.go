// Package safetensors reads and writes the safetensors tensor file format.
//
// A safetensors file consists of an 8-byte little-endian unsigned integer N,
// followed by N bytes of UTF-8 JSON header, followed by a byte buffer holding
// the tensor data. The header is a JSON object mapping each tensor name to an
// object of the form
//
//	{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//
// where begin and end are byte offsets relative to the start of the buffer.
// The optional special key "__metadata__" maps to an object of string to
// string. Tensor data is stored little-endian in row-major (C) order.
//
// The reader is defensive: every field of the header is validated before
// any tensor is accessed, and all sizes derived from the header are checked
// against the actual amount of data, so a corrupt or malicious file yields
// an error rather than a panic or a large allocation.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"unicode/utf8"
	"unsafe"
)

// MaxHeaderSize is the largest JSON header, in bytes, that the reader
// accepts. It matches the limit used by the reference implementation.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding the free-form metadata.
const metadataKey = "__metadata__"

// dtypeSizes maps each supported safetensors dtype to its element size in
// bytes. Sub-byte types (F4, F6_*) are not supported.
var dtypeSizes = map[string]int{
	"BOOL":    1,
	"U8":      1,
	"I8":      1,
	"F8_E5M2": 1,
	"F8_E4M3": 1,
	"F8_E8M0": 1,
	"I16":     2,
	"U16":     2,
	"F16":     2,
	"BF16":    2,
	"I32":     4,
	"U32":     4,
	"F32":     4,
	"C64":     8,
	"F64":     8,
	"I64":     8,
	"U64":     8,
}

// tensorInfo describes one tensor of a parsed file.
type tensorInfo struct {
	dtype      string
	shape      []int
	begin, end int // offsets into File.data
}

// File is a parsed safetensors file. Its methods may be called concurrently,
// but not concurrently with Close.
type File struct {
	tensors  map[string]*tensorInfo
	names    []string // sorted
	metadata map[string]string
	data     []byte // the byte buffer following the header
	closer   func() error
	closed   bool
	mapped   bool // data is a private memory mapping of the file
}

// Parse parses a complete safetensors file held in memory. The returned
// File refers to b directly; b must not be modified while the File is in
// use.
func Parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("safetensors: file too short (%d bytes)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if err := checkHeaderLen(n, int64(len(b))); err != nil {
		return nil, err
	}
	f, err := parseHeader(b[8:8+n], int64(len(b))-8-int64(n))
	if err != nil {
		return nil, err
	}
	f.data = b[8+n:]
	return f, nil
}

// Read reads a safetensors file of the given size from r into memory.
// The header is read and validated before the tensor data, and the data is
// read incrementally, so a size larger than what r actually holds causes an
// error, not an oversized allocation.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file too short (%d bytes)", size)
	}
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading header length: %w", noEOF(err))
	}
	n := binary.LittleEndian.Uint64(hdr[:])
	if err := checkHeaderLen(n, size); err != nil {
		return nil, err
	}
	hb, err := readAtMost(r, 8, int64(n))
	if err != nil {
		return nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	dataLen := size - 8 - int64(n)
	f, err := parseHeader(hb, dataLen)
	if err != nil {
		return nil, err
	}
	if f.data, err = readAtMost(r, 8+int64(n), dataLen); err != nil {
		return nil, fmt.Errorf("safetensors: reading tensor data: %w", err)
	}
	return f, nil
}

// noEOF converts io.EOF to io.ErrUnexpectedEOF: a short read is always an
// error here.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readAtMost reads exactly n bytes at off from r. The buffer grows
// geometrically as data actually arrives, so an n larger than what r holds
// cannot force an allocation much larger than the real data.
func readAtMost(r io.ReaderAt, off, n int64) ([]byte, error) {
	if n > math.MaxInt {
		return nil, fmt.Errorf("size %d too large for this platform", n)
	}
	const minChunk, maxChunk = 1 << 20, 64 << 20
	buf := make([]byte, 0, min(n, minChunk))
	for int64(len(buf)) < n {
		k := int(min(n-int64(len(buf)), int64(min(max(len(buf), minChunk), maxChunk))))
		buf = slices.Grow(buf, k)
		m, err := r.ReadAt(buf[len(buf):len(buf)+k], off+int64(len(buf)))
		buf = buf[:len(buf)+m]
		if m < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, noEOF(err)
		}
	}
	return buf, nil
}

func checkHeaderLen(n uint64, size int64) error {
	if n > MaxHeaderSize {
		return fmt.Errorf("safetensors: header length %d exceeds limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return fmt.Errorf("safetensors: header length %d exceeds file size %d", n, size)
	}
	if n < 2 {
		return fmt.Errorf("safetensors: header length %d too small", n)
	}
	return nil
}

// rawInfo is the JSON form of a tensor entry.
type rawInfo struct {
	dtype   string
	shape   []int64
	offsets []uint64
}

// parseHeader parses and validates the JSON header against a data buffer of
// dataLen bytes. It does not set f.data.
func parseHeader(hdr []byte, dataLen int64) (*File, error) {
	if !utf8.Valid(hdr) {
		return nil, errors.New("safetensors: header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, fmt.Errorf("safetensors: invalid header: %w", err)
	}
	f := &File{tensors: make(map[string]*tensorInfo)}
	sawMetadata := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors: invalid header: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("safetensors: invalid header: unexpected %v", tok)
		}
		if name == metadataKey {
			if sawMetadata {
				return nil, errors.New("safetensors: duplicate __metadata__ entry")
			}
			sawMetadata = true
			var md map[string]string
			if err := dec.Decode(&md); err != nil {
				return nil, fmt.Errorf("safetensors: invalid __metadata__: %w", err)
			}
			f.metadata = md
			continue
		}
		if _, dup := f.tensors[name]; dup {
			return nil, fmt.Errorf("safetensors: tensor %q: duplicate name", name)
		}
		raw, err := decodeInfo(dec)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: invalid entry: %w", name, err)
		}
		ti, err := validateInfo(raw, dataLen)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		f.tensors[name] = ti
		f.names = append(f.names, name)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, fmt.Errorf("safetensors: invalid header: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("safetensors: invalid header: trailing data after JSON object")
	}
	sort.Strings(f.names)
	if err := checkLayout(f, dataLen); err != nil {
		return nil, err
	}
	return f, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// decodeInfo decodes one tensor entry. Field names are matched exactly,
// duplicates are rejected and unknown fields are ignored.
func decodeInfo(dec *json.Decoder) (rawInfo, error) {
	var r rawInfo
	if err := expectDelim(dec, '{'); err != nil {
		return r, err
	}
	var haveDtype, haveShape, haveOffsets bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, err
		}
		key, _ := tok.(string)
		var dst any
		var seen *bool
		switch key {
		case "dtype":
			dst, seen = &r.dtype, &haveDtype
		case "shape":
			dst, seen = &r.shape, &haveShape
		case "data_offsets":
			dst, seen = &r.offsets, &haveOffsets
		default:
			dst = new(json.RawMessage)
		}
		if seen != nil {
			if *seen {
				return r, fmt.Errorf("duplicate field %q", key)
			}
			*seen = true
		}
		if err := dec.Decode(dst); err != nil {
			return r, fmt.Errorf("field %q: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return r, err
	}
	switch {
	case !haveDtype:
		return r, errors.New(`missing field "dtype"`)
	case !haveShape || r.shape == nil:
		return r, errors.New(`missing field "shape"`)
	case !haveOffsets || r.offsets == nil:
		return r, errors.New(`missing field "data_offsets"`)
	}
	return r, nil
}

// validateInfo checks one tensor entry on its own: known dtype, valid
// shape, offsets within the buffer and consistent with dtype and shape.
func validateInfo(r rawInfo, dataLen int64) (*tensorInfo, error) {
	size, ok := dtypeSizes[r.dtype]
	if !ok {
		return nil, fmt.Errorf("unknown dtype %q", r.dtype)
	}
	// The product of the nonzero dimensions must not overflow either, even
	// if a zero dimension makes the tensor empty: callers may compute
	// partial products of the shape.
	shape := make([]int, len(r.shape))
	nonzero, hasZero := int64(1), false
	for i, d := range r.shape {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension %d in shape %v", d, r.shape)
		}
		if d > math.MaxInt {
			return nil, fmt.Errorf("dimension %d in shape %v overflows int", d, r.shape)
		}
		shape[i] = int(d)
		if d == 0 {
			hasZero = true
			continue
		}
		if nonzero > math.MaxInt64/d {
			return nil, fmt.Errorf("shape %v: element count overflows", r.shape)
		}
		nonzero *= d
	}
	nelem := nonzero
	if hasZero {
		nelem = 0
	}
	if nelem > math.MaxInt64/int64(size) || nelem*int64(size) > math.MaxInt {
		return nil, fmt.Errorf("shape %v: byte size overflows", r.shape)
	}
	nbytes := nelem * int64(size)
	if len(r.offsets) != 2 {
		return nil, fmt.Errorf("data_offsets must have 2 elements, found %d", len(r.offsets))
	}
	begin, end := r.offsets[0], r.offsets[1]
	if begin > end {
		return nil, fmt.Errorf("data_offsets [%d, %d]: begin > end", begin, end)
	}
	if end > uint64(dataLen) {
		return nil, fmt.Errorf("data_offsets [%d, %d] out of range: data buffer has %d bytes", begin, end, dataLen)
	}
	if end-begin != uint64(nbytes) {
		return nil, fmt.Errorf("data_offsets [%d, %d] span %d bytes, but dtype %s and shape %v need %d",
			begin, end, end-begin, r.dtype, r.shape, nbytes)
	}
	return &tensorInfo{dtype: r.dtype, shape: shape, begin: int(begin), end: int(end)}, nil
}

// checkLayout verifies that the tensors tile the data buffer exactly: in
// offset order, each tensor starts where the previous one ended, and the
// last one ends at the end of the buffer.
func checkLayout(f *File, dataLen int64) error {
	order := slices.Clone(f.names)
	slices.SortStableFunc(order, func(a, b string) int {
		ta, tb := f.tensors[a], f.tensors[b]
		if ta.begin != tb.begin {
			return ta.begin - tb.begin
		}
		return ta.end - tb.end
	})
	pos := 0
	for _, name := range order {
		t := f.tensors[name]
		switch {
		case t.begin < pos:
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] overlap the previous tensor ending at %d", name, t.begin, t.end, pos)
		case t.begin > pos:
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] leave a gap after offset %d", name, t.begin, t.end, pos)
		}
		pos = t.end
	}
	if int64(pos) != dataLen {
		return fmt.Errorf("safetensors: data buffer has %d bytes, but tensors cover only %d", dataLen, pos)
	}
	return nil
}

// Names returns the names of the tensors in the file in sorted order.
func (f *File) Names() []string {
	return slices.Clone(f.names)
}

// Info returns the dtype (such as "F32" or "BF16") and shape of the named
// tensor. It reports ok == false if the file has no such tensor.
func (f *File) Info(name string) (dtype string, shape []int, ok bool) {
	t, ok := f.tensors[name]
	if !ok {
		return "", nil, false
	}
	return t.dtype, slices.Clone(t.shape), true
}

// Metadata returns a copy of the file's "__metadata__" map. It returns nil
// if the file has no metadata.
func (f *File) Metadata() map[string]string {
	if f.metadata == nil {
		return nil
	}
	m := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		m[k] = v
	}
	return m
}

func (f *File) lookup(name string) (*tensorInfo, error) {
	if f.closed {
		return nil, errors.New("safetensors: file already closed")
	}
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: tensor %q: not found", name)
	}
	return t, nil
}

// Raw returns the little-endian bytes of the named tensor, exactly as
// stored. For a File returned by Open the slice refers to read-only mapped
// memory: it must not be modified, and it must not be used after Close.
func (f *File) Raw(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.data[t.begin:t.end:t.end], nil
}

// Float32 returns the elements of the named tensor converted to float32,
// in row-major order, together with its shape. Floating-point dtypes (F32,
// F16, BF16, F64) and integer dtypes (BOOL, U8..U64, I8..I64) are
// supported; conversion may round. Other dtypes yield an error.
// The returned slice is newly allocated.
func (f *File) Float32(name string) ([]float32, []int, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	out, err := toFloat32(t.dtype, f.data[t.begin:t.end])
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	return out, slices.Clone(t.shape), nil
}

// F32View returns the named tensor as a float32 slice that aliases the
// file's memory mapping, with no copy, when it can: the File came from Open
// on a Unix system, the tensor is F32 and 4-byte aligned, and the machine
// is little-endian. Otherwise ok is false (use Float32). The slice is
// writable (copy-on-write: the file never changes) and valid until Close.
func (f *File) F32View(name string) (v []float32, ok bool) {
	t, err := f.lookup(name)
	if err != nil || !f.mapped || t.dtype != "F32" || !littleEndian {
		return nil, false
	}
	b := f.data[t.begin:t.end]
	if len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), true
}

// littleEndian reports the byte order of this machine; safetensors data is
// little-endian.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Close releases the resources held by the file, such as a memory mapping.
// Slices returned by Raw must not be used afterwards. Close is idempotent.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.closer != nil {
		err = f.closer()
	}
	f.data = nil
	return err
}
