package viz

import (
	"image/color"
	"math"
	"testing"
)

func TestUpsample(t *testing.T) {
	// A constant map stays constant; a linear ramp stays linear inside.
	m := []float64{1, 1, 1, 1}
	for _, v := range Upsample(m, 2, 2, 7, 9) {
		if math.Abs(v-1) > 1e-12 {
			t.Fatalf("constant upsampled to %v", v)
		}
	}
	ramp := []float64{0, 1, 2, 3}
	u := Upsample(ramp, 1, 4, 1, 8)
	want := []float64{0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3}
	for i := range u {
		if math.Abs(u[i]-want[i]) > 1e-12 {
			t.Fatalf("ramp upsampled to %v, want %v", u, want)
		}
	}
}

func TestViridis(t *testing.T) {
	if Viridis(0) != (color.RGBA{68, 1, 84, 255}) || Viridis(1) != (color.RGBA{253, 231, 37, 255}) || Viridis(math.NaN()) != Viridis(0) {
		t.Fatal("viridis end points")
	}
	// Luminance increases monotonically.
	prev := -1.0
	for i := range 101 {
		c := Viridis(float64(i) / 100)
		l := 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
		if l < prev-0.5 {
			t.Fatalf("luminance drops at %d", i)
		}
		prev = l
	}
}

func TestOverlay(t *testing.T) {
	img := ToImage(make([]uint8, 28*28), 1, 28, 28)
	o := Overlay(img, []float64{0, 1, 0, 0}, 2, 2)
	// 28 px enlarged 8× to 224, three panels with two gaps.
	if o.Bounds().Dx() != 3*224+8 || o.Bounds().Dy() != 224 {
		t.Fatalf("overlay %v", o.Bounds())
	}
}
