package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
)

// naiveGroupNorm is the definition, in float64.
func naiveGroupNorm(n *GroupNorm, x []float32, batch, positions int) []float32 {
	c, cg := n.Channels, n.Channels/n.Groups
	y := make([]float32, len(x))
	for b := range batch {
		for g := range n.Groups {
			var s, ss float64
			at := func(p, j int) int { return (b*positions+p)*c + g*cg + j }
			for p := range positions {
				for j := range cg {
					s += float64(x[at(p, j)])
				}
			}
			mu := s / float64(positions*cg)
			for p := range positions {
				for j := range cg {
					d := float64(x[at(p, j)]) - mu
					ss += d * d
				}
			}
			rs := 1 / math.Sqrt(ss/float64(positions*cg)+float64(n.Eps))
			for p := range positions {
				for j := range cg {
					v := (float64(x[at(p, j)])-mu)*rs*float64(n.G.Data[g*cg+j]) + float64(n.B.Data[g*cg+j])
					if n.ReLU {
						v = math.Max(v, 0)
					}
					y[at(p, j)] = float32(v)
				}
			}
		}
	}
	return y
}

func TestGroupNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, relu := range []bool{false, true} {
		batch, positions, channels, groups := 2, 5, 6, 3
		n := NewGroupNorm("gn", groups, channels, 1e-5, relu)
		copy(n.G.Data, gradcheck.Random(rng, channels, 1))
		copy(n.B.Data, gradcheck.Random(rng, channels, 0.5))
		x := gradcheck.Random(rng, batch*positions*channels, 2)
		y := make([]float32, len(x))
		mean, rstd := make([]float32, batch*groups), make([]float32, batch*groups)
		n.Forward(y, x, mean, rstd, batch, positions)
		want := naiveGroupNorm(n, x, batch, positions)
		for i := range y {
			if math.Abs(float64(y[i]-want[i])) > 1e-5 {
				t.Fatalf("relu=%v: y[%d] = %v, want %v", relu, i, y[i], want[i])
			}
		}
		up := gradcheck.Random(rng, len(y), 1)
		loss := func() float64 {
			out := make([]float32, len(x))
			n.Forward(out, x, nil, nil, batch, positions)
			return gradcheck.Dot(out, up)
		}
		dx := make([]float32, len(x))
		n.Backward(dx, up, x, y, mean, rstd, batch, positions)
		eps := 1e-2
		if relu {
			eps = 1e-3 // a smaller step crosses fewer of ReLU's kinks
		}
		gradcheck.Check(t, "groupnorm x", x, dx, loss, eps, 2e-2, 0)
		gradcheck.Check(t, "groupnorm weight", n.G.Data, n.G.Grad, loss, eps, 2e-2, 0)
		gradcheck.Check(t, "groupnorm bias", n.B.Data, n.B.Grad, loss, eps, 2e-2, 0)
	}
}

func TestStdConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ in, out, k, s, h, w int }{{3, 4, 1, 1, 4, 3}, {3, 5, 3, 2, 5, 6}, {2, 3, 1, 2, 5, 5}, {2, 3, 3, 1, 4, 4}} {
		batch := 2
		c := NewStdConv2D("conv", tc.in, tc.out, tc.k, tc.s, 1e-8)
		copy(c.W.Data, gradcheck.Random(rng, len(c.W.Data), 1))
		x := gradcheck.Random(rng, batch*tc.h*tc.w*tc.in, 1)
		oh, ow := c.Conv.OutSize(tc.h, tc.w)
		cols := make([]float32, c.ColSize(batch, tc.h, tc.w))
		y := make([]float32, batch*oh*ow*tc.out)
		c.Forward(y, cols, x, batch, tc.h, tc.w, false)

		// The forward equals a plain convolution with the standardised kernel.
		ref := NewConv2D("ref", tc.in, tc.out, tc.k, tc.s)
		k := c.Conv.ColSize()
		for o := range tc.out {
			w := c.W.Data[o*k : (o+1)*k]
			var s, ss float64
			for _, v := range w {
				s += float64(v)
			}
			mu := s / float64(k)
			for _, v := range w {
				ss += (float64(v) - mu) * (float64(v) - mu)
			}
			for i, v := range w {
				ref.Dense.W.Data[o*k+i] = float32((float64(v) - mu) / math.Sqrt(ss/float64(k)+1e-8))
			}
		}
		want := naiveConv(ref, x, batch, tc.h, tc.w, false)
		for i := range y {
			if math.Abs(float64(y[i]-want[i])) > 1e-4 {
				t.Fatalf("%+v: y[%d] = %v, want %v", tc, i, y[i], want[i])
			}
		}

		up := gradcheck.Random(rng, len(y), 1)
		loss := func() float64 {
			out := make([]float32, len(y))
			c.Forward(out, make([]float32, len(cols)), x, batch, tc.h, tc.w, false)
			return gradcheck.Dot(out, up)
		}
		dx := gradcheck.Random(rng, len(x), 1) // Backward adds into it
		base := append([]float32(nil), dx...)
		c.Forward(y, cols, x, batch, tc.h, tc.w, false)
		c.Backward(dx, make([]float32, len(cols)), up, x, cols, batch, tc.h, tc.w)
		for i := range dx {
			dx[i] -= base[i]
		}
		gradcheck.Check(t, "stdconv x", x, dx, loss, 1e-2, 2e-2, 0)
		gradcheck.Check(t, "stdconv weight", c.W.Data, c.W.Grad, loss, 1e-3, 2e-2, 0)
	}
}

func TestMaxPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	batch, h, w, ch := 2, 7, 6, 3
	x := gradcheck.Random(rng, batch*h*w*ch, 1)
	oh, ow := (h+2-3)/2+1, (w+2-3)/2+1
	y := make([]float32, batch*oh*ow*ch)
	arg := make([]int32, len(y))
	MaxPool2D(y, arg, x, batch, h, w, ch, 3, 2, 1)
	for b := range batch {
		for oy := range oh {
			for ox := range ow {
				for c := range ch {
					best := float32(math.Inf(-1))
					for iy := max(0, oy*2-1); iy <= min(h-1, oy*2+1); iy++ {
						for ix := max(0, ox*2-1); ix <= min(w-1, ox*2+1); ix++ {
							best = max(best, x[((b*h+iy)*w+ix)*ch+c])
						}
					}
					if got := y[((b*oh+oy)*ow+ox)*ch+c]; got != best {
						t.Fatalf("y[%d,%d,%d,%d] = %v, want %v", b, oy, ox, c, got, best)
					}
				}
			}
		}
	}
	up := gradcheck.Random(rng, len(y), 1)
	dx := make([]float32, len(x))
	MaxPool2DBackward(dx, up, arg)
	loss := func() float64 {
		out := make([]float32, len(y))
		MaxPool2D(out, nil, x, batch, h, w, ch, 3, 2, 1)
		return gradcheck.Dot(out, up)
	}
	gradcheck.Check(t, "maxpool x", x, dx, loss, 1e-3, 1e-2, 0)
}

func TestReluMask(t *testing.T) {
	nan := float32(math.NaN())
	negNaN := math.Float32frombits(math.Float32bits(nan) | 1<<31)
	for _, y := range []float32{1, 1e-45, 3.4e38, float32(math.Inf(1)), 0, float32(math.Copysign(0, -1)), -1e-45, -2, float32(math.Inf(-1)), nan, negNaN} {
		want := float32(7)
		if y <= 0 { // false for NaN: the ReLU passes it, as the layers' "if y <= 0" did
			want = 0
		}
		if got := reluMask(7, y); got != want {
			t.Errorf("reluMask(7, %v) = %v, want %v", y, got, want)
		}
	}
}
