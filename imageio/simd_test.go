// Tests of the assembly paths against the portable Go code and the
// specifications.
package imageio

import (
	"bytes"
	"hash/adler32"
	"math/rand/v2"
	"testing"
)

// paethRef is the Paeth unfilter of the PNG specification, written
// plainly.
func paethRef(cur, prev []byte, bpp int) {
	for i := range cur {
		var a, c int
		if i >= bpp {
			a, c = int(cur[i-bpp]), int(prev[i-bpp])
		}
		b := int(prev[i])
		p := a + b - c
		pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
		switch {
		case pa <= pb && pa <= pc:
			cur[i] += byte(a)
		case pb <= pc:
			cur[i] += byte(b)
		default:
			cur[i] += byte(c)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestPaeth: the Paeth unfilter, by the AVX path where the CPU has it and
// by the portable Go code, equals the specification's on random rows of
// every pixel size and of lengths around the vector path's edges, with
// values near 0 and 255 where the predictor's ties are.
func TestPaeth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	defer setPaethAVX(true)
	for _, avx := range []bool{true, false} {
		if setPaethAVX(avx) != avx {
			t.Logf("no AVX on this CPU: the AVX Paeth path is not tested")
			continue
		}
		for bpp := 1; bpp <= 8; bpp++ {
			for pixels := 1; pixels <= 12; pixels++ {
				for trial := range 50 {
					n := pixels * bpp
					cur, prev := make([]byte, n, n+8), make([]byte, n)
					for i := range cur {
						if trial%2 == 0 {
							cur[i], prev[i] = byte(rng.IntN(256)), byte(rng.IntN(256))
						} else { // few values: many ties
							cur[i], prev[i] = []byte{0, 1, 127, 128, 254, 255}[rng.IntN(6)], []byte{0, 1, 255}[rng.IntN(3)]
						}
					}
					// Bytes after the row must stay as they are.
					tail := cur[n : n+8]
					for i := range tail {
						tail[i] = byte(0xa0 + i)
					}
					want := bytes.Clone(cur)
					paethRef(want, prev, bpp)
					paeth(cur, prev, bpp)
					if !bytes.Equal(cur, want) {
						t.Fatalf("avx %v, bpp %d, %d pixels: got %v, want %v (prev %v)", avx, bpp, pixels, cur, want, prev)
					}
					if string(cur[n:n+8]) != "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7" {
						t.Fatalf("avx %v, bpp %d, %d pixels: wrote past the row: %x", avx, bpp, pixels, cur[n:n+8])
					}
				}
			}
		}
	}
}

// TestResizePaths: the AVX2 vertical pass gives what the portable Go code
// gives, byte for byte, for every filter, up and down, at widths whose
// rows end inside a 32-byte chunk, on noise (whose sums overshoot and are
// clipped) and on flat images.
func TestResizePaths(t *testing.T) {
	if !setResizeAVX2(true) {
		t.Skip("no AVX2 on this CPU: only the portable Go pass runs")
	}
	defer setResizeAVX2(true)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, f := range []Filter{Lanczos, Bilinear, Bicubic, Box, Hamming} {
		for _, size := range [][4]int{{37, 41, 19, 64}, {50, 50, 50, 23}, {11, 200, 11, 31}, {97, 13, 40, 13}, {7, 5, 30, 3}} {
			src := NewRGB(size[0], size[1])
			for i := range src.Pix {
				if size[0]%2 == 1 {
					src.Pix[i] = byte(rng.IntN(256))
				} else {
					src.Pix[i] = 200
				}
			}
			setResizeAVX2(true)
			got := Resize(src, size[2], size[3], f)
			setResizeAVX2(false)
			want := Resize(src, size[2], size[3], f)
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%v %dx%d → %dx%d: the AVX2 pass differs from Go", f, size[0], size[1], size[2], size[3])
			}
		}
	}
}

// TestAdler32: adler32Sum equals hash/adler32 at lengths around the
// kernel's 32-byte blocks and 5536-byte runs, on bytes of 255 (the
// largest sums) and on noise.
func TestAdler32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 31, 63, 64, 65, 96, 5535, 5536, 5537, 5536*2 + 33, 100000} {
		for _, fill := range []string{"max", "noise"} {
			p := make([]byte, n)
			for i := range p {
				p[i] = 255
				if fill == "noise" {
					p[i] = byte(rng.IntN(256))
				}
			}
			if got, want := adler32Sum(p), adler32.Checksum(p); got != want {
				t.Errorf("%d bytes of %s: %08x, want %08x", n, fill, got, want)
			}
		}
	}
}
