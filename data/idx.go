package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
)

// MaxDataBytes is the most pixel data one IDX file, or one split of
// CIFAR-10, may hold: 1 GiB by default (Fashion-MNIST's training images
// take 47 MB). A header claiming more is refused before anything is
// allocated. Set it before loading to read larger sets.
var MaxDataBytes int64 = 1 << 30

// maxIDXBytes bounds how much of a downloaded gzip file is decompressed to
// check its content's checksum.
const maxIDXBytes = 8 << 30

// readChunk is the most memory allocated ahead of data actually read when
// the payload size cannot be checked against the file size (gzip).
const readChunk = 64 << 20

// idxFile is a decoded IDX file: dimensions and unsigned-byte payload.
type idxFile struct {
	dims []int
	data []byte
}

// openMaybeGzip opens path and returns a reader of its decompressed
// content. Gzip is detected by its magic bytes (1f 8b), not the file name.
// size is the content's size: the file's for a raw file, and for gzip the
// size its trailer records (ISIZE, the size modulo 2³²), so that a header's
// claim can be checked before the content is decompressed.
func openMaybeGzip(path string) (r io.Reader, size int64, gzipped bool, closer func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, false, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, false, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, 0, false, nil, fmt.Errorf("bad gzip header: %w", err)
		}
		zr.Multistream(false)
		var isize [4]byte
		if st.Size() < 18+4 {
			f.Close()
			return nil, 0, false, nil, fmt.Errorf("truncated gzip file (%d bytes)", st.Size())
		}
		if _, err := f.ReadAt(isize[:], st.Size()-4); err != nil {
			f.Close()
			return nil, 0, false, nil, fmt.Errorf("reading the gzip trailer: %w", err)
		}
		return zr, int64(binary.LittleEndian.Uint32(isize[:])), true, f.Close, nil
	}
	return br, st.Size(), false, f.Close, nil
}

// readIDXFile reads an IDX file of unsigned bytes whose number of
// dimensions is one of wantDims. Errors name the file.
func readIDXFile(path string, wantDims ...int) (*idxFile, error) {
	r, size, gzipped, closer, err := openMaybeGzip(path)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	defer closer()
	if gzipped {
		r = &gzipSized{r: r, size: size}
		size = -1
	}
	f, err := readIDX(r, size, wantDims...)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return f, nil
}

// readIDX decodes an IDX stream. size is the stream length if known (for
// gzip, modulo 2³²), or -1.
func readIDX(r io.Reader, size int64, wantDims ...int) (*idxFile, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading IDX header: %w", noEOF(err))
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fmt.Errorf("not an IDX file (magic bytes % x)", hdr[:])
	}
	if hdr[2] != 0x08 {
		return nil, fmt.Errorf("unsupported IDX element type 0x%02x (only unsigned byte, 0x08)", hdr[2])
	}
	nd := int(hdr[3])
	ok := false
	for _, w := range wantDims {
		ok = ok || nd == w
	}
	if !ok {
		return nil, fmt.Errorf("IDX file has %d dimensions, want %v", nd, wantDims)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("reading IDX dimensions: %w", noEOF(err))
	}
	dims := make([]int, nd)
	total := uint64(1)
	for i := range dims {
		v := binary.BigEndian.Uint32(raw[4*i:])
		dims[i] = int(v)
		hi, lo := bits.Mul64(total, uint64(v))
		if hi != 0 || lo > uint64(max(MaxDataBytes, 0)) {
			return nil, fmt.Errorf("IDX header claims dimensions %v: more than the limit of %d bytes (data.MaxDataBytes)", dims[:i+1], MaxDataBytes)
		}
		total = lo
	}
	if g, ok := r.(*gzipSized); ok {
		// total ≤ MaxDataBytes < 2³², so the trailer's size modulo 2³²
		// compares exactly (a larger limit could only let a liar through
		// to reading, which is bounded by the claim).
		if want := uint32(4 + 4*uint64(nd) + total); uint32(g.size) != want {
			return nil, fmt.Errorf("the gzip trailer says the content is %d bytes, but the IDX header and its dimensions %v make %d: truncated or corrupt", g.size, dims, want)
		}
	}
	if size >= 0 {
		have := size - int64(4+4*nd)
		if int64(total) > have {
			return nil, fmt.Errorf("truncated: IDX header claims dimensions %v (%d bytes) but the file holds %d", dims, total, have)
		}
		if int64(total) < have {
			return nil, fmt.Errorf("%d unexpected bytes after the %d bytes of dimensions %v", have-int64(total), total, dims)
		}
	}
	data, err := readN(r, int64(total))
	if err != nil {
		return nil, fmt.Errorf("reading IDX data of dimensions %v: %w", dims, err)
	}
	// Read to the end: for gzip this verifies the CRC and length trailer,
	// and it catches trailing garbage.
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return nil, fmt.Errorf("unexpected data after the %d bytes of dimensions %v", total, dims)
	case err != io.EOF:
		return nil, fmt.Errorf("after IDX data: %w", noEOF(err))
	}
	return &idxFile{dims: dims, data: data}, nil
}

// gzipSized is a gzip stream whose trailer says it decompresses to size
// bytes (modulo 2³²).
type gzipSized struct {
	r    io.Reader
	size int64
}

func (g *gzipSized) Read(p []byte) (int, error) { return g.r.Read(p) }

// readN reads exactly n bytes, allocating no more than readChunk ahead of
// the data actually received, so a lying header cannot force a huge
// allocation.
func readN(r io.Reader, n int64) ([]byte, error) {
	if n <= readChunk {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, truncated(err)
		}
		return buf, nil
	}
	buf := make([]byte, 0, readChunk)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(len(buf)))))
		}
		k := int(min(n-int64(len(buf)), int64(cap(buf)-len(buf))))
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, fmt.Errorf("got %d of %d bytes: %w", len(buf), n, truncated(err))
		}
	}
	return buf, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// ReadIDX reads a pair of IDX files, images [N, H, W] (idx3) and labels
// [N] (idx1), of unsigned bytes, into a Dataset with C = 1. Each file may
// be raw or gzip-compressed; the format is detected from its first bytes,
// not its name. Classes are named "0", "1", ... up to the largest label.
//
// Errors name the offending file: a missing or unreadable file, a wrong
// magic number, a header claiming more data than the file holds (or more
// than [MaxDataBytes]), a truncated or corrupt stream, trailing data, or a label
// count that differs from the image count.
func ReadIDX(imagesPath, labelsPath string) (*Dataset, error) {
	return readIDXPair(imagesPath, labelsPath, 0)
}

// readIDXPair reads images and labels. If numClasses > 0, labels must be
// below it and Classes gets numClasses digit names; otherwise it is
// inferred from the largest label.
func readIDXPair(imagesPath, labelsPath string, numClasses int) (*Dataset, error) {
	im, err := readIDXFile(imagesPath, 3)
	if err != nil {
		return nil, err
	}
	lb, err := readIDXFile(labelsPath, 1)
	if err != nil {
		return nil, err
	}
	n, h, w := im.dims[0], im.dims[1], im.dims[2]
	if n == 0 || h == 0 || w == 0 {
		return nil, fmt.Errorf("data: %s: empty image set, dimensions %v", imagesPath, im.dims)
	}
	if lb.dims[0] != n {
		return nil, fmt.Errorf("data: %s holds %d labels but %s holds %d images", labelsPath, lb.dims[0], imagesPath, n)
	}
	labels := make([]int, n)
	maxLabel := 0
	for i, v := range lb.data {
		if numClasses > 0 && int(v) >= numClasses {
			return nil, fmt.Errorf("data: %s: label %d of item %d out of range [0, %d)", labelsPath, v, i, numClasses)
		}
		labels[i] = int(v)
		maxLabel = max(maxLabel, int(v))
	}
	if numClasses <= 0 {
		numClasses = maxLabel + 1
	}
	return &Dataset{
		Name:    imagesPath,
		Pixels:  im.data,
		Labels:  labels,
		N:       n,
		C:       1,
		H:       h,
		W:       w,
		Classes: digitClasses(numClasses),
	}, nil
}

// WriteIDX writes d as an IDX image file [N, H, W] and an IDX label file
// [N], gzip-compressed (deterministically: no name, zero time) if compress
// is set. d must have one channel and labels below 256.
func WriteIDX(d *Dataset, imagesPath, labelsPath string, compress bool) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if d.C != 1 {
		return fmt.Errorf("data: WriteIDX: %d channels, IDX image files hold 1", d.C)
	}
	if len(d.Classes) > 256 {
		return fmt.Errorf("data: WriteIDX: %d classes, IDX labels are bytes", len(d.Classes))
	}
	imgHdr := idxHeader(d.N, d.H, d.W)
	if err := writeFile(imagesPath, compress, imgHdr, d.Pixels); err != nil {
		return err
	}
	lab := make([]byte, d.N)
	for i, l := range d.Labels {
		lab[i] = byte(l)
	}
	return writeFile(labelsPath, compress, idxHeader(d.N), lab)
}

func idxHeader(dims ...int) []byte {
	h := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		h = binary.BigEndian.AppendUint32(h, uint32(d))
	}
	return h
}

func writeFile(path string, compress bool, parts ...[]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	var w io.Writer = f
	var zw *gzip.Writer
	if compress {
		zw, _ = gzip.NewWriterLevel(f, gzip.BestCompression)
		w = zw
	}
	for _, p := range parts {
		if _, err = w.Write(p); err != nil {
			break
		}
	}
	if zw != nil && err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("data: writing %s: %w", path, err)
	}
	return nil
}
