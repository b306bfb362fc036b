package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Mix describes augmentation that blends the images of a batch in pairs,
// image i with image n−1−i, as timm's Mixup does in batch mode:
//
//   - Mixup (Zhang et al., 2018): x_i ← λ·x_i + (1−λ)·x_{n−1−i};
//   - CutMix (Yun et al., 2019): a random box of x_i, of area (1−λ)·H·W
//     before clipping to the image, is replaced by the same box of
//     x_{n−1−i}; λ is then recomputed from the clipped box.
//
// λ ~ Beta(α, α), one draw per batch. The training targets become
// λ·target(y_i) + (1−λ)·target(y_{n−1−i}) (see train.Targets).
//
// CutMix makes the model classify from parts of an image, which on small
// datasets is what makes a ViT's early heads attend locally (Santiago
// Toledo and Martínez, 2026, arXiv:2605.16390). The zero Mix mixes nothing.
type Mix struct {
	// Mixup is α of Mixup's Beta(α, α); 0 disables Mixup. 0.8 is timm's.
	Mixup float32 `json:"mixup,omitempty"`
	// CutMix is α of CutMix's Beta(α, α); 0 disables CutMix. 1 is timm's.
	CutMix float32 `json:"cutmix,omitempty"`
	// Prob is the probability that a batch is mixed at all; 0 means 1.
	Prob float32 `json:"prob,omitempty"`
	// SwitchProb is, when both are enabled, the probability that a mixed
	// batch uses CutMix rather than Mixup; 0 means 0.5.
	SwitchProb float32 `json:"switch_prob,omitempty"`
}

// Enabled reports whether m mixes any batch.
func (m Mix) Enabled() bool { return m.Mixup > 0 || m.CutMix > 0 }

// Validate reports the first unusable field.
func (m Mix) Validate() error {
	for _, f := range []struct {
		name string
		v    float32
		max  float32
	}{{"mixup alpha", m.Mixup, 1e6}, {"cutmix alpha", m.CutMix, 1e6}, {"mix probability", m.Prob, 1}, {"mix switch probability", m.SwitchProb, 1}} {
		if !(f.v >= 0 && f.v <= f.max) {
			return fmt.Errorf("data: %s must be in [0, %g], got %g", f.name, f.max, f.v)
		}
	}
	return nil
}

// Apply mixes the batch x: [n, c, h, w] in place, with randomness drawn
// from (seed, step) only, and returns whether it did and λ, the weight of
// each image's own label (1 when it did not).
func (m Mix) Apply(x []float32, n, c, h, w int, seed, step uint64) (mixed bool, lambda float32) {
	if !m.Enabled() || n < 2 {
		return false, 1
	}
	if len(x) != n*c*h*w {
		panic(fmt.Sprintf("data: Mix.Apply: %d values for a batch of %d×%d×%d×%d", len(x), n, c, h, w))
	}
	r := rng{seedOf(seed, step, 0x6d6978)} // "mix"
	if p := m.Prob; p > 0 && p < 1 && r.float() >= p {
		return false, 1
	}
	cut := m.CutMix > 0
	if m.Mixup > 0 && cut {
		sp := m.SwitchProb
		if sp == 0 {
			sp = 0.5
		}
		cut = r.float() < sp
	}
	alpha := m.Mixup
	if cut {
		alpha = m.CutMix
	}
	lam := betaSample(float64(alpha), r.next())
	size := c * h * w
	if !cut {
		a, b := float32(lam), float32(1-lam)
		for i := range n / 2 {
			xi, xj := x[i*size:(i+1)*size], x[(n-1-i)*size:(n-i)*size]
			for k, u := range xi {
				v := xj[k]
				xi[k], xj[k] = a*u+b*v, a*v+b*u
			}
		}
		return true, float32(lam)
	}
	y0, y1, x0, x1 := cutBox(h, w, lam, &r)
	for i := range n / 2 {
		xi, xj := x[i*size:(i+1)*size], x[(n-1-i)*size:(n-i)*size]
		for ch := range c {
			for y := y0; y < y1; y++ {
				o := ch*h*w + y*w
				ri, rj := xi[o+x0:o+x1], xj[o+x0:o+x1]
				for k := range ri {
					ri[k], rj[k] = rj[k], ri[k]
				}
			}
		}
	}
	return true, 1 - float32((y1-y0)*(x1-x0))/float32(h*w)
}

// cutBox returns CutMix's box [y0, y1) × [x0, x1) for λ: sides
// √(1−λ)·(h, w) rounded down, centred on a uniformly random pixel, clipped
// to the image.
func cutBox(h, w int, lam float64, r *rng) (y0, y1, x0, x1 int) {
	cut := math.Sqrt(1 - lam)
	ch, cw := int(float64(h)*cut), int(float64(w)*cut)
	cy, cx := r.intn(h), r.intn(w)
	y0, y1 = min(max(cy-ch/2, 0), h), min(max(cy+ch/2, 0), h)
	x0, x1 = min(max(cx-cw/2, 0), w), min(max(cx+cw/2, 0), w)
	return y0, y1, x0, x1
}

// betaSample draws from Beta(alpha, alpha) with a generator seeded by seed.
func betaSample(alpha float64, seed uint64) float64 {
	src := rand.NewPCG(seed, mix64(seed))
	return distuv.Beta{Alpha: alpha, Beta: alpha, Src: src}.Rand()
}
