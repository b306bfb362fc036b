package imageio

import (
	"fmt"
	"math"
)

// Filter is a resampling filter. The values are Pillow's
// Image.Resampling constants, so a checkpoint's "resample": 2 or
// "interpolation": "bicubic" maps directly.
type Filter int

// The resampling filters, numbered as in Pillow.
const (
	Nearest  Filter = 0 // nearest neighbour, no antialiasing
	Lanczos  Filter = 1 // Lanczos, a = 3 (support 3)
	Bilinear Filter = 2 // triangle (support 1)
	Bicubic  Filter = 3 // Keys cubic, a = -0.5 (support 2)
	Box      Filter = 4 // box (support 0.5)
	Hamming  Filter = 5 // Hamming-windowed sinc (support 1)
)

// ParseFilter maps the names used by Pillow, torchvision and timm
// ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming") to a
// Filter.
func ParseFilter(name string) (Filter, error) {
	switch name {
	case "nearest", "NEAREST":
		return Nearest, nil
	case "bilinear", "BILINEAR", "linear":
		return Bilinear, nil
	case "bicubic", "BICUBIC", "cubic":
		return Bicubic, nil
	case "lanczos", "LANCZOS", "antialias", "ANTIALIAS":
		return Lanczos, nil
	case "box", "BOX":
		return Box, nil
	case "hamming", "HAMMING":
		return Hamming, nil
	}
	return 0, fmt.Errorf("imageio: unknown resampling filter %q", name)
}

func (f Filter) String() string {
	switch f {
	case Nearest:
		return "nearest"
	case Lanczos:
		return "lanczos"
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	case Box:
		return "box"
	case Hamming:
		return "hamming"
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// kernel returns the filter function and its support, as in Pillow's
// Resample.c.
func (f Filter) kernel() (func(float64) float64, float64) {
	switch f {
	case Box:
		return func(x float64) float64 {
			if x > -0.5 && x <= 0.5 {
				return 1
			}
			return 0
		}, 0.5
	case Bilinear:
		return func(x float64) float64 {
			x = math.Abs(x)
			if x < 1 {
				return 1 - x
			}
			return 0
		}, 1
	case Hamming:
		return func(x float64) float64 {
			x = math.Abs(x)
			if x == 0 {
				return 1
			}
			if x >= 1 {
				return 0
			}
			x *= math.Pi
			return math.Sin(x) / x * (0.54 + 0.46*math.Cos(x))
		}, 1
	case Bicubic:
		return func(x float64) float64 {
			const a = -0.5
			x = math.Abs(x)
			if x < 1 {
				return ((a+2)*x-(a+3))*x*x + 1
			}
			if x < 2 {
				return (((x-5)*x+8)*x - 4) * a
			}
			return 0
		}, 2
	case Lanczos:
		return func(x float64) float64 {
			if -3 <= x && x < 3 {
				return sinc(x) * sinc(x/3)
			}
			return 0
		}, 3
	}
	return nil, 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// precisionBits is the number of fractional bits of Pillow's 8-bit
// fixed-point coefficients (32 - 8 - 2).
const precisionBits = 22

// coeffs holds, for each output sample, the first input sample, the number
// of input samples and ksize fixed-point weights.
type coeffs struct {
	ksize int
	start []int
	count []int
	k     []int32 // [out, ksize]
}

// precompute follows Pillow's precompute_coeffs and normalize_coeffs_8bpc
// for the whole input range [0, in).
func precompute(in, out int, f Filter) coeffs {
	filter, support := f.kernel()
	scale := float64(in) / float64(out)
	filterscale := max(scale, 1)
	support *= filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, start: make([]int, out), count: make([]int, out), k: make([]int32, out*ksize)}
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := 0; xx < out; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5) // truncation, as C's (int) cast
		xmin = max(xmin, 0)
		xmax := min(int(center+support+0.5), in) - xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = filter((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		k := c.k[xx*ksize:]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.start[xx], c.count[xx] = xmin, max(xmax, 0)
	}
	return c
}

// clip8 rounds a fixed-point sum (which includes the 0.5 bias) to uint8.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resize returns src scaled to w×h exactly as Pillow's
// Image.resize((w, h), resample=f) does for an RGB image. For every filter
// but Nearest it is Pillow's separable convolution: the filter's support is
// multiplied by the scale factor when downscaling (antialiasing), the
// weights are normalised and rounded to 22-bit fixed point, the horizontal
// pass runs first, and each pass rounds and clips to uint8. Nearest picks
// the source pixel containing each output pixel's centre. Resizing to the
// same size returns a copy. It panics if w or h is not positive.
func Resize(src *RGB, w, h int, f Filter) *RGB {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("imageio: Resize to %dx%d", w, h))
	}
	if src.W <= 0 || src.H <= 0 {
		panic(fmt.Sprintf("imageio: Resize of an empty %dx%d image", src.W, src.H))
	}
	if w == src.W && h == src.H {
		return src.Clone()
	}
	if f == Nearest {
		return resizeNearest(src, w, h)
	}
	if k, _ := f.kernel(); k == nil {
		panic(fmt.Sprintf("imageio: unknown filter %d", int(f)))
	}
	img := src
	cv := precompute(src.H, h, f)
	if w != src.W {
		ch := precompute(src.W, w, f)
		// Only the rows the vertical pass reads are needed.
		first := cv.start[0]
		last := cv.start[h-1] + cv.count[h-1]
		if h == src.H {
			first, last = 0, src.H
		}
		img = horizontal(src, w, first, last, ch)
		for i := range cv.start {
			cv.start[i] -= first
		}
	}
	if h != src.H {
		img = vertical(img, h, cv)
	}
	return img
}

// horizontal resamples rows [first, last) of src to width w.
func horizontal(src *RGB, w, first, last int, c coeffs) *RGB {
	out := NewRGB(w, last-first)
	var start, kg []int32
	groups := 0
	if useResizeAVX2 {
		start, kg, groups = c.groupsOfFive()
	}
	for y := first; y < last; y++ {
		row := src.Pix[y*src.W*3 : (y+1)*src.W*3]
		dst := out.Pix[(y-first)*w*3 : (y-first+1)*w*3]
		x := 0
		if groups > 0 {
			// The pixels whose 16-byte reads stay inside src.Pix (all but
			// a few at the end of the last row).
			left := len(src.Pix) - y*src.W*3 - 16*groups
			for x < w && int(start[x]) <= left {
				x++
			}
			horizontalAVX2(dst, src.Pix[y*src.W*3:], start[:x], kg, groups)
		}
		horizontalGo(dst, row, x, w, c)
	}
	return out
}

// horizontalGo resamples output pixels [from, to) of one row.
func horizontalGo(dst, row []byte, from, to int, c coeffs) {
	const bias = int32(1 << (precisionBits - 1))
	for xx := from; xx < to; xx++ {
		k := c.k[xx*c.ksize : xx*c.ksize+c.count[xx]]
		in := row[c.start[xx]*3:]
		in = in[:3*len(k)]
		s0, s1, s2 := bias, bias, bias
		for j, kv := range k {
			p := in[3*j : 3*j+3 : 3*j+3]
			s0 += int32(p[0]) * kv
			s1 += int32(p[1]) * kv
			s2 += int32(p[2]) * kv
		}
		d := dst[xx*3 : xx*3+3 : xx*3+3]
		d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
	}
}

// groupsOfFive lays the weights out for horizontalAVX2: each output
// pixel's first input byte, and its weights in groups of five taps, each
// group padded with three zeros to eight.
func (c coeffs) groupsOfFive() (start, kg []int32, groups int) {
	groups = (c.ksize + 4) / 5
	start = make([]int32, len(c.start))
	kg = make([]int32, len(c.start)*groups*8)
	for x, s := range c.start {
		start[x] = int32(3 * s)
		for j, kv := range c.k[x*c.ksize : x*c.ksize+c.count[x]] {
			kg[(x*groups+j/5)*8+j%5] = kv
		}
	}
	return start, kg, groups
}

// vertical resamples the columns of src to height h.
func vertical(src *RGB, h int, c coeffs) *RGB {
	w := src.W
	out := NewRGB(w, h)
	acc := make([]int32, w*3)
	for yy := 0; yy < h; yy++ {
		k := c.k[yy*c.ksize : yy*c.ksize+c.count[yy]]
		dst := out.Pix[yy*w*3 : (yy+1)*w*3]
		done := 0
		if useResizeAVX2 && len(k) > 0 {
			done = verticalAVX2(dst, src.Pix[c.start[yy]*w*3:], w*3, k)
		}
		// The rest (all of it without AVX2) in Go.
		dst = dst[done:]
		acc := acc[:len(dst)]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, kv := range k {
			row := src.Pix[(c.start[yy]+y)*w*3+done : (c.start[yy]+y+1)*w*3]
			row = row[:len(acc)]
			for i, p := range row {
				acc[i] += int32(p) * kv
			}
		}
		for i, v := range acc {
			dst[i] = clip8(v)
		}
	}
	return out
}

// resizeNearest follows Pillow's ImagingScaleAffine: source coordinates are
// accumulated in float64 from the first pixel centre and truncated.
func resizeNearest(src *RGB, w, h int) *RGB {
	out := NewRGB(w, h)
	ax := float64(src.W) / float64(w)
	ay := float64(src.H) / float64(h)
	xin := make([]int, w)
	xo := ax * 0.5
	for x := range xin {
		xin[x] = min(int(xo), src.W-1)
		xo += ax
	}
	yo := ay * 0.5
	for y := 0; y < h; y++ {
		yi := min(int(yo), src.H-1)
		yo += ay
		row := src.Pix[yi*src.W*3:]
		dst := out.Pix[y*w*3:]
		for x, xi := range xin {
			copy(dst[x*3:x*3+3], row[xi*3:xi*3+3])
		}
	}
	return out
}
