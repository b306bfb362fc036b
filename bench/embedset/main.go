// Command embedset writes what the vit embed benchmark runs on: a model
// folder with random weights of a preset at 224×224 (OUT/model) and a
// folder of distinct JPEG photos (OUT/images/NNNNNN.jpg), each a shifted,
// brightened crop of a photo (by default imageio's testdata cat, 401×280),
// so that every file is decoded, resized and cropped as a real photo is.
//
//	go run ./bench/embedset -preset Ti/16 -images 2000 -out /tmp/embedbench
//
// Then, on a quiet machine (see BENCHMARKS.md, "Batch embedding"):
//
//	vit bench --model Ti/16 --batch 16
//	time vit embed --model /tmp/embedbench/model --out /tmp/embedbench/out /tmp/embedbench/images --quiet
package main

import (
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/imageio"
)

func main() {
	preset := flag.String("preset", "Ti/16", "model preset at 224×224 (Ti/16, S/16, B/16)")
	classes := flag.Int("classes", 1000, "classes of the model's head")
	n := flag.Int("images", 2000, "how many photos to write")
	photo := flag.String("photo", "imageio/testdata/in/chelsea.png", "the photo the images are cut from")
	out := flag.String("out", "", "folder to write model/ and images/ into")
	flag.Parse()
	if *out == "" || *n < 1 || *classes < 1 {
		fmt.Fprintln(os.Stderr, "embedset: give -out FOLDER, -images ≥ 1 and -classes ≥ 1")
		os.Exit(2)
	}
	if err := write(*out, *preset, *classes, *n, *photo); err != nil {
		fmt.Fprintln(os.Stderr, "embedset:", err)
		os.Exit(1)
	}
}

func write(out, preset string, classes, n int, photo string) error {
	c, err := vit.Preset(preset, 224, 3, classes)
	if err != nil {
		return err
	}
	m, err := vit.New(c, 1)
	if err != nil {
		return err
	}
	if err := checkpoint.Save(filepath.Join(out, "model"), m); err != nil {
		return err
	}
	src, err := imageio.Load(photo)
	if err != nil {
		return err
	}
	img := src.Image()
	b := img.Bounds()
	dir := filepath.Join(out, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w, h := b.Dx()*7/8, b.Dy()*7/8
	for i := range n {
		// A w×h window moved over the photo, brightened by i mod 32 levels.
		x0, y0 := i%(b.Dx()-w+1), (i/7)%(b.Dy()-h+1)
		crop := image.NewRGBA(image.Rect(0, 0, w, h))
		lift := uint8(i % 32)
		for y := range h {
			for x := range w {
				p := img.RGBAAt(b.Min.X+x0+x, b.Min.Y+y0+y)
				p.R, p.G, p.B = sat(p.R, lift), sat(p.G, lift), sat(p.B, lift)
				crop.SetRGBA(x, y, p)
			}
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%06d.jpg", i)))
		if err != nil {
			return err
		}
		err = jpeg.Encode(f, crop, &jpeg.Options{Quality: 90})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	fmt.Printf("%s: model %s at 224×224 (random weights), %d JPEG photos of %d×%d in %s\n", out, preset, n, w, h, dir)
	return nil
}

// sat adds d to v, saturating at 255.
func sat(v, d uint8) uint8 { return uint8(min(int(v)+int(d), 255)) }
