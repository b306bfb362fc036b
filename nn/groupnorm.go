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
func (n *GroupNorm) Forward(y, x, mean, rstd []float32, batch, positions int) {
	c, g := n.Channels, n.Groups
	cg := c / g
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			xb, yb := x[b*positions*c:(b+1)*positions*c], y[b*positions*c:(b+1)*positions*c]
			for gi := range g {
				var s, ss float64
				for p := range positions {
					for _, v := range xb[p*c+gi*cg : p*c+(gi+1)*cg] {
						s += float64(v)
					}
				}
				cnt := float64(positions * cg)
				mu := s / cnt
				for p := range positions {
					for _, v := range xb[p*c+gi*cg : p*c+(gi+1)*cg] {
						d := float64(v) - mu
						ss += d * d
					}
				}
				rs := 1 / math.Sqrt(ss/cnt+float64(n.Eps))
				if mean != nil {
					mean[b*g+gi], rstd[b*g+gi] = float32(mu), float32(rs)
				}
				m32, r32 := float32(mu), float32(rs)
				for p := range positions {
					o := p*c + gi*cg
					for j := range cg {
						v := (xb[o+j]-m32)*r32*n.G.Data[gi*cg+j] + n.B.Data[gi*cg+j]
						if n.ReLU && v < 0 {
							v = 0
						}
						yb[o+j] = v
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
func (n *GroupNorm) Backward(dx, dy, x, y, mean, rstd []float32, batch, positions int) {
	c, g := n.Channels, n.Groups
	cg := c / g
	if len(n.partial) < batch*2*c {
		n.partial = make([]float32, batch*2*c)
	}
	part := n.partial[:batch*2*c]
	clear(part)
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			off := b * positions * c
			xb, dyb, dxb := x[off:off+positions*c], dy[off:off+positions*c], dx[off:off+positions*c]
			var yb []float32
			if n.ReLU {
				yb = y[off : off+positions*c]
			}
			gg, gb := part[b*2*c:b*2*c+c], part[b*2*c+c:(b+1)*2*c]
			for gi := range g {
				mu, rs := mean[b*g+gi], rstd[b*g+gi]
				// dx = rs·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·G.
				var sd, sdx float64
				for p := range positions {
					o := p*c + gi*cg
					for j := range cg {
						d := dyb[o+j]
						if yb != nil && yb[o+j] <= 0 {
							d = 0
						}
						xh := (xb[o+j] - mu) * rs
						gg[gi*cg+j] += d * xh
						gb[gi*cg+j] += d
						dh := float64(d * n.G.Data[gi*cg+j])
						sd += dh
						sdx += dh * float64(xh)
					}
				}
				cnt := float64(positions * cg)
				md, mdx := float32(sd/cnt), float32(sdx/cnt)
				for p := range positions {
					o := p*c + gi*cg
					for j := range cg {
						d := dyb[o+j]
						if yb != nil && yb[o+j] <= 0 {
							d = 0
						}
						xh := (xb[o+j] - mu) * rs
						dxb[o+j] += rs * (d*n.G.Data[gi*cg+j] - md - xh*mdx)
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
