package kernels

import "math"

// LayerNormRows normalises each row of x: [rows, d] into y: [rows, d],
// y = (x − mean)·rstd·g + b with rstd = 1/sqrt(var + eps) (biased
// variance, the mean and variance of the row). g and b: [d]. When mean and
// rstd ([rows]) are not nil they receive each row's statistics for
// LayerNormBackwardRows. Single-threaded: callers split the rows.
func LayerNormRows(y, x, g, b []float32, rows, d int, eps float32, mean, rstd []float32) {
	g, b = g[:d], b[:d]
	for r := 0; r < rows; r++ {
		xr := x[r*d : (r+1)*d]
		yr := y[r*d : (r+1)*d]
		mu := sumF32(xr) / float32(d)
		rs := float32(1 / math.Sqrt(float64(sumSqDevF32(xr, mu)/float32(d)+eps)))
		if mean != nil {
			mean[r], rstd[r] = mu, rs
		}
		n := 0
		if useAVX2Norm {
			n = d &^ 7
			if n > 0 {
				lnApplyAVX2(&yr[0], &xr[0], &g[0], &b[0], n, -mu*rs, rs)
			}
		}
		for j := n; j < d; j++ {
			yr[j] = (xr[j]-mu)*rs*g[j] + b[j]
		}
	}
}

// LayerNormBackwardRows back-propagates dy: [rows, d] through
// LayerNormRows, given its input x, g and the statistics mean and rstd it
// saved. It ADDS the input gradient into dx: [rows, d], and adds Σ dy·x̂
// and Σ dy over the rows into gg and gb: [d] (x̂ = (x − mean)·rstd).
// Single-threaded: callers split the rows, each part with its own gg, gb.
func LayerNormBackwardRows(dx, dy, x, g, mean, rstd []float32, rows, d int, gg, gb []float32) {
	g, gg, gb = g[:d], gg[:d], gb[:d]
	inv := 1 / float32(d)
	for r := 0; r < rows; r++ {
		xr, dyr, dxr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
		mu, rs := mean[r], rstd[r]
		c := -mu * rs // x̂ = x·rs + c
		// dx̂ = dy·g; sumD = Σ dx̂, sumDX = Σ dx̂·x̂.
		var sumD, sumDX float32
		n := 0
		if useAVX2Norm {
			n = d &^ 7
			if n > 0 {
				sumD, sumDX = lnBackwardSumsAVX2(&dyr[0], &xr[0], &g[0], &gg[0], &gb[0], n, c, rs)
			}
		}
		for j := n; j < d; j++ {
			v := dyr[j]
			xh := xr[j]*rs + c
			dh := v * g[j]
			sumD += dh
			sumDX += dh * xh
			gg[j] += v * xh
			gb[j] += v
		}
		// dx += rs·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))
		k1, k2 := -rs*sumD*inv, -rs*sumDX*inv
		n = 0
		if useAVX2Norm {
			n = d &^ 7
			if n > 0 {
				lnBackwardApplyAVX2(&dxr[0], &dyr[0], &xr[0], &g[0], n, c, rs, k1, k2)
			}
		}
		for j := n; j < d; j++ {
			xh := xr[j]*rs + c
			dxr[j] += rs*dyr[j]*g[j] + k1 + k2*xh
		}
	}
}

// sumF32 and sumSqDevF32 are Sum and SumSqDev with the AVX2 path.
func sumF32(x []float32) float32 {
	n := 0
	var s float32
	if useAVX2Norm {
		n = len(x) &^ 7
		if n > 0 {
			s = sumAVX2(&x[0], n)
		}
	}
	return s + Sum(x[n:])
}

func sumSqDevF32(x []float32, mu float32) float32 {
	n := 0
	var s float32
	if useAVX2Norm {
		n = len(x) &^ 7
		if n > 0 {
			s = sumSqDevAVX2(&x[0], n, mu)
		}
	}
	return s + SumSqDev(x[n:], mu)
}
