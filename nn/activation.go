package nn

import (
	"fmt"
	"math"

	"github.com/vitgo/vit/kernels"
)

// Activate computes y = act(x) elementwise for the activation named kind:
// "gelu" or "" (exact, x·Φ(x)), "gelu_tanh" (the tanh approximation,
// PyTorch's approximate="tanh") or "quick_gelu" (x·σ(1.702x), OpenAI
// CLIP's). y may be x. It panics on another kind (configs are validated
// before).
func Activate(kind string, y, x []float32) {
	switch kind {
	case "", "gelu":
		GELU(y, x)
	case "gelu_tanh":
		kernels.ParallelFor(len(x), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(x[i])
				y[i] = float32(0.5 * v * (1 + math.Tanh(geluTanhC*(v+0.044715*v*v*v))))
			}
		})
	case "quick_gelu":
		kernels.ParallelFor(len(x), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(x[i])
				y[i] = float32(v * sigmoid(1.702*v))
			}
		})
	default:
		panic(fmt.Sprintf("nn: unknown activation %q", kind))
	}
}

// geluTanhC is √(2/π).
const geluTanhC = 0.7978845608028654

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// ActivateBackward computes dx = dy·act'(x) for Activate's kind, with x
// the forward input. dx may alias dy.
func ActivateBackward(kind string, dx, dy, x []float32) {
	switch kind {
	case "", "gelu":
		GELUBackward(dx, dy, x)
	case "gelu_tanh":
		kernels.ParallelFor(len(x), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(x[i])
				u := geluTanhC * (v + 0.044715*v*v*v)
				t := math.Tanh(u)
				du := geluTanhC * (1 + 3*0.044715*v*v)
				dx[i] = dy[i] * float32(0.5*(1+t)+0.5*v*(1-t*t)*du)
			}
		})
	case "quick_gelu":
		kernels.ParallelFor(len(x), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(x[i])
				s := sigmoid(1.702 * v)
				dx[i] = dy[i] * float32(s+1.702*v*s*(1-s))
			}
		})
	default:
		panic(fmt.Sprintf("nn: unknown activation %q", kind))
	}
}

// SwiGLU computes y = SiLU(x1)⊙x2 for n rows of h = [x1; x2]: [n, 2m],
// y: [n, m] (SiLU(v) = v·σ(v)), the gated MLP of DINOv2 giant (timm's
// SwiGLUPacked, Hugging Face's Dinov2SwiGLUFFN).
func SwiGLU(y, h []float32, n, m int) {
	kernels.ParallelFor(n, max(1, (1<<14)/max(m, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x1, x2, out := h[2*r*m:(2*r+1)*m], h[(2*r+1)*m:(2*r+2)*m], y[r*m:(r+1)*m]
			for j, v := range x1 {
				out[j] = float32(float64(v)*sigmoid(float64(v))) * x2[j]
			}
		}
	})
}

// SwiGLUBackward writes into dh: [n, 2m] the gradient of SwiGLU's input
// h from dy: [n, m].
func SwiGLUBackward(dh, dy, h []float32, n, m int) {
	kernels.ParallelFor(n, max(1, (1<<14)/max(m, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x1, x2 := h[2*r*m:(2*r+1)*m], h[(2*r+1)*m:(2*r+2)*m]
			d1, d2, g := dh[2*r*m:(2*r+1)*m], dh[(2*r+1)*m:(2*r+2)*m], dy[r*m:(r+1)*m]
			for j, v := range x1 {
				s := sigmoid(float64(v))
				silu := float64(v) * s
				d1[j] = g[j] * x2[j] * float32(s*(1+float64(v)*(1-s)))
				d2[j] = g[j] * float32(silu)
			}
		}
	})
}

// Tanh computes y = tanh(x) elementwise; y may be x.
func Tanh(y, x []float32) {
	for i, v := range x {
		y[i] = float32(math.Tanh(float64(v)))
	}
}

// TanhBackward computes dx = dy·(1 − y²) from Tanh's output y; dx may
// alias dy.
func TanhBackward(dx, dy, y []float32) {
	for i, v := range y {
		dx[i] = dy[i] * (1 - v*v)
	}
}
