package viz

import (
	"fmt"
	"math"

	"github.com/vitgo/vit"
)

// DistanceFormula states how MeanDistance is computed; the report carries it.
const DistanceFormula = "d(layer, head) = mean over images and query patches i of " +
	"Σ_j a_ij·‖c_i − c_j‖ / Σ_j a_ij, where j runs over the patch keys only " +
	"(the class-token column is dropped and each row re-normalised over the patches; " +
	"the class token is not a query either), a_ij is the attention probability of query i on key j, " +
	"and c_i = patch·(column_i + ½, row_i + ½) is the centre of patch i in pixels"

// patchDistances returns ‖c_i − c_j‖ in pixels for every pair of patches.
func patchDistances(g Grid) []float64 {
	n := g.Patches()
	d := make([]float64, n*n)
	for i := range n {
		for j := range n {
			dy, dx := float64(i/g.W-j/g.W), float64(i%g.W-j%g.W)
			d[i*n+j] = float64(g.Patch) * math.Hypot(dx, dy)
		}
	}
	return d
}

// UniformDistance is the mean attention distance, in pixels, of attention
// spread evenly over the patches of grid g: the mean over query patches i
// of the mean of ‖c_i − c_j‖ over all patches j (see DistanceFormula). A
// head far below it attends locally; one near it, as far as a head that
// ignores position.
func UniformDistance(g Grid) float64 {
	n := g.Patches()
	var s float64
	for _, d := range patchDistances(g) {
		s += d
	}
	return s / float64(n*n)
}

// MeanDistance returns the mean attention distance in pixels of each head,
// averaged over the images and query patches of one layer's probabilities
// att: [batch, heads, tokens, tokens] (see DistanceFormula). A query row
// that gives no weight to any patch is skipped.
func MeanDistance(att []float32, batch, heads int, g Grid) ([]float64, error) {
	sum, count, err := distanceSums(att, batch, heads, g, nil)
	if err != nil {
		return nil, err
	}
	for h := range sum {
		if count[h] > 0 {
			sum[h] /= float64(count[h])
		}
	}
	return sum, nil
}

// distanceSums returns, per head, the sum of d_i over images and queries
// and the number of terms. dist may be nil.
func distanceSums(att []float32, batch, heads int, g Grid, dist []float64) (sum []float64, count []int, err error) {
	t, n, f := g.Tokens(), g.Patches(), g.first()
	if len(att) != batch*heads*t*t {
		return nil, nil, fmt.Errorf("viz: %d attention values, want %d images × %d heads × %d × %d", len(att), batch, heads, t, t)
	}
	if dist == nil {
		dist = patchDistances(g)
	}
	sum, count = make([]float64, heads), make([]int, heads)
	for b := range batch {
		for h := range heads {
			m := att[(b*heads+h)*t*t:]
			for i := range n {
				row := m[(f+i)*t+f : (f+i)*t+f+n]
				di := dist[i*n : (i+1)*n]
				var w, s float64
				for j, a := range row {
					w += float64(a)
					s += float64(a) * di[j]
				}
				if w > 0 {
					sum[h] += s / w
					count[h]++
				}
			}
		}
	}
	return sum, count, nil
}

// MeanAttentionDistance runs m on n images x: [n, channels, height, width],
// normalised, and returns the mean attention distance in pixels of every
// head of every layer, [layer][head], averaged over the images. Images are
// processed in chunks small enough to keep the attention maps of all layers
// within about 256 MB. progress, if not nil, is called after each chunk with
// the images done so far.
func MeanAttentionDistance(m *vit.Model, x []float32, n int, progress func(done int)) ([][]float64, error) {
	c := m.Config
	g := GridOf(c)
	t := g.Tokens()
	size := c.Channels * c.ImageHeight * c.ImageWidth
	if n <= 0 || len(x) != n*size {
		return nil, fmt.Errorf("viz: %d input values for %d images of %d values", len(x), n, size)
	}
	chunk := max(1, min(32, (64<<20)/(c.Depth*c.Heads*t*t)))
	layers := make([]int, c.Depth)
	for l := range layers {
		layers[l] = l
	}
	dist := patchDistances(g)
	sum := make([][]float64, c.Depth)
	count := make([][]int, c.Depth)
	for l := range sum {
		sum[l], count[l] = make([]float64, c.Heads), make([]int, c.Heads)
	}
	for s := 0; s < n; s += chunk {
		b := min(chunk, n-s)
		probs, _, err := m.Attention(x[s*size:(s+b)*size], b, layers)
		if err != nil {
			return nil, err
		}
		for l := range c.Depth {
			ls, lc, err := distanceSums(probs[l], b, c.Heads, g, dist)
			if err != nil {
				return nil, err
			}
			for h := range ls {
				sum[l][h] += ls[h]
				count[l][h] += lc[h]
			}
		}
		if progress != nil {
			progress(s + b)
		}
	}
	for l := range sum {
		for h := range sum[l] {
			if count[l][h] > 0 {
				sum[l][h] /= float64(count[l][h])
			}
		}
	}
	return sum, nil
}

// LayerDistance summarises one layer's mean attention distances, in pixels.
type LayerDistance struct {
	Mean float64 `json:"mean"` // over the layer's heads
	Min  float64 `json:"min"`  // the most local head
	Max  float64 `json:"max"`  // the farthest-reaching head
}

// DistanceByLayer summarises d: [layer][head] (MeanAttentionDistance) per
// layer.
func DistanceByLayer(d [][]float64) []LayerDistance {
	out := make([]LayerDistance, len(d))
	for l, heads := range d {
		if len(heads) == 0 {
			continue
		}
		s := LayerDistance{Min: math.Inf(1), Max: math.Inf(-1)}
		for _, v := range heads {
			s.Mean += v / float64(len(heads))
			s.Min, s.Max = min(s.Min, v), max(s.Max, v)
		}
		out[l] = s
	}
	return out
}

// DistanceGrowth is the slope, in pixels per layer, of the least-squares
// line through every head's mean attention distance d: [layer][head]
// against its layer's depth (1, 2, ...): positive when attention reaches
// farther in deeper layers, as in the paper's Figure 7. It is 0 for fewer
// than two layers.
func DistanceGrowth(d [][]float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for l, heads := range d {
		x := float64(l + 1)
		for _, y := range heads {
			n++
			sx += x
			sy += y
			sxx += x * x
			sxy += x * y
		}
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}
