// Command pngset writes images of an IDX data set (Fashion-MNIST by
// default) as PNG files into a folder: a real folder of images for
// measuring vit embed, vit predict and the Beam pipeline
// (bench/beam_vs_embed.sh).
//
//	go run ./bench/pngset --out DIR [--n 10000] [--images FILE --labels FILE]
package main

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/vitgo/vit/data"
)

func main() {
	const fm = "/usr/share/datasets/fashion-mnist/"
	out := flag.String("out", "", "folder to write into (created)")
	n := flag.Int("n", 10000, "how many images (the first n)")
	images := flag.String("images", fm+"t10k-images-idx3-ubyte.gz", "IDX images file")
	labels := flag.String("labels", fm+"t10k-labels-idx1-ubyte.gz", "IDX labels file")
	flag.Parse()
	if *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "pngset: --out DIR is required and --n must be at least 1")
		os.Exit(2)
	}
	if err := write(*out, *images, *labels, *n); err != nil {
		fmt.Fprintln(os.Stderr, "pngset:", err)
		os.Exit(1)
	}
}

func write(out, images, labels string, n int) error {
	d, err := data.ReadIDX(images, labels)
	if err != nil {
		return err
	}
	if d.C != 1 {
		return fmt.Errorf("%s: %d channels; pngset writes grey images", images, d.C)
	}
	if n > d.N {
		return fmt.Errorf("--n %d: %s holds %d images", n, images, d.N)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for i := range n {
		f, err := os.Create(filepath.Join(out, fmt.Sprintf("%05d-%d.png", i, d.Labels[i])))
		if err != nil {
			return err
		}
		img := &image.Gray{Pix: d.Image(i), Stride: d.W, Rect: image.Rect(0, 0, d.W, d.H)}
		err = png.Encode(f, img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
