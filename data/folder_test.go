package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func solid(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	writeBytes(t, path, b.Bytes())
}

// makeFolder writes root/<class>/*.png: "red" 3 images, "blue" 2 (one a
// JPEG), of assorted sizes, plus files to ignore.
func makeFolder(t *testing.T, root string) {
	red := color.RGBA{255, 0, 0, 255}
	blue := color.RGBA{0, 0, 255, 255}
	writePNG(t, filepath.Join(root, "red", "a.png"), solid(8, 8, red))
	writePNG(t, filepath.Join(root, "red", "b.PNG"), solid(16, 12, red))
	writePNG(t, filepath.Join(root, "red", "sub", "c.png"), solid(3, 5, red))
	writePNG(t, filepath.Join(root, "blue", "a.png"), solid(8, 8, blue))
	var jb bytes.Buffer
	jpeg.Encode(&jb, solid(20, 20, blue), &jpeg.Options{Quality: 100})
	writeBytes(t, filepath.Join(root, "blue", "b.jpg"), jb.Bytes())
	writeBytes(t, filepath.Join(root, "blue", "notes.txt"), []byte("not an image"))
	writeBytes(t, filepath.Join(root, "blue", ".hidden.png"), []byte("junk"))
	writeBytes(t, filepath.Join(root, "README"), []byte("top-level file"))
}

func TestLoadImageFolder(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root)
	d, err := LoadImageFolder(root, 3, 4, 6)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 5 || d.C != 3 || d.H != 4 || d.W != 6 || strings.Join(d.Classes, ",") != "blue,red" {
		t.Fatalf("got %v %v", d, d.Classes)
	}
	if got := d.Labels; got[0] != 0 || got[1] != 0 || got[2] != 1 || got[4] != 1 {
		t.Fatalf("labels %v", got)
	}
	near := func(a, b uint8) bool { return int(a)+3 >= int(b) && int(b)+3 >= int(a) }
	for i := range d.N {
		img := d.Image(i)
		r, g, b := img[0], img[24], img[48]
		want := [3]uint8{0, 0, 255}
		if d.Labels[i] == 1 {
			want = [3]uint8{255, 0, 0}
		}
		if !near(r, want[0]) || !near(g, want[1]) || !near(b, want[2]) {
			t.Errorf("image %d: rgb %d %d %d, want %v", i, r, g, b, want)
		}
	}
	grey, err := LoadImageFolder(root, 1, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	if grey.C != 1 || grey.Image(2)[100] != 76 || !near(grey.Image(0)[5], 29) {
		t.Errorf("grey: red %d, blue %d", grey.Image(2)[100], grey.Image(0)[5])
	}
	// Automatic size and channels: the first image is the blue 8x8 RGBA.
	auto, err := LoadImageFolder(root, 0, 0, 0)
	if err != nil || auto.C != 3 || auto.H != 8 || auto.W != 8 {
		t.Fatalf("auto: %v %v", auto, err)
	}
}

func TestHostileImageFolder(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root)
	bad := writeBytes(t, filepath.Join(root, "red", "broken.png"), []byte("\x89PNG\r\n\x1a\n garbage"))
	if _, err := LoadImageFolder(root, 1, 8, 8); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt PNG: %v", err)
	}
	os.Remove(bad)
	// A PNG header claiming 100000 x 100000 pixels.
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	hdr := b.Bytes()
	copy(hdr[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	bomb := writeBytes(t, filepath.Join(root, "red", "bomb.png"), hdr)
	if _, err := LoadImageFolder(root, 1, 8, 8); err == nil || !strings.Contains(err.Error(), bomb) {
		t.Fatalf("huge PNG: %v", err)
	}
	if _, err := LoadImageFolder(root, 2, 8, 8); err == nil {
		t.Fatal("2 channels accepted")
	}
	if _, err := LoadImageFolder(t.TempDir(), 1, 8, 8); err == nil || !strings.Contains(err.Error(), "no class") {
		t.Fatalf("empty root: %v", err)
	}
}

func TestOpenFolders(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, filepath.Join(root, "train"))
	writePNG(t, filepath.Join(root, "test", "red", "x.png"), solid(8, 8, color.RGBA{255, 0, 0, 255}))
	train, test, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 5 || test.N != 1 || test.Labels[0] != 1 || test.Classes[1] != "red" || test.H != 8 || test.C != 3 {
		t.Fatalf("train/test: %v, %v %v", train, test, test.Labels)
	}
	single := t.TempDir()
	for _, c := range []string{"x", "y"} {
		for i := range 10 {
			writePNG(t, filepath.Join(single, c, string(rune('a'+i))+".png"), image.NewGray(image.Rect(0, 0, 5, 5)))
		}
	}
	train, test, err = Open(single)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 16 || test.N != 4 || train.C != 1 || test.ClassCounts()[1] != 2 {
		t.Fatalf("split: %v / %v", train, test)
	}
	// Four images of two classes are too few to split: an error now, not
	// an empty test set that fails after training.
	tiny := t.TempDir()
	for _, c := range []string{"x", "y"} {
		for i := range 2 {
			writePNG(t, filepath.Join(tiny, c, string(rune('a'+i))+".png"), image.NewGray(image.Rect(0, 0, 5, 5)))
		}
	}
	if _, _, err := Open(tiny); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Fatalf("a dataset of 4 images split: %v, want an error", err)
	}
}
