package viz

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/draw"

	"github.com/vitgo/vit/internal/atomicfile"
)

// viridis holds 11 evenly spaced stops of matplotlib's viridis colour map,
// perceptually uniform and readable in grey and by colour-blind viewers.
var viridis = [...][3]float64{
	{68, 1, 84}, {72, 36, 117}, {65, 68, 135}, {53, 95, 141}, {42, 120, 142},
	{33, 145, 140}, {34, 168, 132}, {68, 191, 112}, {122, 209, 81}, {189, 223, 38},
	{253, 231, 37},
}

// Viridis maps v in [0, 1] (clamped; NaN counts as 0) to the viridis
// colour map, interpolating linearly between its stops.
func Viridis(v float64) color.RGBA {
	if !(v > 0) {
		v = 0
	}
	v = min(v, 1) * float64(len(viridis)-1)
	i := min(int(v), len(viridis)-2)
	f := v - float64(i)
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(viridis[i][k]*(1-f) + viridis[i+1][k]*f))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

// ToImage turns planar bytes [channels, height, width] (channels 1 or 3)
// into an RGBA image.
func ToImage(pixels []uint8, channels, height, width int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	hw := height * width
	for o := range hw {
		if channels == 3 {
			img.Pix[4*o], img.Pix[4*o+1], img.Pix[4*o+2] = pixels[o], pixels[hw+o], pixels[2*hw+o]
		} else {
			img.Pix[4*o], img.Pix[4*o+1], img.Pix[4*o+2] = pixels[o], pixels[o], pixels[o]
		}
		img.Pix[4*o+3] = 255
	}
	return img
}

// Upsample resizes a map m: [gh, gw], row-major, to height×width by
// bilinear interpolation between cell centres (edges held constant).
func Upsample(m []float64, gh, gw, height, width int) []float64 {
	out := make([]float64, height*width)
	coord := func(p, n, cells int) (int, int, float64) {
		u := (float64(p)+0.5)*float64(cells)/float64(n) - 0.5
		u = max(0, min(u, float64(cells-1)))
		i := min(int(u), cells-1)
		j := min(i+1, cells-1)
		return i, j, u - float64(i)
	}
	for y := range height {
		y0, y1, fy := coord(y, height, gh)
		for x := range width {
			x0, x1, fx := coord(x, width, gw)
			top := m[y0*gw+x0]*(1-fx) + m[y0*gw+x1]*fx
			bot := m[y1*gw+x0]*(1-fx) + m[y1*gw+x1]*fx
			out[y*width+x] = top*(1-fy) + bot*fy
		}
	}
	return out
}

// scaleRange maps values to [0, 1] by (v − lo)/(hi − lo), with lo and hi
// the minimum and maximum of m; a constant map becomes all 0.
func scaleRange(m []float64) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range m {
		lo, hi = min(lo, v), max(hi, v)
	}
	out := make([]float64, len(m))
	if hi > lo {
		for i, v := range m {
			out[i] = (v - lo) / (hi - lo)
		}
	}
	return out
}

// scaleMax maps non-negative values to [0, 1] by dividing by the maximum.
func scaleMax(m []float64) []float64 {
	hi := 0.0
	for _, v := range m {
		hi = max(hi, v)
	}
	out := make([]float64, len(m))
	if hi > 0 {
		for i, v := range m {
			out[i] = max(v, 0) / hi
		}
	}
	return out
}

// HeatMap draws a map m: [gh, gw] as gh·cell × gw·cell pixels of viridis,
// each value v mapped through (v − lo)/(hi − lo).
func HeatMap(m []float64, gh, gw, cell int, lo, hi float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, gw*cell, gh*cell))
	for i := range gh {
		for j := range gw {
			c := Viridis((m[i*gw+j] - lo) / (hi - lo))
			draw.Draw(img, image.Rect(j*cell, i*cell, (j+1)*cell, (i+1)*cell), image.NewUniform(c), image.Point{}, draw.Src)
		}
	}
	return img
}

// displaySize is the side, in pixels, that small images are enlarged to.
const displaySize = 224

// displayScale is the integer enlargement of an image of the given size.
func displayScale(height, width int) int {
	return max(1, displaySize/max(height, width))
}

// Overlay draws the explanation of one image as three panels side by side,
// enlarged to about 224 pixels when smaller: the image, the image weighted
// by the map (the rendering of the paper's Figure 6) and the map as a
// viridis heat map blended over the image. m: [gh, gw] is upsampled
// bilinearly and scaled by its maximum (negative values count as 0).
func Overlay(img image.Image, m []float64, gh, gw int) *image.RGBA {
	b := img.Bounds()
	s := displayScale(b.Dy(), b.Dx())
	h, w := b.Dy()*s, b.Dx()*s
	big := image.NewRGBA(image.Rect(0, 0, w, h))
	if s == 1 {
		draw.Draw(big, big.Bounds(), img, b.Min, draw.Src)
	} else {
		draw.NearestNeighbor.Scale(big, big.Bounds(), img, b, draw.Src, nil)
	}
	heat := scaleMax(Upsample(m, gh, gw, h, w))
	const gap = 4
	out := image.NewRGBA(image.Rect(0, 0, 3*w+2*gap, h))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, big.Bounds(), big, image.Point{}, draw.Src)
	for y := range h {
		for x := range w {
			o := y*big.Stride + 4*x
			v := heat[y*w+x]
			c := Viridis(v)
			for k, cv := range [3]uint8{c.R, c.G, c.B} {
				p := float64(big.Pix[o+k])
				out.Pix[y*out.Stride+4*(w+gap+x)+k] = uint8(math.Round(p * v))
				out.Pix[y*out.Stride+4*(2*w+2*gap+x)+k] = uint8(math.Round(0.45*p + 0.55*float64(cv)))
			}
			out.Pix[y*out.Stride+4*(w+gap+x)+3] = 255
			out.Pix[y*out.Stride+4*(2*w+2*gap+x)+3] = 255
		}
	}
	return out
}

// tileGrid lays out tiles of equal size in a grid of the given columns,
// separated by gap pixels of white.
func tileGrid(tiles []*image.RGBA, cols, gap int) *image.RGBA {
	if len(tiles) == 0 {
		return image.NewRGBA(image.Rect(0, 0, 1, 1))
	}
	tw, th := tiles[0].Bounds().Dx(), tiles[0].Bounds().Dy()
	rows := (len(tiles) + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, cols*tw+(cols+1)*gap, rows*th+(rows+1)*gap))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	for i, t := range tiles {
		x, y := gap+(i%cols)*(tw+gap), gap+(i/cols)*(th+gap)
		draw.Draw(out, image.Rect(x, y, x+tw, y+th), t, t.Bounds().Min, draw.Src)
	}
	return out
}

// FilterImage draws principal components of patch-embedding filters, each
// channels·patch·patch values laid out (channel, row, column), as a grid of
// cols tiles per row: RGB when channels is 3, grey otherwise, each component
// min-max scaled on its own (Figure 7, left).
func FilterImage(components [][]float64, channels, patch, cols int) *image.RGBA {
	cell := max(1, 48/patch)
	var tiles []*image.RGBA
	for _, comp := range components {
		v := scaleRange(comp)
		t := image.NewRGBA(image.Rect(0, 0, patch*cell, patch*cell))
		for r := range patch {
			for c := range patch {
				var col color.RGBA
				if channels == 3 {
					at := func(ch int) uint8 { return uint8(math.Round(255 * v[(ch*patch+r)*patch+c])) }
					col = color.RGBA{at(0), at(1), at(2), 255}
				} else {
					g := uint8(math.Round(255 * v[r*patch+c]))
					col = color.RGBA{g, g, g, 255}
				}
				draw.Draw(t, image.Rect(c*cell, r*cell, (c+1)*cell, (r+1)*cell), image.NewUniform(col), image.Point{}, draw.Src)
			}
		}
		tiles = append(tiles, t)
	}
	return tileGrid(tiles, cols, 3)
}

// SimilarityImage draws a similarity matrix sim: [patch][patch] of a gh×gw
// patch grid as one small heat map per patch, placed at the patch's place in
// the grid: tile (r, c) shows the similarity of patch r·gw+c with every
// patch, on a fixed scale from −1 to 1 (Figure 7, centre).
func SimilarityImage(sim [][]float64, gh, gw int) *image.RGBA {
	cell := max(1, 600/(gh*gw))
	var tiles []*image.RGBA
	for _, row := range sim {
		tiles = append(tiles, HeatMap(row, gh, gw, cell, -1, 1))
	}
	return tileGrid(tiles, gw, max(1, cell/2+1))
}

// MapGrid draws maps, each [gh, gw], as heat maps of about size pixels in a
// grid of cols tiles per row, each scaled by its own maximum.
func MapGrid(maps [][]float64, gh, gw, cols, size int) *image.RGBA {
	cell := max(1, size/max(gh, gw))
	var tiles []*image.RGBA
	for _, m := range maps {
		tiles = append(tiles, HeatMap(scaleMax(m), gh, gw, cell, 0, 1))
	}
	return tileGrid(tiles, cols, 2)
}

// ColorBar draws the viridis scale from left (0) to right (1).
func ColorBar(width, height int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for x := range width {
		c := Viridis(float64(x) / float64(max(1, width-1)))
		for y := range height {
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// EncodePNG returns img as PNG bytes.
func EncodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WritePNG writes img to path as PNG, whole or not at all: the file is
// written under a temporary name, synced and renamed, so a failure leaves
// any earlier file at path as it was.
func WritePNG(path string, img image.Image) error {
	b, err := EncodePNG(img)
	if err != nil {
		return err
	}
	return writeFile(path, b)
}

// writeFile writes b to path atomically (see internal/atomicfile).
func writeFile(path string, b []byte) error {
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// MarkPatch outlines patch (row, col) of a patch grid in red on every panel
// of an Overlay of an image height×width pixels, in place.
func MarkPatch(panel *image.RGBA, height, width, patch, row, col int) {
	s := displayScale(height, width)
	w := width * s
	red := color.RGBA{230, 30, 30, 255}
	for k := range 3 {
		x0, y0 := k*(w+4)+col*patch*s, row*patch*s
		x1, y1 := x0+patch*s-1, y0+patch*s-1
		for t := range max(1, s/4+1) {
			for x := x0; x <= x1; x++ {
				panel.SetRGBA(x, y0+t, red)
				panel.SetRGBA(x, y1-t, red)
			}
			for y := y0; y <= y1; y++ {
				panel.SetRGBA(x0+t, y, red)
				panel.SetRGBA(x1-t, y, red)
			}
		}
	}
}
