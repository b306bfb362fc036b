// Package npz reads NumPy .npz archives and .npy arrays, such as the
// official JAX Vision Transformer checkpoints (ViT-B_16.npz and friends).
//
// An .npz file is a zip archive whose members are .npy files, stored or
// deflated. Each .npy file holds one array: a magic string, a format
// version (1.0, 2.0 and 3.0 are supported), a header that is a Python
// dictionary literal giving the dtype, the memory order and the shape, and
// then the raw array data.
//
// Numeric dtypes (float16/32/64, signed and unsigned integers of 1 to 8
// bytes, and bool) in either byte order are supported and converted to
// float32; arrays stored in Fortran (column-major) order are returned in C
// (row-major) order. Object arrays, structured dtypes and pickles are not
// supported.
//
// The reader is defensive: sizes declared by the zip directory and by the
// .npy header are checked against each other, against the archive size
// and against a configurable limit before any large allocation, so a
// corrupt or malicious file yields an error rather than a panic or an
// out-of-memory crash.
package npz

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// DefaultMaxArrayBytes is the default limit on the size of a single array,
// both as stored and after conversion to float32.
const DefaultMaxArrayBytes = 4 << 30

// maxDeflateRatio is a bound on the expansion factor of deflate; the
// format cannot exceed about 1032:1.
const maxDeflateRatio = 1040

// Archive is an open .npz archive. Its methods may be called concurrently,
// except Close.
type Archive struct {
	// MaxArrayBytes limits the size of one array, both the data as
	// stored and the converted []float32; larger arrays yield an error.
	// Open sets it to DefaultMaxArrayBytes.
	MaxArrayBytes int64

	size    int64
	members map[string]*zip.File
	names   []string
	closer  io.Closer
}

// Open opens the named .npz file. The archive directory is read at once;
// arrays are read on demand.
func Open(path string) (*Archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("npz: %s: not a regular file", path)
	}
	a, err := NewReader(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	a.closer = f
	return a, nil
}

// NewReader returns an Archive reading from r, which holds size bytes.
func NewReader(r io.ReaderAt, size int64) (*Archive, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("npz: reading zip directory: %w", err)
	}
	a := &Archive{
		MaxArrayBytes: DefaultMaxArrayBytes,
		size:          size,
		members:       make(map[string]*zip.File),
	}
	for _, zf := range zr.File {
		name, ok := strings.CutSuffix(zf.Name, ".npy")
		if !ok || zf.FileInfo().IsDir() {
			continue // not an array
		}
		if _, dup := a.members[name]; dup {
			return nil, fmt.Errorf("npz: array %q: duplicate member in archive", name)
		}
		a.members[name] = zf
		a.names = append(a.names, name)
	}
	slices.Sort(a.names)
	return a, nil
}

// Close closes the underlying file if the Archive was created by Open.
func (a *Archive) Close() error {
	if a.closer == nil {
		return nil
	}
	c := a.closer
	a.closer = nil
	return c.Close()
}

// Names returns the names of the arrays in the archive, in sorted order.
// A name is the zip member name without its ".npy" suffix, for example
// "Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel".
func (a *Archive) Names() []string {
	return slices.Clone(a.names)
}

// Info returns the NumPy dtype string (such as "<f4") and the shape of the
// named array, reading only its header.
func (a *Archive) Info(name string) (dtype string, shape []int, err error) {
	rc, h, err := a.open(name)
	if err != nil {
		return "", nil, err
	}
	rc.Close()
	return h.descr, h.shape, nil
}

// Float32 reads the named array and returns its elements converted to
// float32 in row-major (C) order, together with its shape. A 0-d array has
// an empty shape and one element.
func (a *Archive) Float32(name string) ([]float32, []int, error) {
	rc, h, err := a.open(name)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	// Stored members were checked against the archive size, so their
	// data is known to exist. A deflated member may still overstate its
	// size (within the deflate ratio), so large ones grow as data arrives.
	zf := a.members[name]
	exact := zf.Method == zip.Store || h.dataBytes() <= 64<<20
	vals, err := readData(rc, h, exact)
	if err != nil {
		return nil, nil, fmt.Errorf("npz: array %q: %w", name, err)
	}
	// Reading past the end makes archive/zip verify the CRC-32.
	var one [1]byte
	if n, err := io.ReadFull(rc, one[:]); n != 0 {
		return nil, nil, fmt.Errorf("npz: array %q: unexpected data after array", name)
	} else if err != io.EOF {
		return nil, nil, fmt.Errorf("npz: array %q: %w", name, err)
	}
	return vals, h.shape, nil
}

// open opens the named member, reads and validates its header, and checks
// every declared size before the data is read.
func (a *Archive) open(name string) (io.ReadCloser, *header, error) {
	zf, ok := a.members[name]
	if !ok {
		return nil, nil, fmt.Errorf("npz: array %q: not found", name)
	}
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("npz: array %q: "+format, append([]any{name}, args...)...)
	}
	usize, csize := zf.UncompressedSize64, zf.CompressedSize64
	off, err := zf.DataOffset()
	if err != nil {
		return nil, nil, errorf("%w", err)
	}
	if csize > uint64(a.size) || off < 0 || off > a.size-int64(csize) {
		return nil, nil, errorf("compressed size %d extends past the end of the %d-byte archive", csize, a.size)
	}
	switch zf.Method {
	case zip.Store:
		if usize != csize {
			return nil, nil, errorf("stored member has compressed size %d but uncompressed size %d", csize, usize)
		}
	case zip.Deflate:
		if usize/maxDeflateRatio > csize {
			return nil, nil, errorf("uncompressed size %d is impossible for %d compressed bytes", usize, csize)
		}
	default:
		return nil, nil, errorf("unsupported compression method %d", zf.Method)
	}
	if usize > uint64(a.MaxArrayBytes)+maxHeaderLen+12 {
		return nil, nil, errorf("size %d exceeds limit of %d bytes", usize, a.MaxArrayBytes)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, nil, errorf("%w", err)
	}
	h, err := readHeader(rc, int64(usize))
	if err != nil {
		rc.Close()
		return nil, nil, errorf("%w", err)
	}
	nbytes := h.dataBytes()
	if nbytes > a.MaxArrayBytes || h.nelem*4 > a.MaxArrayBytes {
		rc.Close()
		return nil, nil, errorf("dtype %s and shape %v need %d bytes, exceeding limit of %d", h.descr, h.shape, nbytes, a.MaxArrayBytes)
	}
	if want := h.dataOffset + nbytes; want != int64(usize) {
		rc.Close()
		return nil, nil, errorf("member holds %d bytes, but header (dtype %s, shape %v) implies %d", usize, h.descr, h.shape, want)
	}
	return rc, h, nil
}

// ReadNPY reads a single .npy array from r and returns its elements
// converted to float32 in row-major (C) order, together with its shape.
// Memory for the result grows as data arrives, so a header that overstates
// the shape causes an error rather than a huge allocation. Data after the
// array is not read.
func ReadNPY(r io.Reader) ([]float32, []int, error) {
	h, err := readHeader(r, -1)
	if err != nil {
		return nil, nil, fmt.Errorf("npz: %w", err)
	}
	vals, err := readData(r, h, false)
	if err != nil {
		return nil, nil, fmt.Errorf("npz: %w", err)
	}
	return vals, h.shape, nil
}
