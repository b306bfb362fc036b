package data

import (
	"fmt"
	"math"
)

// Normalize maps a byte pixel p of channel c to (p/255 - Mean[c]) / Std[c].
//
// Mean and Std hold one value per channel, or a single value used for all
// channels. A nil Mean means 0 and a nil Std means 1, so the zero
// Normalize only scales pixels to [0, 1].
type Normalize struct {
	Mean, Std []float32
}

// Per-channel statistics of the training sets, on pixels scaled to [0, 1].
var (
	// FashionMNISTNorm: mean 0.2860, std 0.3530, computed with
	// ComputeNormalize on the 60,000 Fashion-MNIST training images
	// (0.286041, 0.353024).
	FashionMNISTNorm = Normalize{Mean: []float32{0.2860}, Std: []float32{0.3530}}
	// MNISTNorm holds the commonly published MNIST values.
	MNISTNorm = Normalize{Mean: []float32{0.1307}, Std: []float32{0.3081}}
	// CIFAR10Norm holds the commonly published CIFAR-10 values.
	CIFAR10Norm = Normalize{Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}
)

// ComputeNormalize returns the per-channel mean and standard deviation of
// the pixels of d, scaled to [0, 1]: the Normalize that gives the training
// set zero mean and unit variance per channel.
func ComputeNormalize(d *Dataset) Normalize {
	hw := d.H * d.W
	hist := make([][256]int64, d.C)
	for i := 0; i < d.N; i++ {
		img := d.Image(i)
		for c := range d.C {
			h := &hist[c]
			for _, p := range img[c*hw : (c+1)*hw] {
				h[p]++
			}
		}
	}
	n := Normalize{Mean: make([]float32, d.C), Std: make([]float32, d.C)}
	for c := range d.C {
		var cnt, s, s2 float64
		for v, k := range hist[c] {
			x := float64(v) / 255
			cnt += float64(k)
			s += float64(k) * x
			s2 += float64(k) * x * x
		}
		if cnt == 0 {
			n.Std[c] = 1
			continue
		}
		m := s / cnt
		n.Mean[c] = float32(m)
		n.Std[c] = float32(math.Sqrt(max(s2/cnt-m*m, 1e-12)))
	}
	return n
}

// luts returns, per channel, the float value of each byte value.
func (n Normalize) luts(channels int) ([][256]float32, error) {
	pick := func(v []float32, c int, def float32, what string) (float32, error) {
		switch len(v) {
		case 0:
			return def, nil
		case 1:
			return v[0], nil
		case channels:
			return v[c], nil
		}
		return 0, fmt.Errorf("data: Normalize.%s has %d values for %d channels", what, len(v), channels)
	}
	t := make([][256]float32, channels)
	for c := range channels {
		m, err := pick(n.Mean, c, 0, "Mean")
		if err != nil {
			return nil, err
		}
		s, err := pick(n.Std, c, 1, "Std")
		if err != nil {
			return nil, err
		}
		if !(s > 0) {
			return nil, fmt.Errorf("data: Normalize.Std[%d] = %v, want > 0", c, s)
		}
		for v := range 256 {
			t[c][v] = (float32(v)/255 - m) / s
		}
	}
	return t, nil
}

// Augment describes random training-time transformations, applied per
// image in this order: pad-and-crop, horizontal flip, normalisation,
// random erasing. The zero Augment changes nothing.
type Augment struct {
	// PadCrop pads the image with PadCrop zero (black) pixels on each side
	// and crops a random H x W window: a random shift of up to PadCrop
	// pixels in each direction. 0 disables it; 4 is typical for 28x28
	// and 32x32 images.
	PadCrop int
	// HFlip mirrors the image left-right with probability 0.5.
	HFlip bool
	// RandomErasing is the probability of erasing one random rectangle
	// (2% to 33% of the area, aspect ratio 0.3 to 3.3) to 0 after
	// normalisation, i.e. to the mean (Zhong et al., 2017). 0 disables it.
	RandomErasing float32
}

// transform writes image src [c, h, w] into dst as normalised floats
// (lut per channel), applying aug (nil for none) with randomness from r.
func transform(dst []float32, src []uint8, c, h, w int, lut [][256]float32, aug *Augment, r *rng) {
	hw := h * w
	if aug == nil || *aug == (Augment{}) {
		for ch := range c {
			t := &lut[ch]
			s := src[ch*hw : (ch+1)*hw]
			d := dst[ch*hw : (ch+1)*hw]
			for i, p := range s {
				d[i] = t[p]
			}
		}
		return
	}
	dx, dy := 0, 0
	if p := aug.PadCrop; p > 0 {
		dx = r.intn(2*p+1) - p
		dy = r.intn(2*p+1) - p
	}
	flip := aug.HFlip && r.next()&1 == 1
	for ch := range c {
		t := &lut[ch]
		pad := t[0]
		s := src[ch*hw : (ch+1)*hw]
		d := dst[ch*hw : (ch+1)*hw]
		for y := range h {
			drow := d[y*w : (y+1)*w]
			sy := y + dy
			if sy < 0 || sy >= h {
				for x := range drow {
					drow[x] = pad
				}
				continue
			}
			srow := s[sy*w : (sy+1)*w]
			for x := range drow {
				xx := x
				if flip {
					xx = w - 1 - x
				}
				sx := xx + dx
				if sx < 0 || sx >= w {
					drow[x] = pad
				} else {
					drow[x] = t[srow[sx]]
				}
			}
		}
	}
	if aug.RandomErasing > 0 && r.float() < aug.RandomErasing {
		erase(dst, c, h, w, r)
	}
}

// erase zeroes one random rectangle of dst [c, h, w].
func erase(dst []float32, c, h, w int, r *rng) {
	area := float64(h * w)
	for range 10 {
		a := area * (0.02 + 0.31*float64(r.float()))
		ar := math.Exp(math.Log(0.3) + (math.Log(3.3)-math.Log(0.3))*float64(r.float()))
		eh := int(math.Round(math.Sqrt(a * ar)))
		ew := int(math.Round(math.Sqrt(a / ar)))
		if eh < 1 || ew < 1 || eh >= h || ew >= w {
			continue
		}
		y0, x0 := r.intn(h-eh+1), r.intn(w-ew+1)
		for ch := range c {
			for y := y0; y < y0+eh; y++ {
				row := dst[ch*h*w+y*w:]
				clear(row[x0 : x0+ew])
			}
		}
		return
	}
}
