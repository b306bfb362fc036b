package nn

import (
	"fmt"
	"math"

	"github.com/vitgo/vit/kernels"
)

// Activate computes y = act(x) elementwise for the activation named kind:
// "gelu" or "" (exact, x·Φ(x)), "gelu_tanh" (the tanh approximation,
// PyTorch's approximate="tanh") or "quick_gelu" (x·σ(1.702x), OpenAI
// CLIP's); the last two are kernels.Gate functions. y may be x. It panics
// on another kind (configs are validated before).
func Activate(kind string, y, x []float32) {
	if g, ok := gate(kind); ok {
		kernels.GateForward(y, x, g)
		return
	}
	GELU(y, x)
}

// ActivateBackward computes dx = dy·act'(x) for Activate's kind, with x
// the forward input. dx may alias dy.
func ActivateBackward(kind string, dx, dy, x []float32) {
	if g, ok := gate(kind); ok {
		kernels.GateBackward(dx, dy, x, g)
		return
	}
	GELUBackward(dx, dy, x)
}

// gate returns the kernels.Gate of an activation kind, or false for the
// exact GELU ("" or "gelu"). It panics on an unknown kind.
func gate(kind string) (kernels.Gate, bool) {
	switch kind {
	case "", "gelu":
		return kernels.Gate{}, false
	case "gelu_tanh":
		return kernels.GELUTanh, true
	case "quick_gelu":
		return kernels.QuickGELU, true
	}
	panic(fmt.Sprintf("nn: unknown activation %q", kind))
}

// epilogue returns the product epilogue that applies kind's activation
// (kernels.Epilogue's GELU steps, with its Gate).
func epilogue(kind string) kernels.Epilogue {
	g, _ := gate(kind)
	return kernels.Epilogue{Gate: g}
}

// SwiGLU computes y = SiLU(x1)⊙x2 for n rows of h = [x1; x2]: [n, 2m],
// y: [n, m] (SiLU(v) = v·σ(v)), the gated MLP of DINOv2 giant (timm's
// SwiGLUPacked, Hugging Face's Dinov2SwiGLUFFN).
func SwiGLU(y, h []float32, n, m int) {
	kernels.ParallelFor(n, max(1, (1<<14)/max(m, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x1, x2, out := h[2*r*m:(2*r+1)*m], h[(2*r+1)*m:(2*r+2)*m], y[r*m:(r+1)*m]
			kernels.GateRow(out, x1, kernels.SiLU)
			for j, v := range x2 {
				out[j] *= v
			}
		}
	})
}

// SwiGLUBackward writes into dh: [n, 2m] the gradient of SwiGLU's input
// h from dy: [n, m]: d1 = dy⊙x2⊙SiLU'(x1), d2 = dy⊙SiLU(x1).
func SwiGLUBackward(dh, dy, h []float32, n, m int) {
	kernels.ParallelFor(n, max(1, (1<<14)/max(m, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x1, x2 := h[2*r*m:(2*r+1)*m], h[(2*r+1)*m:(2*r+2)*m]
			d1, d2, g := dh[2*r*m:(2*r+1)*m], dh[(2*r+1)*m:(2*r+2)*m], dy[r*m:(r+1)*m]
			kernels.GateRow(d2, x1, kernels.SiLU)
			for j, v := range g {
				d1[j] = v * x2[j]
				d2[j] *= v
			}
			kernels.GateRowBackward(d1, d1, x1, kernels.SiLU)
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
