package safetensors

import (
	"encoding/binary"
	"fmt"
	"github.com/vitgo/vit/internal/half"
	"math"
)

// toFloat32 converts little-endian elements of the given dtype to float32.
// The length of b has already been validated against the dtype size.
func toFloat32(dtype string, b []byte) ([]float32, error) {
	le := binary.LittleEndian
	size := dtypeSizes[dtype]
	out := make([]float32, len(b)/size)
	switch dtype {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = half.ToFloat32(le.Uint16(b[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case "BOOL":
		for i := range out {
			if b[i] != 0 {
				out[i] = 1
			}
		}
	case "U8":
		for i := range out {
			out[i] = float32(b[i])
		}
	case "I8":
		for i := range out {
			out[i] = float32(int8(b[i]))
		}
	case "U16":
		for i := range out {
			out[i] = float32(le.Uint16(b[2*i:]))
		}
	case "I16":
		for i := range out {
			out[i] = float32(int16(le.Uint16(b[2*i:])))
		}
	case "U32":
		for i := range out {
			out[i] = float32(le.Uint32(b[4*i:]))
		}
	case "I32":
		for i := range out {
			out[i] = float32(int32(le.Uint32(b[4*i:])))
		}
	case "U64":
		for i := range out {
			out[i] = float32(le.Uint64(b[8*i:]))
		}
	case "I64":
		for i := range out {
			out[i] = float32(int64(le.Uint64(b[8*i:])))
		}
	default:
		return nil, fmt.Errorf("cannot convert dtype %s to float32", dtype)
	}
	return out, nil
}

// f32ToF16 converts a float32 to IEEE 754 binary16, rounding to nearest
// even. Values too large become ±Inf; NaNs stay NaN (quiet).
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7c00 | 0x200 | uint16(mant>>13)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Result is subnormal or zero. The value is mant24 × 2^(e-38) and
		// the binary16 subnormal unit is 2⁻²⁴, so shift right by 14-e.
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++ // may carry into the smallest normal, which is correct
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf, which is correct
	}
	return sign | uint16(h)
}

// f32ToBF16 converts a float32 to bfloat16, rounding to nearest even.
// NaNs stay NaN (quiet).
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
