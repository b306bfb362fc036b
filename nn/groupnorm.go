package nn

import (
	"math"

	"github.com/vitgo/vit/kernels"
)

// GroupNorm is Group Normalization (Wu & He 2018) over channels-last
// feature maps, [batch, positions, channels]: the channels are split into
// Groups groups of consecutive channels, each group of each image is
// normalised to zero mean and unit variance over its positions·channels/Groups
// values, then scaled and shifted per channel by G and B. With ReLU the
// output is then rectified (timm's GroupNormAct, as BiT's pre-activation
// blocks use it).
type GroupNorm struct {
	G, B             *Param // [channels]
	Groups, Channels int
	Eps              float32
	ReLU             bool

	partial []float32 // per-image parameter-gradient partials in Backward
}

// NewGroupNorm returns a GroupNorm with weight 1 and bias 0; channels must be
// divisible by groups.
func NewGroupNorm(name string, groups, channels int, eps float32, relu bool) *GroupNorm {
	n := &GroupNorm{G: NewParam(name+".weight", true, channels), B: NewParam(name+".bias", true, channels),
		Groups: groups, Channels: channels, Eps: eps, ReLU: relu}
	for i := range n.G.Data {
		n.G.Data[i] = 1
	}
	return n
}

// Replica returns a layer that shares n's weights but has its own gradients.
func (n *GroupNorm) Replica() *GroupNorm {
	return &GroupNorm{G: n.G.Share(), B: n.B.Share(), Groups: n.Groups, Channels: n.Channels, Eps: n.Eps, ReLU: n.ReLU}
}

// Params lists the layer's tensors.
func (n *GroupNorm) Params() []*Param { return []*Param{n.G, n.B} }

// Forward normalises x: [batch, positions, channels] into y (same shape).
// mean and rstd ([batch, groups]: each group's mean and 1/sqrt(var+eps))
// are written for Backward; pass nil at inference.
//
// A group's channels are a few consecutive ones of every position, so the
// passes run along the rows of channels, not group by group: per-channel
// sums (then each group's mean), per-channel sums of squared deviations
// from the group's mean (its variance, two-pass as in the definition),
// then y = x·a + b with a and b per channel (G·rstd, B − mean·G·rstd).
// Three passes over the image, each over contiguous memory.
func (n *GroupNorm) Forward(y, x, mean, rstd []float32, batch, positions int) {
	c, g := n.Channels, n.Groups
	cg := c / g
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		sum := make([]float64, c)
		mu := make([]float64, c) // the group's mean, per channel
		a, sh := make([]float32, c), make([]float32, c)
		cnt := float64(positions * cg)
		for b := lo; b < hi; b++ {
			xb, yb := x[b*positions*c:(b+1)*positions*c], y[b*positions*c:(b+1)*positions*c]
			clear(sum)
			for p := range positions {
				row := xb[p*c : (p+1)*c]
				for j, v := range row[:len(sum)] {
					sum[j] += float64(v)
				}
			}
			for gi := range g {
				var t float64
				for _, v := range sum[gi*cg : (gi+1)*cg] {
					t += v
				}
				for j := gi * cg; j < (gi+1)*cg; j++ {
					mu[j] = t / cnt
				}
			}
			clear(sum)
			for p := range positions {
				row := xb[p*c : (p+1)*c]
				for j, v := range row[:len(sum)] {
					d := float64(v) - mu[j]
					sum[j] += d * d
				}
			}
			for gi := range g {
				var ss float64
				for _, v := range sum[gi*cg : (gi+1)*cg] {
					ss += v
				}
				rs := 1 / math.Sqrt(ss/cnt+float64(n.Eps))
				m := mu[gi*cg]
				if mean != nil {
					mean[b*g+gi], rstd[b*g+gi] = float32(m), float32(rs)
				}
				for j := gi * cg; j < (gi+1)*cg; j++ {
					a[j] = float32(rs * float64(n.G.Data[j]))
					sh[j] = float32(float64(n.B.Data[j]) - m*rs*float64(n.G.Data[j]))
				}
			}
			for p := range positions {
				row, out := xb[p*c:(p+1)*c], yb[p*c:(p+1)*c]
				out = out[:len(row)]
				a, sh := a[:len(row)], sh[:len(row)]
				if n.ReLU {
					for j, v := range row {
						out[j] = max(v*a[j]+sh[j], 0)
					}
				} else {
					for j, v := range row {
						out[j] = v*a[j] + sh[j]
					}
				}
			}
		}
	})
}

// Backward takes dy: [batch, positions, channels], the forward input x, its
// output y (read only with ReLU, to mask dy) and its mean and rstd. It ADDS
// the input gradient into dx (a residual stream's gradient accumulates
// there) and adds to G.Grad and B.Grad.
//
// With d = dy (masked where the ReLU cut), x̂ = (x − μ)·r and
// dx̂ = d·G: dx = r·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) over each group,
// dG = Σ d·x̂ and dB = Σ d over positions. All of it follows from two
// per-channel sums over positions, S1 = Σ d and S2 = Σ d·x: dB = S1,
// dG = r·(S2 − μ·S1), mean(dx̂) = Σ_group G·S1 / n and mean(dx̂·x̂) =
// Σ_group G·dG / n; then dx += d·A + x·C + E with A, C and E per channel.
// Two passes over the image, along its rows of channels.
func (n *GroupNorm) Backward(dx, dy, x, y, mean, rstd []float32, batch, positions int) {
	c, g := n.Channels, n.Groups
	cg := c / g
	if len(n.partial) < batch*2*c {
		n.partial = make([]float32, batch*2*c)
	}
	part := n.partial[:batch*2*c]
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		s1, s2 := make([]float64, c), make([]float64, c)
		ca, cx, ce := make([]float32, c), make([]float32, c), make([]float32, c)
		cnt := float64(positions * cg)
		for b := lo; b < hi; b++ {
			off := b * positions * c
			xb, dyb, dxb := x[off:off+positions*c], dy[off:off+positions*c], dx[off:off+positions*c]
			var yb []float32
			if n.ReLU {
				yb = y[off : off+positions*c]
			}
			clear(s1)
			clear(s2)
			for p := range positions {
				xr, dr := xb[p*c:(p+1)*c], dyb[p*c:(p+1)*c]
				xr, dr = xr[:len(s1)], dr[:len(s1)]
				if yb != nil {
					yr := yb[p*c : (p+1)*c]
					yr = yr[:len(s1)]
					for j, d := range dr {
						d = reluMask(d, yr[j])
						s1[j] += float64(d)
						s2[j] += float64(d) * float64(xr[j])
					}
				} else {
					for j, d := range dr {
						s1[j] += float64(d)
						s2[j] += float64(d) * float64(xr[j])
					}
				}
			}
			gg, gb := part[b*2*c:b*2*c+c], part[b*2*c+c:(b+1)*2*c]
			for gi := range g {
				mu, rs := float64(mean[b*g+gi]), float64(rstd[b*g+gi])
				var sd, sdx float64
				for j := gi * cg; j < (gi+1)*cg; j++ {
					dg := rs * (s2[j] - mu*s1[j])
					gg[j], gb[j] = float32(dg), float32(s1[j])
					gj := float64(n.G.Data[j])
					sd += gj * s1[j]
					sdx += gj * dg
				}
				md, mdx := sd/cnt, sdx/cnt
				for j := gi * cg; j < (gi+1)*cg; j++ {
					ca[j] = float32(rs * float64(n.G.Data[j]))
					cx[j] = float32(-rs * rs * mdx)
					ce[j] = float32(-rs*md + rs*rs*mu*mdx)
				}
			}
			for p := range positions {
				xr, dr, out := xb[p*c:(p+1)*c], dyb[p*c:(p+1)*c], dxb[p*c:(p+1)*c]
				xr, dr, out = xr[:len(ca)], dr[:len(ca)], out[:len(ca)]
				ca, cx, ce := ca[:len(ca)], cx[:len(ca)], ce[:len(ca)]
				if yb != nil {
					yr := yb[p*c : (p+1)*c]
					yr = yr[:len(ca)]
					for j, d := range dr {
						out[j] += reluMask(d, yr[j])*ca[j] + xr[j]*cx[j] + ce[j]
					}
				} else {
					for j, d := range dr {
						out[j] += d*ca[j] + xr[j]*cx[j] + ce[j]
					}
				}
			}
		}
	})
	if n.G.Frozen {
		return
	}
	for b := range batch {
		kernels.AddTo(n.G.Grad, part[b*2*c:b*2*c+c])
		kernels.AddTo(n.B.Grad, part[b*2*c+c:(b+1)*2*c])
	}
}

// reluMask returns d where the ReLU passed y (y > 0, or NaN, as
// "y <= 0" is false for NaN) and 0 elsewhere (y ≤ 0, −0 included),
// without a branch: a ReLU's output is positive about half the time, at
// random, and a branch on it mispredicts half the time.
func reluMask(d, y float32) float32 {
	return math.Float32frombits(math.Float32bits(d) &^ reluCut(y))
}

// reluCut is all ones where a ReLU cuts y (y ≤ 0, −0 included; not NaN)
// and zero elsewhere.
func reluCut(y float32) uint32 {
	b := math.Float32bits(y)
	yb := int32(b)
	cut := uint32((yb - 1 | yb) >> 31)                             // all ones unless y's bits are a positive integer, that is y > 0
	nan := uint32((int32(0x7f800000) - int32(b&0x7fffffff)) >> 31) // all ones for NaN
	return cut &^ nan
}
