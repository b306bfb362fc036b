package kernels

import "math"

// Float32 elementary functions, accurate to a few ulp and much faster than
// the float64 ones in package math for the millions of calls a training
// step makes (GELU, softmax).

const (
	log2e  = 1.44269504088896341
	ln2Hi  = 0.693359375
	ln2Lo  = -2.12194440e-4
	expMax = 88.72283
	expMin = -87.33654
)

// roundMagic is 1.5·2²³: adding and subtracting it rounds a float32 of
// magnitude below 2²² to the nearest integer, without a branch or a call.
const roundMagic = 12582912

// Exp returns e**x in float32 (Cephes' expf: range reduction by ln 2, a
// degree-6 polynomial, scaling by 2**n through the exponent bits).
// Relative error below 3e-7 over the normal range; 0 below about −87.3.
func Exp(x float32) float32 {
	if x > expMax {
		return float32(math.Inf(1))
	}
	if x < expMin {
		return 0
	}
	n := (x*log2e + roundMagic) - roundMagic
	r := x - n*ln2Hi - n*ln2Lo
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// Erf returns the error function of x in float32: a rational function of
// degree 13/8, x·P(x²)/Q(x²), on x clamped to [−4, 4] (beyond which erf is
// ±1 in float32), the approximation Eigen and XLA use for float32. Absolute
// error below 5e-7 (a few float32 ulp).
func Erf(x float32) float32 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	q := x2*-1.45660718464996e-05 + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	p *= x
	return p / q
}
