package npz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/vitgo/vit/internal/half"
	"io"
	"math"
	"strconv"
)

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// maxHeaderLen bounds the length of an .npy header. Headers of the plain
// numeric arrays supported here are well under 1 KiB.
const maxHeaderLen = 1 << 20

// header is a parsed .npy header.
type header struct {
	major, minor int
	descr        string
	fortran      bool
	shape        []int
	nelem        int64 // product of shape
	kind         byte  // 'f', 'i', 'u' or 'b'
	size         int   // element size in bytes
	order        binary.ByteOrder
	dataOffset   int64 // bytes from the start of the .npy data to the array data
}

// dataBytes returns the number of bytes of array data the header declares.
// It never overflows: parseDescr and checkShape bound it.
func (h *header) dataBytes() int64 { return h.nelem * int64(h.size) }

// readHeader reads the magic string, version and header of an .npy stream
// and validates them. limit, if non-negative, is the total size of the
// .npy data, which the header length must not exceed.
func readHeader(r io.Reader, limit int64) (*header, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, fmt.Errorf("reading magic: %w", noEOF(err))
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("bad magic %q: not an .npy file", pre[:6])
	}
	h := &header{major: int(pre[6]), minor: int(pre[7])}
	var hlen int64
	switch h.major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, fmt.Errorf("reading header length: %w", noEOF(err))
		}
		hlen = int64(binary.LittleEndian.Uint16(pre[8:10]))
		h.dataOffset = 10 + hlen
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, fmt.Errorf("reading header length: %w", noEOF(err))
		}
		hlen = int64(binary.LittleEndian.Uint32(l[:]))
		h.dataOffset = 12 + hlen
	default:
		return nil, fmt.Errorf("unsupported format version %d.%d", h.major, h.minor)
	}
	if h.minor != 0 {
		return nil, fmt.Errorf("unsupported format version %d.%d", h.major, h.minor)
	}
	if hlen > maxHeaderLen {
		return nil, fmt.Errorf("header length %d exceeds limit of %d bytes", hlen, maxHeaderLen)
	}
	if limit >= 0 && h.dataOffset > limit {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte entry", hlen, limit)
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("reading header: %w", noEOF(err))
	}
	if err := parseHeaderDict(h, buf); err != nil {
		return nil, err
	}
	return h, nil
}

// parseNPYHeader parses a complete in-memory .npy preamble (magic, version,
// length and header). It is used by the fuzz test.
func parseNPYHeader(b []byte) (*header, error) {
	return readHeader(bytes.NewReader(b), int64(len(b)))
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHeaderDict parses the Python dictionary literal of an .npy header,
// such as
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//
// followed by padding. Exactly the keys descr, fortran_order and shape
// must be present.
func parseHeaderDict(h *header, b []byte) error {
	p := &pyParser{b: b}
	if !p.consume('{') {
		return p.errorf("header does not start with '{'")
	}
	var haveDescr, haveFortran, haveShape bool
	for {
		if p.consume('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		if !p.consume(':') {
			return p.errorf("expected ':' after key %q", key)
		}
		switch key {
		case "descr":
			if haveDescr {
				return p.errorf("duplicate key %q", key)
			}
			haveDescr = true
			if p.peek() != '\'' && p.peek() != '"' {
				return p.errorf("unsupported descr (structured dtypes are not supported)")
			}
			if h.descr, err = p.str(); err != nil {
				return err
			}
		case "fortran_order":
			if haveFortran {
				return p.errorf("duplicate key %q", key)
			}
			haveFortran = true
			switch {
			case p.word("True"):
				h.fortran = true
			case p.word("False"):
				h.fortran = false
			default:
				return p.errorf("fortran_order is not True or False")
			}
		case "shape":
			if haveShape {
				return p.errorf("duplicate key %q", key)
			}
			haveShape = true
			if h.shape, err = p.tuple(); err != nil {
				return err
			}
		default:
			return p.errorf("unexpected key %q", key)
		}
		if !p.consume(',') {
			if !p.consume('}') {
				return p.errorf("expected ',' or '}'")
			}
			break
		}
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return p.errorf("unexpected data after header dictionary")
	}
	switch {
	case !haveDescr:
		return errors.New("header: missing key 'descr'")
	case !haveFortran:
		return errors.New("header: missing key 'fortran_order'")
	case !haveShape:
		return errors.New("header: missing key 'shape'")
	}
	if err := parseDescr(h); err != nil {
		return err
	}
	return checkShape(h)
}

// parseDescr interprets a simple dtype string such as '<f4' or '|u1'.
func parseDescr(h *header) error {
	d := h.descr
	if len(d) < 3 {
		return fmt.Errorf("unsupported dtype %q", d)
	}
	size, err := strconv.Atoi(d[2:])
	if err != nil {
		return fmt.Errorf("unsupported dtype %q", d)
	}
	h.kind, h.size = d[1], size
	ok := false
	switch h.kind {
	case 'f':
		ok = size == 2 || size == 4 || size == 8
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case 'b':
		ok = size == 1
	}
	if !ok {
		return fmt.Errorf("unsupported dtype %q", d)
	}
	switch d[0] {
	case '<':
		h.order = binary.LittleEndian
	case '>':
		h.order = binary.BigEndian
	case '|':
		if size != 1 {
			return fmt.Errorf("unsupported dtype %q: byte order required", d)
		}
		h.order = binary.LittleEndian
	default:
		return fmt.Errorf("unsupported dtype %q", d)
	}
	return nil
}

// checkShape computes the element count and rejects shapes whose element
// count or byte size overflows. The product of the nonzero dimensions is
// checked as well, so that callers may safely compute partial products.
func checkShape(h *header) error {
	nonzero, zero := int64(1), false
	for _, d := range h.shape {
		if d == 0 {
			zero = true
			continue
		}
		if nonzero > math.MaxInt64/int64(d) {
			return fmt.Errorf("shape %v: element count overflows", h.shape)
		}
		nonzero *= int64(d)
	}
	if nonzero > math.MaxInt64/8 || nonzero > math.MaxInt/4 {
		return fmt.Errorf("shape %v: byte size overflows", h.shape)
	}
	h.nelem = nonzero
	if zero {
		h.nelem = 0
	}
	return nil
}

// pyParser is a tiny parser for the subset of Python literal syntax used
// in .npy headers.
type pyParser struct {
	b []byte
	i int
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("header: "+format+" at offset %d", append(args, p.i)...)
}

func (p *pyParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.i++
		default:
			return
		}
	}
}

func (p *pyParser) peek() byte {
	p.skipSpace()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *pyParser) consume(c byte) bool {
	if p.peek() == c && p.i < len(p.b) {
		p.i++
		return true
	}
	return false
}

// word consumes the identifier w if it appears next as a whole word.
func (p *pyParser) word(w string) bool {
	p.skipSpace()
	if !bytes.HasPrefix(p.b[p.i:], []byte(w)) {
		return false
	}
	if j := p.i + len(w); j < len(p.b) && isIdent(p.b[j]) {
		return false
	}
	p.i += len(w)
	return true
}

func isIdent(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// str parses a single- or double-quoted string literal. Backslash escapes
// the following character.
func (p *pyParser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errorf("expected string")
	}
	p.i++
	var s []byte
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch c {
		case q:
			return string(s), nil
		case '\\':
			if p.i >= len(p.b) {
				return "", p.errorf("unterminated string")
			}
			s = append(s, p.b[p.i])
			p.i++
		case '\n':
			return "", p.errorf("newline in string")
		default:
			s = append(s, c)
		}
	}
	return "", p.errorf("unterminated string")
}

// tuple parses a tuple of non-negative integers such as (), (3,) or
// (2, 3). A trailing L (Python 2 long) is accepted.
func (p *pyParser) tuple() ([]int, error) {
	if !p.consume('(') {
		return nil, p.errorf("shape is not a tuple")
	}
	dims := []int{}
	for {
		if p.consume(')') {
			return dims, nil
		}
		p.skipSpace()
		start := p.i
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
		}
		if start == p.i {
			return nil, p.errorf("shape dimension is not a non-negative integer")
		}
		d, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
		if err != nil || d > math.MaxInt {
			return nil, p.errorf("shape dimension %s overflows int", p.b[start:p.i])
		}
		if p.i < len(p.b) && (p.b[p.i] == 'L' || p.b[p.i] == 'l') {
			p.i++
		}
		if len(dims) >= 64 {
			return nil, p.errorf("too many dimensions")
		}
		dims = append(dims, int(d))
		if !p.consume(',') {
			if !p.consume(')') {
				return nil, p.errorf("expected ',' or ')' in shape")
			}
			if len(dims) == 1 {
				// In Python (3) is an integer, not a tuple.
				return nil, p.errorf("shape is not a tuple")
			}
			return dims, nil
		}
	}
}

// readData reads the array data described by h from r and converts it to
// float32 in C order. If exact is true the caller has already verified
// that r holds all the data, so the result is allocated up front;
// otherwise it grows as data arrives, so that a header that lies about the
// shape cannot cause an allocation much larger than the real data.
func readData(r io.Reader, h *header, exact bool) ([]float32, error) {
	n := h.nelem
	initial := n
	if !exact {
		initial = min(n, 1<<20)
	}
	out := make([]float32, 0, initial)
	const chunkElems = 32 << 10
	buf := make([]byte, min(n, chunkElems)*int64(h.size))
	for rem := n; rem > 0; {
		k := min(rem, chunkElems)
		b := buf[:k*int64(h.size)]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("reading data: %w", noEOF(err))
		}
		out = convert(out, b, h)
		rem -= k
	}
	if h.fortran && len(h.shape) > 1 {
		out = fortranToC(out, h.shape)
	}
	return out, nil
}

// convert appends the elements in b, encoded as described by h, to out.
func convert(out []float32, b []byte, h *header) []float32 {
	o := h.order
	switch h.kind {
	case 'f':
		switch h.size {
		case 2:
			for i := 0; i < len(b); i += 2 {
				out = append(out, half.ToFloat32(o.Uint16(b[i:])))
			}
		case 4:
			for i := 0; i < len(b); i += 4 {
				out = append(out, math.Float32frombits(o.Uint32(b[i:])))
			}
		case 8:
			for i := 0; i < len(b); i += 8 {
				out = append(out, float32(math.Float64frombits(o.Uint64(b[i:]))))
			}
		}
	case 'i':
		switch h.size {
		case 1:
			for _, c := range b {
				out = append(out, float32(int8(c)))
			}
		case 2:
			for i := 0; i < len(b); i += 2 {
				out = append(out, float32(int16(o.Uint16(b[i:]))))
			}
		case 4:
			for i := 0; i < len(b); i += 4 {
				out = append(out, float32(int32(o.Uint32(b[i:]))))
			}
		case 8:
			for i := 0; i < len(b); i += 8 {
				out = append(out, float32(int64(o.Uint64(b[i:]))))
			}
		}
	case 'u':
		switch h.size {
		case 1:
			for _, c := range b {
				out = append(out, float32(c))
			}
		case 2:
			for i := 0; i < len(b); i += 2 {
				out = append(out, float32(o.Uint16(b[i:])))
			}
		case 4:
			for i := 0; i < len(b); i += 4 {
				out = append(out, float32(o.Uint32(b[i:])))
			}
		case 8:
			for i := 0; i < len(b); i += 8 {
				out = append(out, float32(o.Uint64(b[i:])))
			}
		}
	case 'b':
		for _, c := range b {
			v := float32(0)
			if c != 0 {
				v = 1
			}
			out = append(out, v)
		}
	}
	return out
}

// fortranToC reorders column-major data of the given shape into row-major
// order.
func fortranToC(in []float32, shape []int) []float32 {
	out := make([]float32, len(in))
	nd := len(shape)
	// Column-major strides.
	stride := make([]int, nd)
	s := 1
	for k := 0; k < nd; k++ {
		stride[k] = s
		s *= shape[k]
	}
	idx := make([]int, nd)
	src := 0
	for i := range out {
		out[i] = in[src]
		// Advance the row-major multi-index (last axis fastest) and keep
		// src equal to its column-major offset.
		for k := nd - 1; k >= 0; k-- {
			idx[k]++
			src += stride[k]
			if idx[k] < shape[k] {
				break
			}
			src -= idx[k] * stride[k]
			idx[k] = 0
		}
	}
	return out
}
