package kernels

// Gate is the family of activations x·σ(a(x)) with a(x) = K·x·(1 + C·x²),
// σ the logistic sigmoid:
//
//	QuickGELU (OpenAI CLIP)         K = 1.702,          C = 0
//	GELU, tanh form (SigLIP)        K = 2·√(2/π),       C = 0.044715
//	SiLU (SwiGLU's gate)            K = 1,              C = 0
//
// The tanh form is in it because ½·(1 + tanh u) = σ(2u). Computing all three
// as x / (1 + exp(−a)) with Exp's float32 polynomial keeps them within a few
// float32 ulp of float64 math, and lets one AVX2 loop serve them. K must be
// positive and C non-negative. a is computed from x clamped to ±88/K, and
// −a clamped to [−87.3, 88]: beyond, σ(a) is 0 or 1 in float32 all the
// same, and x² can neither overflow nor, with C = 0, meet 0·∞.
type Gate struct{ K, C float32 }

// The gates of the activations the encoders use.
var (
	QuickGELU = Gate{K: 1.702}
	GELUTanh  = Gate{K: 2 * 0.7978845608028654, C: 0.044715}
	SiLU      = Gate{K: 1}
)

// gateTMax is the largest −a that Exp takes without overflowing 2ⁿ.
const gateTMax = 88

// bound returns 88/K, where |a| ≥ 88 whatever C ≥ 0.
func (g Gate) bound() float32 { return gateTMax / g.K }

// GateForward computes y = x·σ(K·x·(1 + C·x²)) elementwise; y may be x.
// Runs on the worker pool.
func GateForward(y, x []float32, g Gate) {
	ParallelFor(len(x), 16384, func(lo, hi int) { gateSerial(y[lo:hi], x[lo:hi], g) })
}

// GateBackward computes dx = dy·d/dx[x·σ(a)] = dy·(s + x·s·(1−s)·a'), with
// s = σ(a), a' = K·(1 + 3C·x²) and x the forward input. dx may alias dy.
// Runs on the worker pool.
func GateBackward(dx, dy, x []float32, g Gate) {
	ParallelFor(len(x), 16384, func(lo, hi int) { gateBackwardSerial(dx[lo:hi], dy[lo:hi], x[lo:hi], g) })
}

// GateRow is GateForward on the calling goroutine, for callers that
// parallelise over rows themselves.
func GateRow(y, x []float32, g Gate) { gateSerial(y, x, g) }

// GateRowBackward is GateBackward on the calling goroutine.
func GateRowBackward(dx, dy, x []float32, g Gate) { gateBackwardSerial(dx, dy, x, g) }

// gateSerial is GateForward on the calling goroutine; as in geluSerial,
// with the assembly path every value takes it (a last partial group of 8
// through a padded copy), so a value's bits do not depend on the split.
func gateSerial(y, x []float32, g Gate) {
	if !useAVX2Act {
		gateGo(y[:len(x)], x, g)
		return
	}
	n := len(x) &^ 7
	if n > 0 {
		gateAVX2(&y[0], &x[0], n, g.K, g.C, g.bound())
	}
	if tail := len(x) - n; tail > 0 {
		var xb, yb [8]float32
		copy(xb[:], x[n:])
		gateAVX2(&yb[0], &xb[0], 8, g.K, g.C, g.bound())
		copy(y[n:len(x)], yb[:tail])
	}
}

// gateBackwardSerial is GateBackward on the calling goroutine.
func gateBackwardSerial(dx, dy, x []float32, g Gate) {
	if !useAVX2Act {
		gateBackwardGo(dx[:len(x)], dy[:len(x)], x, g)
		return
	}
	n := len(x) &^ 7
	if n > 0 {
		gateBackwardAVX2(&dx[0], &dy[0], &x[0], n, g.K, g.C, g.bound())
	}
	if tail := len(x) - n; tail > 0 {
		var xb, dyb, dxb [8]float32
		copy(xb[:], x[n:])
		copy(dyb[:], dy[n:len(x)])
		gateBackwardAVX2(&dxb[0], &dyb[0], &xb[0], 8, g.K, g.C, g.bound())
		copy(dx[n:len(x)], dxb[:tail])
	}
}

// gateExp returns exp(−a) for a = K·xc·(1 + C·xc²), with xc, also
// returned, x clamped to ±bound and −a to [expMin, gateTMax].
func gateExp(v float32, g Gate) (e, xc float32) {
	b := g.bound()
	xc = min(max(v, -b), b)
	t := (g.C*(xc*xc) + 1) * xc * -g.K
	t = min(max(t, expMin), gateTMax)
	return Exp(t), xc
}

func gateGo(y, x []float32, g Gate) {
	for i, v := range x {
		e, _ := gateExp(v, g)
		y[i] = v / (1 + e)
	}
}

func gateBackwardGo(dx, dy, x []float32, g Gate) {
	for i, v := range x {
		e, xc := gateExp(v, g)
		s := 1 / (1 + e)
		da := g.K * (3*g.C*(xc*xc) + 1)
		dx[i] = dy[i] * (s + xc*(s*(1-s)*da))
	}
}
