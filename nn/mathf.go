package nn

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
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2Hi - n*ln2Lo
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// Erf returns the error function of x in float32 (Abramowitz and Stegun
// 7.1.26; absolute error below 1.5e-7 plus float32 rounding).
func Erf(x float32) float32 {
	sign := float32(1)
	if x < 0 {
		sign, x = -1, -x
	}
	if x > 9 {
		return sign
	}
	t := 1 / (1 + 0.3275911*x)
	p := ((((1.061405429*t-1.453152027)*t+1.421413741)*t-0.284496736)*t + 0.254829592) * t
	return sign * (1 - p*Exp(-x*x))
}
