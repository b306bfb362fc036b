package imageio

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// This file is a zlib (RFC 1950) and DEFLATE (RFC 1951) decoder for the
// PNG fast path (png.go). compress/flate reads its input a byte at a time
// through an io.ByteReader and decodes each Huffman symbol with a loop;
// decoding a photograph's IDAT data that way is about half of
// image/png's time. Here the whole compressed stream is in memory and the
// output has the exact size the PNG header gives, so the decoder reads 64
// bits at a time, decodes a symbol with one table lookup (two for codes
// longer than 10 bits) and copies matches within one output slice.
//
// It accepts only what compress/zlib accepts: complete Huffman codes (or
// the degenerate one-code codes compress/flate also takes), symbols,
// lengths and distances in range, matching stored-block lengths and the
// Adler-32 checksum. Anything it refuses is handed to image/png by the
// caller, which then decides; so it may refuse more than the standard
// library (a preset dictionary, for one), never less.

var errInflate = errors.New("corrupt zlib data")

const (
	primaryBits  = 10     // bits of the first-level Huffman table
	entryLenMask = 0x3f   // the code's bits (< 64, so that shifts by it need no check)
	entrySub     = 1 << 8 // the entry points to a second-level table
	entryBad     = 1 << 9 // no code has these bits
	entryLit     = 1 << 10
)

// huffman is a canonical Huffman code as lookup tables: entry =
// value<<16 | flags | bits. The first 1<<primaryBits entries are indexed
// by the next primaryBits input bits; an entry with entrySub gives the
// start of a second-level table in value and its index width in bits.
// First-level entries of literals (symbols below 256) of the
// literal/length code carry entryLit, so that the decoding loop tells
// them from everything else with one test.
type huffman struct {
	table []uint32
	empty bool // no code at all: any use is an error
	// pairs, of the literal/length code, is indexed by the next pairBits
	// input bits: when they begin with a literal, its entry holds that
	// literal and the next if it is a literal too and both codes fit
	// in pairBits: pairLit | bits<<16 | count<<24 | second<<8 | first.
	// Otherwise 0.
	pairs []uint32
}

const (
	pairBits = 11
	pairLit  = 1 << 31
)

// build makes the tables of the code of the given lengths (0: unused
// symbol); lit says it is the literal/length code. It reports false for
// an over-subscribed or incomplete code, except a single code of length
// 1, as compress/flate does.
func (h *huffman) build(lengths []uint8, lit bool) bool {
	var count [16]int
	maxLen := 0
	for _, n := range lengths {
		if n != 0 {
			count[n]++
			maxLen = max(maxLen, int(n))
		}
	}
	h.table = h.table[:0]
	h.empty = maxLen == 0
	if h.empty {
		return true
	}
	var next [16]int
	code := 0
	for l := 1; l <= 15; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	// Completeness: the codes of length l fill count[l]/2^l of the space.
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return false // over-subscribed
		}
	}
	if left != 0 && !(maxLen == 1 && count[1] == 1) {
		return false // incomplete
	}
	// Second-level table widths, by first-level index.
	var subBits [1 << primaryBits]uint8
	codes := next
	for _, n := range lengths {
		if int(n) > primaryBits {
			rev := reverse(codes[n], int(n))
			p := rev & (1<<primaryBits - 1)
			subBits[p] = max(subBits[p], n-primaryBits)
		}
		if n != 0 {
			codes[n]++
		}
	}
	size := 1 << primaryBits
	var subStart [1 << primaryBits]int32
	for p, b := range subBits {
		if b != 0 {
			subStart[p] = int32(size)
			size += 1 << b
		}
	}
	if cap(h.table) < size {
		h.table = make([]uint32, size)
	}
	t := h.table[:size]
	for i := range t {
		t[i] = entryBad
	}
	for p, b := range subBits {
		if b != 0 {
			t[p] = uint32(subStart[p])<<16 | entrySub | uint32(b)
		}
	}
	codes = next
	for sym, n := range lengths {
		if n == 0 {
			continue
		}
		rev := reverse(codes[n], int(n))
		codes[n]++
		if int(n) <= primaryBits {
			e := uint32(sym)<<16 | uint32(n)
			if lit && sym < 256 {
				e |= entryLit
			}
			for i := rev; i < 1<<primaryBits; i += 1 << n {
				t[i] = e
			}
			continue
		}
		p := rev & (1<<primaryBits - 1)
		sb := int(subBits[p])
		l := int(n) - primaryBits
		e := uint32(sym)<<16 | uint32(l)
		base := int(subStart[p])
		for i := rev >> primaryBits; i < 1<<sb; i += 1 << l {
			t[base+i] = e
		}
	}
	h.table = t
	if lit {
		h.buildPairs()
	}
	return true
}

// buildPairs fills pairs from the first-level table.
func (h *huffman) buildPairs() {
	if cap(h.pairs) < 1<<pairBits {
		h.pairs = make([]uint32, 1<<pairBits)
	}
	h.pairs = h.pairs[:1<<pairBits]
	t := h.table[:1<<primaryBits]
	for i := range h.pairs {
		e := t[i&(1<<primaryBits-1)]
		if e&entryLit == 0 {
			h.pairs[i] = 0
			continue
		}
		n := e & entryLenMask
		p := pairLit | n<<16 | 1<<24 | e>>16&0xff
		// The second code is known if it fits in the pairBits−n bits left.
		if e2 := t[(i>>n)&(1<<primaryBits-1)]; e2&entryLit != 0 && n+e2&entryLenMask <= pairBits {
			p = pairLit | (n+e2&entryLenMask)<<16 | 2<<24 | (e2>>16&0xff)<<8 | e>>16&0xff
		}
		h.pairs[i] = p
	}
}

func reverse(code, n int) int {
	return int(bits.Reverse16(uint16(code)) >> (16 - n))
}

// inflater holds the bit reader of one stream.
type inflater struct {
	in    []byte
	pos   int    // next byte of in to load into bits
	bits  uint64 // loaded bits, least significant first
	nbits uint
	over  int // bytes loaded past the end of in (as zeros)
	lit   huffman
	dist  huffman
	clen  huffman
}

// refill makes nbits ≥ 56, loading zeros past the end of the input (and
// counting them, so that reading them is an error).
func (f *inflater) refill() {
	if f.pos+8 <= len(f.in) {
		f.bits |= binary.LittleEndian.Uint64(f.in[f.pos:]) << f.nbits
		f.pos += int(63-f.nbits) >> 3
		f.nbits |= 56
		return
	}
	for f.nbits <= 56 {
		if f.pos < len(f.in) {
			f.bits |= uint64(f.in[f.pos]) << f.nbits
			f.pos++
		} else {
			f.over++
		}
		f.nbits += 8
	}
}

// take returns the next n ≤ 32 bits (refilling first).
func (f *inflater) take(n uint) uint32 {
	if f.nbits < n {
		f.refill()
	}
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nbits -= n
	return v
}

// sym decodes one symbol of h; it needs nbits ≥ 15.
func (f *inflater) sym(h *huffman) (int, bool) {
	t := h.table
	e := t[f.bits&(1<<primaryBits-1)]
	if e&entrySub != 0 {
		f.bits >>= primaryBits
		f.nbits -= primaryBits
		e = t[e>>16+uint32(f.bits)&(1<<(e&entryLenMask)-1)]
	}
	if e&entryBad != 0 {
		return 0, false
	}
	n := uint(e & entryLenMask)
	f.bits >>= n
	f.nbits -= n
	return int(e >> 16), true
}

// consumed is how many input bytes the bits taken so far span (rounded
// down); more than len(f.in) when the stream ran past the input.
func (f *inflater) consumed() int {
	return f.pos + f.over - int(f.nbits/8)
}

// overran reports whether bits past the end of the input were taken.
func (f *inflater) overran() bool {
	return (f.pos+f.over)*8-int(f.nbits) > len(f.in)*8
}

var (
	lenBase   = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// fixedLengths are the code lengths of the fixed Huffman codes: 288
// literal/length codes and 32 distance codes (of which 286, 287, 30 and 31
// are invalid when decoded).
var fixedLengths = func() [320]uint8 {
	var l [320]uint8
	for i := range 288 {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	for i := 288; i < 320; i++ {
		l[i] = 5
	}
	return l
}()

// fixedLit and fixedDist are the tables of the fixed codes, built once
// (read only: a stream of many small fixed-code blocks must not rebuild
// them for each).
var fixedLit, fixedDist = func() (lit, dist huffman) {
	if !lit.build(fixedLengths[:288], true) || !dist.build(fixedLengths[288:], false) {
		panic("imageio: the fixed Huffman codes do not build")
	}
	return lit, dist
}()

// inflateZlib decodes the zlib stream at the start of src into dst, which
// it must fill exactly. It returns the number of bytes of src the stream
// took, its Adler-32 checksum included.
func inflateZlib(dst, src []byte) (int, error) {
	if len(src) < 2 {
		return 0, errInflate
	}
	cmf, flg := src[0], src[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 || flg&0x20 != 0 {
		return 0, errInflate // not deflate, a window over 32 KiB, a bad check or a preset dictionary
	}
	f := &inflater{in: src, pos: 2}
	n, err := f.inflate(dst)
	if err != nil {
		return 0, err
	}
	if n != len(dst) {
		return 0, errInflate // not enough data
	}
	// The checksum starts at the next byte boundary.
	f.take(f.nbits % 8)
	end := f.consumed()
	if end+4 > len(src) {
		return 0, errInflate
	}
	if binary.BigEndian.Uint32(src[end:]) != adler32Sum(dst) {
		return 0, errInflate
	}
	return end + 4, nil
}

// inflate decodes DEFLATE blocks into out until the final block, and
// returns the bytes written. Output past len(out) is an error.
func (f *inflater) inflate(out []byte) (int, error) {
	o := 0
	for {
		f.refill()
		hdr := f.take(3)
		final := hdr&1 != 0
		switch hdr >> 1 {
		case 0: // stored
			// Byte-aligned LEN and NLEN, then LEN bytes: read them from
			// the input directly, after the bytes the bit buffer holds.
			f.take(f.nbits % 8)
			p := f.consumed()
			if p+4 > len(f.in) {
				return 0, errInflate
			}
			n := int(binary.LittleEndian.Uint16(f.in[p:]))
			nn := binary.LittleEndian.Uint16(f.in[p+2:])
			p += 4
			if nn != ^uint16(n) || p+n > len(f.in) || o+n > len(out) {
				return 0, errInflate
			}
			copy(out[o:], f.in[p:p+n])
			o += n
			f.pos, f.over, f.bits, f.nbits = p+n, 0, 0, 0
		case 1: // fixed codes
			var err error
			if o, err = f.codes(out, o, &fixedLit, &fixedDist); err != nil {
				return 0, err
			}
		case 2: // dynamic codes
			if err := f.readCodes(); err != nil {
				return 0, err
			}
			var err error
			if o, err = f.codes(out, o, &f.lit, &f.dist); err != nil {
				return 0, err
			}
		default:
			return 0, errInflate
		}
		if f.overran() {
			return 0, errInflate
		}
		if final {
			return o, nil
		}
	}
}

// readCodes reads the code lengths of a dynamic block and builds its
// tables.
func (f *inflater) readCodes() error {
	f.refill()
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	nclen := int(f.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return errInflate
	}
	var cl [19]uint8
	for i := range nclen {
		if f.nbits < 3 {
			f.refill()
		}
		cl[codeOrder[i]] = uint8(f.take(3))
	}
	if !f.clen.build(cl[:], false) || f.clen.empty {
		return errInflate
	}
	var lengths [286 + 30]uint8
	n := nlit + ndist
	for i := 0; i < n; {
		if f.nbits < 15+7 {
			f.refill()
		}
		x, ok := f.sym(&f.clen)
		if !ok {
			return errInflate
		}
		if x < 16 {
			lengths[i] = uint8(x)
			i++
			continue
		}
		var rep int
		var v uint8
		switch x {
		case 16:
			if i == 0 {
				return errInflate
			}
			rep, v = 3+int(f.take(2)), lengths[i-1]
		case 17:
			rep = 3 + int(f.take(3))
		default:
			rep = 11 + int(f.take(7))
		}
		if i+rep > n {
			return errInflate
		}
		for range rep {
			lengths[i] = v
			i++
		}
	}
	if f.overran() || !f.lit.build(lengths[:nlit], true) || !f.dist.build(lengths[nlit:n], false) || f.lit.empty {
		return errInflate
	}
	return nil
}

// codes decodes the symbols of one Huffman block into out from o, up to
// its end-of-block symbol, with the codes litCode and distCode, and
// returns the new output position. The bit
// reader is held in local variables (the loop is most of a PNG's decoding
// time), refilled to at least 56 bits whenever fewer than 48, enough for a
// literal/length symbol, its extra bits, a distance symbol and its extra
// bits (15+5+15+13).
func (f *inflater) codes(out []byte, o int, litCode, distCode *huffman) (int, error) {
	in, pos, bits, nbits := f.in, f.pos, f.bits, f.nbits
	lit, dist, pairs := litCode.table, distCode.table, litCode.pairs
	defer func() { f.pos, f.bits, f.nbits = pos, bits, nbits }()
	for {
		if nbits < 48 {
			if pos+8 <= len(in) {
				bits |= binary.LittleEndian.Uint64(in[pos:]) << nbits
				pos += int(63-nbits) >> 3
				nbits |= 56
			} else {
				f.pos, f.bits, f.nbits = pos, bits, nbits
				f.refill()
				pos, bits, nbits = f.pos, f.bits, f.nbits
				if f.over > 8 {
					return 0, errInflate // far past the end of the input
				}
			}
		}
		if p := pairs[bits&(1<<pairBits-1)]; p&pairLit != 0 && o+8 <= len(out) {
			// Photographs are mostly literals: up to four table entries
			// of one or two literals (at most pairBits bits each) in the
			// 48 bits loaded. Two bytes are written each time; the
			// second is overwritten when the entry had one.
			w := out[o : o+8 : o+8]
			w[0], w[1] = byte(p), byte(p>>8)
			bits >>= (p >> 16) & entryLenMask
			nbits -= uint((p >> 16) & entryLenMask)
			k := int(p>>24) & 3
			if p = pairs[bits&(1<<pairBits-1)]; p&pairLit != 0 {
				w[k], w[k+1] = byte(p), byte(p>>8)
				bits >>= (p >> 16) & entryLenMask
				nbits -= uint((p >> 16) & entryLenMask)
				k += int(p>>24) & 3
				if p = pairs[bits&(1<<pairBits-1)]; p&pairLit != 0 {
					w[k], w[k+1] = byte(p), byte(p>>8)
					bits >>= (p >> 16) & entryLenMask
					nbits -= uint((p >> 16) & entryLenMask)
					k += int(p>>24) & 3
					if p = pairs[bits&(1<<pairBits-1)]; p&pairLit != 0 {
						w[k], w[k+1] = byte(p), byte(p>>8)
						bits >>= (p >> 16) & entryLenMask
						nbits -= uint((p >> 16) & entryLenMask)
						k += int(p>>24) & 3
					}
				}
			}
			o += k
			continue
		}
		e := lit[bits&(1<<primaryBits-1)]
		if e&entrySub != 0 {
			bits >>= primaryBits
			nbits -= primaryBits
			e = lit[e>>16+uint32(bits)&(1<<(e&entryLenMask)-1)]
		}
		if e&entryBad != 0 {
			return 0, errInflate
		}
		n := uint(e & entryLenMask)
		bits >>= n
		nbits -= n
		v := int(e >> 16)
		if v < 256 {
			if o >= len(out) {
				return 0, errInflate
			}
			out[o] = byte(v)
			o++
			continue
		}
		if v == 256 {
			return o, nil
		}
		v -= 257
		if v >= 29 || len(dist) == 0 {
			return 0, errInflate
		}
		eb := uint(lenExtra[v])
		length := int(lenBase[v]) + int(bits&(1<<eb-1))
		bits >>= eb
		nbits -= eb
		e = dist[bits&(1<<primaryBits-1)]
		if e&entrySub != 0 {
			bits >>= primaryBits
			nbits -= primaryBits
			e = dist[e>>16+uint32(bits)&(1<<(e&entryLenMask)-1)]
		}
		if e&entryBad != 0 {
			return 0, errInflate
		}
		n = uint(e & entryLenMask)
		bits >>= n
		nbits -= n
		d := int(e >> 16)
		if d >= 30 {
			return 0, errInflate
		}
		eb = uint(distExtra[d])
		d = int(distBase[d]) + int(bits&(1<<eb-1))
		bits >>= eb
		nbits -= eb
		if d > o || d > 32768 || o+length > len(out) {
			return 0, errInflate
		}
		switch {
		case d >= 8 && o+length+8 <= len(out):
			// Eight bytes at a time: each read is of bytes written
			// before it (d ≥ 8), and the last write may run up to 7
			// bytes past the match, into output not yet written.
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[o-d+i:]))
			}
		case d >= length:
			copy(out[o:o+length], out[o-d:])
		default:
			for i := range length {
				out[o+i] = out[o-d+i]
			}
		}
		o += length
	}
}
