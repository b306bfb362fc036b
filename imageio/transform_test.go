package imageio

import (
	"testing"
)

func TestShortSideSize(t *testing.T) {
	for _, c := range []struct{ w, h, s, nw, nh int }{
		{401, 280, 248, 355, 248}, // int(248*401/280) = int(355.17)
		{280, 401, 248, 248, 355},
		{300, 300, 256, 256, 256},
		{640, 427, 256, 383, 256}, // int(383.70): truncated, not rounded
	} {
		if nw, nh := ShortSideSize(c.w, c.h, c.s); nw != c.nw || nh != c.nh {
			t.Errorf("ShortSideSize(%d, %d, %d) = %d, %d; want %d, %d", c.w, c.h, c.s, nw, nh, c.nw, c.nh)
		}
	}
	tt := TimmTransform{InputSize: Size{224, 224}, CropPct: 0.9}
	if w, h := tt.ScaleSize(401, 280); w != 355 || h != 248 { // floor(224/0.9) = 248
		t.Errorf("ScaleSize = %d, %d", w, h)
	}
	tt.CropPct = 0
	if w, h := tt.ScaleSize(300, 300); w != 256 || h != 256 { // default 0.875
		t.Errorf("ScaleSize default crop_pct = %d, %d", w, h)
	}
}

func TestCenterCropRounding(t *testing.T) {
	src := NewRGB(9, 6)
	for i := range src.Pix {
		src.Pix[i] = uint8(i / 3)
	}
	// torchvision: left = int(round((9-4)/2.0)) = round(2.5) = 2 (half to
	// even), top = round((6-3)/2.0) = round(1.5) = 2.
	c := CenterCrop(src, 4, 3)
	if r, _, _ := c.At(0, 0); r != uint8(2*9+2) {
		t.Errorf("crop origin pixel %d, want %d", r, 2*9+2)
	}
	// Padding when the crop is larger: torchvision pads n//2 left/top.
	p := CenterCrop(src, 12, 6)
	if r, _, _ := p.At(1, 0); r != 0 {
		t.Errorf("padding: %d", r)
	}
	// Width 9 padded to 12: 3//2 = 1 black column on the left, so source
	// column 1 (value 1) lands at x = 2.
	if r, _, _ := p.At(2, 0); r != 1 {
		t.Errorf("padded pixel %d", r)
	}
}

func TestResizeIdentityAndShapes(t *testing.T) {
	src := NewRGB(5, 4)
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	for f := Nearest; f <= Hamming; f++ {
		if got := Resize(src, 5, 4, f); string(got.Pix) != string(src.Pix) {
			t.Errorf("%v: same-size resize changed pixels", f)
		}
		for _, s := range [][2]int{{1, 1}, {1, 9}, {13, 2}, {3, 3}} {
			if got := Resize(src, s[0], s[1], f); got.W != s[0] || got.H != s[1] || len(got.Pix) != s[0]*s[1]*3 {
				t.Errorf("%v: bad shape %dx%d", f, got.W, got.H)
			}
		}
		if name := f.String(); name != "" {
			if g, err := ParseFilter(name); err != nil || g != f {
				t.Errorf("ParseFilter(%q) = %v, %v", name, g, err)
			}
		}
	}
}

func TestToTensorLayout(t *testing.T) {
	src := NewRGB(2, 1)
	copy(src.Pix, []uint8{255, 0, 51, 0, 255, 102})
	x := ToTensor(src, [3]float32{0, 0, 0}, [3]float32{1, 1, 1})
	want := []float32{1, 0, 0, 1, 0.2, 0.4} // [3, 1, 2]
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("ToTensor = %v, want %v", x, want)
		}
	}
	if _, err := (HFProcessor{}).Preprocess(src); err == nil {
		t.Error("zero HFProcessor accepted")
	}
	y, err := ViTProcessor().Preprocess(src)
	if err != nil || len(y) != 3*224*224 {
		t.Fatalf("ViTProcessor: %d values, %v", len(y), err)
	}
	if y[0] != 1 || y[224*224] != -1 { // (1-0.5)/0.5, (0-0.5)/0.5
		t.Errorf("ViTProcessor values %v %v", y[0], y[224*224])
	}
}
