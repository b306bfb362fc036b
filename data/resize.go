package data

import "github.com/vitgo/vit/imageio"

// Resized returns a copy of d with every image resized to height × width
// with Pillow's bilinear filter (antialiased when shrinking), as a model
// fine-tuned at another resolution needs. d itself is unchanged.
func (d *Dataset) Resized(height, width int) *Dataset {
	if height == d.H && width == d.W {
		return d.Subset(allIndices(d.N))
	}
	out := &Dataset{Name: d.Name, N: d.N, C: d.C, H: height, W: width, Classes: d.Classes,
		Labels: append([]int(nil), d.Labels...), Pixels: make([]uint8, d.N*d.C*height*width)}
	src := imageio.NewRGB(d.W, d.H)
	for i := range d.N {
		img := d.Image(i)
		for y := range d.H {
			for x := range d.W {
				for c := range 3 {
					src.Pix[(y*d.W+x)*3+c] = img[(min(c, d.C-1)*d.H+y)*d.W+x]
				}
			}
		}
		dst := imageio.Resize(src, width, height, imageio.Bilinear)
		o := out.Pixels[i*d.C*height*width:]
		for c := range d.C {
			for p := range height * width {
				o[c*height*width+p] = dst.Pix[p*3+c]
			}
		}
	}
	return out
}

func allIndices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
