package viz

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/vitgo/vit"
)

// PCA is a principal component analysis of a set of vectors.
type PCA struct {
	Mean       []float64   // the mean vector
	Components [][]float64 // unit vectors, by decreasing variance
	Variance   []float64   // the variance along each component
	// Explained is each component's fraction of the total variance; the
	// fractions of the returned components sum to at most 1.
	Explained []float64
}

// PrincipalComponents computes the k leading principal components of the
// rows of x: [rows, cols], row-major: the eigenvectors of the covariance
// (1/rows)·Σ_r (x_r − μ)(x_r − μ)ᵀ with the largest eigenvalues. Each
// component's sign is chosen so that its largest-magnitude entry is
// positive. k is capped at cols.
func PrincipalComponents(x []float32, rows, cols, k int) (*PCA, error) {
	if rows <= 0 || cols <= 0 || len(x) != rows*cols {
		return nil, fmt.Errorf("viz: PCA of %d values as %d×%d", len(x), rows, cols)
	}
	k = min(k, cols)
	mean := make([]float64, cols)
	for r := range rows {
		for j, v := range x[r*cols : (r+1)*cols] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(rows)
	}
	cov := mat.NewSymDense(cols, nil)
	d := make([]float64, cols)
	for r := range rows {
		for j, v := range x[r*cols : (r+1)*cols] {
			d[j] = float64(v) - mean[j]
		}
		cov.SymRankOne(cov, 1/float64(rows), mat.NewVecDense(cols, d))
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return nil, fmt.Errorf("viz: PCA: eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	order := make([]int, cols)
	total := 0.0
	for i := range order {
		order[i] = i
		vals[i] = max(vals[i], 0) // round-off
		total += vals[i]
	}
	sort.SliceStable(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	p := &PCA{Mean: mean}
	for _, o := range order[:k] {
		v := mat.Col(nil, o, &vecs)
		big := 0
		for i := range v {
			if math.Abs(v[i]) > math.Abs(v[big]) {
				big = i
			}
		}
		if v[big] < 0 {
			for i := range v {
				v[i] = -v[i]
			}
		}
		p.Components = append(p.Components, v)
		p.Variance = append(p.Variance, vals[o])
		e := 0.0
		if total > 0 {
			e = vals[o] / total
		}
		p.Explained = append(p.Explained, e)
	}
	return p, nil
}

// EmbeddingPCA returns the k leading principal components of the filters
// that see m's pixels, as in the paper's Figure 7 (left, k = 28): the patch
// embedding's (the rows of PatchEmbed.W, each channels·patch·patch values
// laid out channel, row, column), or in a hybrid the first stem
// convolution's kernels (channels·kernel·kernel values each). See
// PixelFilters.
func EmbeddingPCA(m *vit.Model, k int) (*PCA, error) {
	w, n, side := PixelFilters(m)
	return PrincipalComponents(w, n, m.Config.Channels*side*side, k)
}

// PixelFilters returns the filters of m's first layer, the one that sees
// pixels: w holds n filters of channels·side·side values (channel, row,
// column). That is the patch embedding (side = patch), or the first stem
// convolution of a hybrid (side = its kernel).
func PixelFilters(m *vit.Model) (w []float32, n, side int) {
	if len(m.Stem) > 0 {
		// Stem kernels are channels-last, [out, ky, kx, channel].
		s := m.Stem[0].Conv
		k, in := s.Kernel, s.In
		w = make([]float32, len(s.Dense.W.Data))
		for o := range s.Out {
			for ky := range k {
				for kx := range k {
					for ch := range in {
						w[((o*in+ch)*k+ky)*k+kx] = s.Dense.W.Data[((o*k+ky)*k+kx)*in+ch]
					}
				}
			}
		}
		return w, s.Out, k
	}
	return m.PatchEmbed.W.Data, m.Config.Dim, m.Config.Patch
}

// CosineSimilarity returns the cosine similarity of the n rows of x: [n,
// dim] with one another, [n][n]. A zero row has similarity 0 with every row
// but itself, and 1 with itself.
func CosineSimilarity(x []float32, n, dim int) [][]float64 {
	norm := make([]float64, n)
	for i := range n {
		s := 0.0
		for _, v := range x[i*dim : (i+1)*dim] {
			s += float64(v) * float64(v)
		}
		norm[i] = math.Sqrt(s)
	}
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, n)
	}
	for i := range n {
		out[i][i] = 1
		a := x[i*dim : (i+1)*dim]
		for j := i + 1; j < n; j++ {
			s := 0.0
			for k, v := range x[j*dim : (j+1)*dim] {
				s += float64(a[k]) * float64(v)
			}
			if norm[i] > 0 && norm[j] > 0 {
				s /= norm[i] * norm[j]
			} else {
				s = 0
			}
			s = max(-1, min(1, s))
			out[i][j], out[j][i] = s, s
		}
	}
	return out
}

// PositionSimilarity returns the cosine similarity between the position
// embeddings of every pair of patches of m, [patch][patch], patches in
// row-major grid order, the prefix tokens' embeddings left out (Figure 7,
// centre); nil for a model without per-token position embeddings
// (Config.PosEmbed none or relative).
func PositionSimilarity(m *vit.Model) [][]float64 {
	c := m.Config
	pos := m.PatchPosEmbed()
	if pos == nil {
		return nil
	}
	return CosineSimilarity(pos, c.NumPatches(), c.Dim)
}
