package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
	"github.com/vitgo/vit/internal/kernelpath/kernelpathtest"
)

// naiveConv is the convolution's definition, looped: x channels-last or
// channels-first, y channels-last.
func naiveConv(c *Conv2D, x []float32, batch, h, w int, nchw bool) []float32 {
	oh, ow := c.OutSize(h, w)
	y := make([]float32, batch*oh*ow*c.Out)
	at := func(b, iy, ix, ch int) float32 {
		if iy < 0 || iy >= h || ix < 0 || ix >= w {
			return 0
		}
		if nchw {
			return x[((b*c.In+ch)*h+iy)*w+ix]
		}
		return x[((b*h+iy)*w+ix)*c.In+ch]
	}
	k := c.Kernel
	for b := range batch {
		for oy := range oh {
			for ox := range ow {
				for o := range c.Out {
					s := float64(c.Dense.B.Data[o])
					for ch := range c.In {
						for ky := range k {
							for kx := range k {
								wv := c.Dense.W.Data[((o*k+ky)*k+kx)*c.In+ch]
								s += float64(wv) * float64(at(b, oy*c.Stride+ky-c.Padding, ox*c.Stride+kx-c.Padding, ch))
							}
						}
					}
					y[((b*oh+oy)*ow+ox)*c.Out+o] = float32(s)
				}
			}
		}
	}
	return y
}

func TestConv2D(t *testing.T) { kernelpathtest.Run(t, testConv2D) }

func testConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ in, out, k, s, h, w int }{
		{1, 4, 3, 1, 6, 5}, {3, 5, 3, 2, 8, 6}, {2, 3, 1, 1, 4, 4}, {2, 3, 5, 2, 6, 6}, {4, 6, 3, 2, 2, 2},
	} {
		for _, nchw := range []bool{false, true} {
			name := fmt.Sprintf("in%d_out%d_k%d_s%d_%dx%d_nchw=%v", tc.in, tc.out, tc.k, tc.s, tc.h, tc.w, nchw)
			t.Run(name, func(t *testing.T) {
				batch := 2
				c := NewConv2D("conv", tc.in, tc.out, tc.k, tc.s)
				if err := c.Validate(tc.h, tc.w); err != nil {
					t.Fatal(err)
				}
				copy(c.Dense.W.Data, gradcheck.Random(rng, len(c.Dense.W.Data), 0.5))
				copy(c.Dense.B.Data, gradcheck.Random(rng, tc.out, 0.5))
				x := gradcheck.Random(rng, batch*tc.in*tc.h*tc.w, 1)
				oh, ow := c.OutSize(tc.h, tc.w)
				cols := make([]float32, batch*oh*ow*c.ColSize())
				y := make([]float32, batch*oh*ow*tc.out)
				c.Forward(y, cols, x, batch, tc.h, tc.w, nchw)
				want := naiveConv(c, x, batch, tc.h, tc.w, nchw)
				for i := range y {
					if math.Abs(float64(y[i]-want[i])) > 1e-4 {
						t.Fatalf("y[%d] = %v, want %v", i, y[i], want[i])
					}
				}
				if nchw {
					return // gradients flow into channels-last maps only
				}
				up := gradcheck.Random(rng, len(y), 1)
				loss := func() float64 { c.Forward(y, cols, x, batch, tc.h, tc.w, false); return gradcheck.Dot(y, up) }
				dx := make([]float32, len(x))
				dcols := make([]float32, len(cols))
				c.Backward(dx, dcols, up, cols, batch, tc.h, tc.w)
				gradcheck.Check(t, "dx", x, dx, loss, eps, tol, 0)
				gradcheck.Check(t, "dW", c.Dense.W.Data, c.Dense.W.Grad, loss, eps, tol, 0)
				gradcheck.Check(t, "db", c.Dense.B.Data, c.Dense.B.Grad, loss, eps, tol, 0)
			})
		}
	}
}

func TestConv2DValidate(t *testing.T) {
	for _, tc := range []struct{ k, s, h, w int }{{2, 1, 4, 4}, {3, 0, 4, 4}, {3, 2, 5, 4}, {0, 1, 4, 4}} {
		c := &Conv2D{In: 1, Out: 1, Kernel: tc.k, Stride: tc.s}
		if err := c.Validate(tc.h, tc.w); err == nil {
			t.Errorf("kernel %d stride %d on %d×%d: no error", tc.k, tc.s, tc.h, tc.w)
		}
	}
	if err := NewConv2D("c", 1, 1, 3, 2).Validate(6, 4); err != nil {
		t.Error(err)
	}
}
