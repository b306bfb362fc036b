package nn

import (
	"fmt"

	"github.com/vitgo/vit/kernels"
)

// Conv2D is a 2-D convolution with zero padding Kernel/2 on each side
// ("same" output size at stride 1), computed as one matrix product of the
// image patches with the kernel (im2col):
//
//	y[b, oy, ox, o] = B[o] + Σ_{ky,kx,c} W[o, ky, kx, c] · x[b, oy·S+ky−P, ox·S+kx−P, c]
//
// Feature maps are channels-last, [batch, height, width, channels]; the
// first layer of a network may read a channels-first image instead (see
// Im2Col). W: [out, kernel, kernel, in], channels-last like the maps (each
// tap's channels are one contiguous run of a map, so im2col copies runs
// instead of gathering single values; PyTorch's [out, in, kernel, kernel]
// is a transpose of it). B: [out].
type Conv2D struct {
	Dense                            *Linear // W viewed as [out, kernel·kernel·in]
	In, Out, Kernel, Stride, Padding int
}

// NewConv2D allocates a zeroed convolution from in to out channels with a
// kernel×kernel window (kernel odd) and the given stride.
func NewConv2D(name string, in, out, kernel, stride int) *Conv2D {
	l := NewLinear(name, in*kernel*kernel, out, true)
	l.W.Shape = []int{out, kernel, kernel, in}
	return &Conv2D{Dense: l, In: in, Out: out, Kernel: kernel, Stride: stride, Padding: kernel / 2}
}

// OutSize is the output height and width for an h×w input.
func (c *Conv2D) OutSize(h, w int) (oh, ow int) {
	return (h+2*c.Padding-c.Kernel)/c.Stride + 1, (w+2*c.Padding-c.Kernel)/c.Stride + 1
}

// ColSize is the length of one im2col row, kernel·kernel·in.
func (c *Conv2D) ColSize() int { return c.In * c.Kernel * c.Kernel }

// Replica returns a layer that shares c's weights (Param.Share) but has its
// own gradients and scratch, for data-parallel training.
func (c *Conv2D) Replica() *Conv2D {
	r := *c
	r.Dense = c.Dense.Replica()
	return &r
}

// Params lists the layer's tensors.
func (c *Conv2D) Params() []*Param { return c.Dense.Params() }

// Im2Col writes the patches under every output position of batch inputs
// x, each h×w, into cols: [batch·oh·ow, kernel·kernel·in], each row in the
// order (ky, kx, channel) of W's columns; taps outside the image are 0. x
// is channels-last, [batch, h, w, in], or with nchw channels-first,
// [batch, in, h, w].
func (c *Conv2D) Im2Col(cols, x []float32, batch, h, w int, nchw bool) {
	oh, ow := c.OutSize(h, w)
	k, s, p, in := c.Kernel, c.Stride, c.Padding, c.In
	sy, sx, sc := w*in, in, 1 // strides of y, x and channel in x
	if nchw && in > 1 {
		sy, sx, sc = w, 1, h*w
	} else {
		nchw = false // one channel: both layouts are the same
	}
	cs := c.ColSize()
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			img := x[b*h*w*in : (b+1)*h*w*in]
			for oy := range oh {
				for ox := range ow {
					row := cols[((b*oh+oy)*ow+ox)*cs:][:cs]
					x0 := ox*s - p // the first tap's column
					for ky := range k {
						iy := oy*s + ky - p
						if !nchw && iy >= 0 && iy < h && x0 >= 0 && x0+k <= w {
							// The row's k taps are one run of the map.
							copy(row[ky*k*in:(ky+1)*k*in], img[(iy*w+x0)*in:])
							continue
						}
						for kx := range k {
							ix := x0 + kx
							dst := row[(ky*k+kx)*in:][:in]
							switch {
							case iy < 0 || iy >= h || ix < 0 || ix >= w:
								clear(dst)
							case !nchw:
								copy(dst, img[(iy*w+ix)*in:])
							default:
								for ch := range dst {
									dst[ch] = img[iy*sy+ix*sx+ch*sc]
								}
							}
						}
					}
				}
			}
		}
	})
}

// Col2Im is the adjoint of Im2Col on channels-last maps: it adds every
// entry of dcols: [batch·oh·ow, kernel·kernel·in] to the input position it
// was read from, into dx: [batch, h, w, in] (dx is not cleared first).
func (c *Conv2D) Col2Im(dx, dcols []float32, batch, h, w int) {
	oh, ow := c.OutSize(h, w)
	k, s, p, in := c.Kernel, c.Stride, c.Padding, c.In
	cs := c.ColSize()
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			img := dx[b*h*w*in : (b+1)*h*w*in]
			for oy := range oh {
				for ox := range ow {
					row := dcols[((b*oh+oy)*ow+ox)*cs:][:cs]
					x0 := ox*s - p
					for ky := range k {
						iy := oy*s + ky - p
						if iy < 0 || iy >= h {
							continue
						}
						if x0 >= 0 && x0+k <= w {
							kernels.AddTo(img[(iy*w+x0)*in:][:k*in], row[ky*k*in:(ky+1)*k*in])
							continue
						}
						for kx := range k {
							ix := ox*s + kx - p
							if ix < 0 || ix >= w {
								continue
							}
							kernels.AddTo(img[(iy*w+ix)*in:][:in], row[(ky*k+kx)*in:][:in])
						}
					}
				}
			}
		}
	})
}

// Forward computes y: [batch, oh, ow, out] from x (channels-last, or
// channels-first with nchw), through cols: [batch·oh·ow, kernel·kernel·in],
// which Backward needs again.
func (c *Conv2D) Forward(y, cols, x []float32, batch, h, w int, nchw bool) {
	oh, ow := c.OutSize(h, w)
	c.Im2Col(cols, x, batch, h, w, nchw)
	c.Dense.Forward(y, cols, batch*oh*ow)
}

// Backward takes dy: [batch, oh, ow, out] and the forward's cols. It adds
// the kernel and bias gradients into W.Grad and B.Grad and, when dx is not
// nil, writes dx: [batch, h, w, in] (channels-last, overwriting), using
// dcols (the size of cols) as scratch.
func (c *Conv2D) Backward(dx, dcols, dy, cols []float32, batch, h, w int) {
	oh, ow := c.OutSize(h, w)
	rows := batch * oh * ow
	if dx == nil {
		c.Dense.Backward(nil, dy, cols, rows)
		return
	}
	c.Dense.Backward(dcols, dy, cols, rows)
	clear(dx[:batch*h*w*c.In])
	c.Col2Im(dx, dcols, batch, h, w)
}

// Validate reports whether the layer can take an h×w input and give an
// output a stride divides exactly.
func (c *Conv2D) Validate(h, w int) error {
	if c.Kernel%2 == 0 || c.Kernel < 1 || c.Stride < 1 {
		return fmt.Errorf("conv: kernel must be odd and stride positive, got kernel %d, stride %d", c.Kernel, c.Stride)
	}
	if h%c.Stride != 0 || w%c.Stride != 0 {
		return fmt.Errorf("conv: a %d×%d map is not divisible by stride %d", h, w, c.Stride)
	}
	return nil
}
