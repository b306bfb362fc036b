package nn

import "github.com/vitgo/vit/kernels"

// GELU computes y = x·Φ(x) elementwise with the exact (erf) form used by
// ViT: Φ(x) = (1 + erf(x/√2))/2. x and y: [n] and may be the same slice.
func GELU(y, x []float32) { kernels.Gelu(y, x) }

// GELUBackward computes dx = dy·GELU'(x) with GELU'(x) = Φ(x) + x·φ(x),
// where x is the forward input. dx may alias dy.
func GELUBackward(dx, dy, x []float32) { kernels.GeluBackward(dx, dy, x) }
