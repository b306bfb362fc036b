// Package half converts IEEE 754 binary16 (half-precision) values, as
// stored in safetensors F16 tensors and NumPy '<f2' arrays.
package half

import "math"

// ToFloat32 converts a binary16 value to float32 exactly (every binary16,
// subnormals, infinities and NaNs included, is a float32).
func ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant × 2⁻²⁴
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
