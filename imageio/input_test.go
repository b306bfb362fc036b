package imageio

import (
	"math"
	"strings"
	"testing"
)

// flat returns a w×h image of one colour.
func flat(w, h int, r, g, b uint8) *RGB {
	img := NewRGB(w, h)
	for i := 0; i < len(img.Pix); i += 3 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2] = r, g, b
	}
	return img
}

func TestInputPlanarNormalize(t *testing.T) {
	in := Input{Size: Size{H: 16, W: 12}, Channels: 3, Mean: []float32{0.5}, Std: []float32{0.25}}
	px, err := in.Planar(flat(24, 32, 200, 100, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(px) != 3*16*12 || px[0] != 200 || px[16*12] != 100 || px[2*16*12] != 0 {
		t.Fatalf("planar pixels: len %d, %d %d %d", len(px), px[0], px[16*12], px[2*16*12])
	}
	x := in.Normalize(px)
	if math.Abs(float64(x[0])-(200.0/255-0.5)/0.25) > 1e-6 || math.Abs(float64(x[2*16*12])-(0-0.5)/0.25) > 1e-6 {
		t.Fatalf("normalised %v, %v", x[0], x[2*16*12])
	}

	// Grey models get Pillow's "L": (200·19595 + 100·38470 + 0 + 2¹⁵) >> 16 = 118.
	in.Channels = 1
	src := flat(24, 32, 200, 100, 0)
	px, err = in.Planar(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(px) != 16*12 || px[0] != 118 {
		t.Fatalf("grey %d, len %d", px[0], len(px))
	}
	if src.Pix[0] != 200 {
		t.Fatal("Planar changed its argument")
	}
}

// Tensor is Planar followed by Normalize, up to the float rounding of the
// Hugging Face rescale (p·(1/255) in float64, then float32).
func TestInputTensor(t *testing.T) {
	for _, in := range []Input{
		{Size: Size{H: 8, W: 8}, Channels: 3, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}},
		{Size: Size{H: 8, W: 8}, Channels: 3, Resample: "bicubic", CropPct: 0.875, Mean: []float32{0.5}, Std: []float32{0.5}},
		{Size: Size{H: 6, W: 6}, Channels: 1},
	} {
		src := NewRGB(20, 13)
		for i := range src.Pix {
			src.Pix[i] = uint8(i * 7)
		}
		p, err := in.Preprocessor()
		if err != nil {
			t.Fatal(err)
		}
		x, err := in.Tensor(src, p)
		if err != nil {
			t.Fatal(err)
		}
		px, _ := in.Planar(src)
		want := in.Normalize(px)
		if len(x) != len(want) {
			t.Fatalf("%+v: len %d, want %d", in, len(x), len(want))
		}
		for i := range x {
			if math.Abs(float64(x[i]-want[i])) > 1e-6 {
				t.Fatalf("%+v: x[%d] = %v, want %v", in, i, x[i], want[i])
			}
		}
		if src.Pix[1] != 7 {
			t.Fatal("Tensor changed its argument")
		}
	}
}

func TestInputBadConfig(t *testing.T) {
	for _, in := range []Input{
		{Size: Size{H: 8, W: 8}, Channels: 2},
		{Size: Size{H: 0, W: 8}, Channels: 3},
		{Size: Size{H: 8, W: 8}, Channels: 3, Resample: "sharpest"},
	} {
		if _, err := in.Preprocessor(); err == nil {
			t.Errorf("%+v: no error", in)
		}
	}
}

func TestMisfit(t *testing.T) {
	mnist := Input{Size: Size{H: 28, W: 28}, Channels: 1}
	imagenet := Input{Size: Size{H: 224, W: 224}, Channels: 3}
	for _, c := range []struct {
		in   Input
		img  *RGB
		want []string // substrings; none for a fit
	}{
		{mnist, flat(28, 28, 9, 9, 9), nil},
		{mnist, flat(40, 50, 9, 9, 9), nil}, // less than 2× down
		{mnist, flat(640, 480, 9, 9, 9), []string{"640x480 image shrunk"}},
		{mnist, flat(28, 28, 200, 10, 10), []string{"colour image"}},
		{mnist, flat(640, 480, 200, 10, 10), []string{"colour image", "shrunk"}},
		{imagenet, flat(4000, 3000, 200, 10, 10), nil}, // photos are what it takes
		{imagenet, flat(28, 28, 9, 9, 9), []string{"28x28 image enlarged"}},
	} {
		got := c.in.Misfit(c.img)
		if (got == "") != (c.want == nil) {
			t.Errorf("%dx%d into %v: Misfit %q", c.img.W, c.img.H, c.in.Size, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%dx%d into %v: Misfit %q, want it to say %q", c.img.W, c.img.H, c.in.Size, got, w)
			}
		}
	}
	if !flat(3, 3, 5, 5, 5).IsGrey() || flat(3, 3, 5, 6, 5).IsGrey() {
		t.Fatal("IsGrey")
	}
}
