package data

import (
	"slices"
	"testing"
)

func plain(d *Dataset, i int, lut [][256]float32) []float32 {
	out := make([]float32, d.ImageSize())
	transform(out, d.Image(i), d.C, d.H, d.W, lut, nil, nil)
	return out
}

func augmented(d *Dataset, i int, lut [][256]float32, a *Augment, seed uint64) []float32 {
	out := make([]float32, d.ImageSize())
	r := rng{seed}
	transform(out, d.Image(i), d.C, d.H, d.W, lut, a, &r)
	return out
}

// mirror flips an image [c, h, w] left-right.
func mirror(x []float32, c, h, w int) []float32 {
	out := make([]float32, len(x))
	for p := range c * h {
		for j := range w {
			out[p*w+j] = x[p*w+w-1-j]
		}
	}
	return out
}

func TestAugmentIdentity(t *testing.T) {
	d := synthetic(5, 3, 7, 9, 2)
	lut, _ := Normalize{Mean: []float32{0.1, 0.2, 0.3}, Std: []float32{0.5}}.luts(3)
	for seed := range uint64(20) {
		for _, a := range []*Augment{{}, {PadCrop: 0, HFlip: false, RandomErasing: 0}} {
			if !slices.Equal(augmented(d, 2, lut, a, seed), plain(d, 2, lut)) {
				t.Fatal("zero Augment changed the image")
			}
		}
	}
}

func TestAugmentFlip(t *testing.T) {
	d := synthetic(3, 2, 5, 6, 2)
	lut, _ := Normalize{}.luts(2)
	want := plain(d, 1, lut)
	if !slices.Equal(mirror(mirror(want, 2, 5, 6), 2, 5, 6), want) {
		t.Fatal("flipping twice is not the identity")
	}
	var same, flipped int
	for seed := range uint64(200) {
		got := augmented(d, 1, lut, &Augment{HFlip: true}, seed)
		switch {
		case slices.Equal(got, want):
			same++
		case slices.Equal(got, mirror(want, 2, 5, 6)):
			flipped++
		default:
			t.Fatal("HFlip gave neither the image nor its mirror")
		}
	}
	if same < 70 || flipped < 70 {
		t.Fatalf("%d unflipped, %d flipped of 200", same, flipped)
	}
}

func TestAugmentPadCrop(t *testing.T) {
	d := synthetic(2, 1, 8, 8, 2)
	for i := range d.Pixels {
		d.Pixels[i] = uint8(1 + i%200) // no zero pixels: padding is recognisable
	}
	lut, _ := Normalize{}.luts(1)
	src := plain(d, 0, lut)
	const p = 3
	shifts := map[[2]int]bool{}
	for seed := range uint64(300) {
		got := augmented(d, 0, lut, &Augment{PadCrop: p}, seed)
		found := false
		for dy := -p; dy <= p && !found; dy++ {
			for dx := -p; dx <= p && !found; dx++ {
				ok := true
				for y := range 8 {
					for x := range 8 {
						var want float32
						if sy, sx := y+dy, x+dx; sy >= 0 && sy < 8 && sx >= 0 && sx < 8 {
							want = src[sy*8+sx]
						}
						ok = ok && got[y*8+x] == want
					}
				}
				if ok {
					found = true
					shifts[[2]int{dy, dx}] = true
				}
			}
		}
		if !found {
			t.Fatal("PadCrop output is not a shifted, zero-padded copy")
		}
	}
	if len(shifts) < 40 {
		t.Fatalf("only %d of 49 shifts seen", len(shifts))
	}
}

func TestAugmentErasing(t *testing.T) {
	d := synthetic(1, 2, 16, 16, 1)
	for i := range d.Pixels {
		d.Pixels[i] = 200
	}
	lut, _ := Normalize{}.luts(2)
	for seed := range uint64(50) {
		got := augmented(d, 0, lut, &Augment{RandomErasing: 1}, seed)
		zeros := 0
		for _, v := range got[:256] {
			if v == 0 {
				zeros++
			}
		}
		if zeros < 2 || zeros > 256*40/100 || !slices.Equal(got[:256], got[256:]) {
			t.Fatalf("seed %d: %d erased pixels", seed, zeros)
		}
	}
}
