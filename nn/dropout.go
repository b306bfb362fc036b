package nn

import "math/rand/v2"

// DropoutMask fills mask with 0 (probability rate) or 1/(1−rate), drawing
// from rng. Multiplying activations by the mask is inverted dropout: the
// expected value is unchanged and inference needs no rescaling.
func DropoutMask(mask []float32, rate float32, rng *rand.Rand) {
	keep := 1 - rate
	inv := 1 / keep
	for i := range mask {
		if rng.Float32() < keep {
			mask[i] = inv
		} else {
			mask[i] = 0
		}
	}
}

// Mul multiplies x by m elementwise, in place.
func Mul(x, m []float32) {
	for i, v := range m {
		x[i] *= v
	}
}
