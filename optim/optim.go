// Package optim updates parameters from their gradients: AdamW (the paper's
// pre-training optimizer, with decoupled weight decay), SGD with momentum
// (its fine-tuning optimizer), learning-rate schedules and gradient clipping.
package optim

import (
	"fmt"
	"math"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// Optimizer applies one update to params with learning rate lr. Frozen
// parameters are skipped; NoDecay ones get no weight decay.
type Optimizer interface {
	Step(params []*nn.Param, lr float32)
	// State returns the optimizer's moment buffers, named after the
	// parameters (e.g. "exp_avg/blocks.0.attn.qkv.weight"), and its step count,
	// for checkpoints; SetState restores them.
	State(params []*nn.Param) (tensors map[string][]float32, step int)
	SetState(params []*nn.Param, tensors map[string][]float32, step int) error
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter 2019):
// θ ← θ − lr·(m̂/(√v̂ + ε) + λ·θ).
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float32
	step                           int
	m, v                           [][]float32
}

// NewAdamW returns AdamW with β = (0.9, 0.999), ε = 1e-8 and the given decay.
func NewAdamW(weightDecay float32) *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

func (o *AdamW) init(params []*nn.Param) {
	if o.m == nil {
		for _, p := range params {
			o.m = append(o.m, make([]float32, p.Size()))
			o.v = append(o.v, make([]float32, p.Size()))
		}
	}
}

// Step implements Optimizer.
func (o *AdamW) Step(params []*nn.Param, lr float32) {
	o.init(params)
	o.step++
	b1, b2 := o.Beta1, o.Beta2
	c1 := 1 - float32(math.Pow(float64(b1), float64(o.step)))
	c2 := 1 - float32(math.Pow(float64(b2), float64(o.step)))
	stepSize := lr / c1
	rc2 := 1 / float32(math.Sqrt(float64(c2)))
	for i, p := range params {
		if p.Frozen {
			continue
		}
		decay := float32(1)
		if !p.NoDecay {
			decay = 1 - lr*o.WeightDecay
		}
		m, v, w, g := o.m[i], o.v[i], p.Data, p.Grad
		kernels.ParallelFor(len(w), 1<<15, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				gj := g[j]
				mj := b1*m[j] + (1-b1)*gj
				vj := b2*v[j] + (1-b2)*gj*gj
				m[j], v[j] = mj, vj
				denom := float32(math.Sqrt(float64(vj)))*rc2 + o.Eps
				w[j] = w[j]*decay - stepSize*mj/denom
			}
		})
	}
}

// State implements Optimizer.
func (o *AdamW) State(params []*nn.Param) (map[string][]float32, int) {
	o.init(params)
	t := map[string][]float32{}
	for i, p := range params {
		t["exp_avg/"+p.Name] = o.m[i]
		t["exp_avg_sq/"+p.Name] = o.v[i]
	}
	return t, o.step
}

// SetState implements Optimizer.
func (o *AdamW) SetState(params []*nn.Param, t map[string][]float32, step int) error {
	o.init(params)
	for i, p := range params {
		if err := restore(o.m[i], t, "exp_avg/"+p.Name); err != nil {
			return err
		}
		if err := restore(o.v[i], t, "exp_avg_sq/"+p.Name); err != nil {
			return err
		}
	}
	o.step = step
	return nil
}

func restore(dst []float32, t map[string][]float32, name string) error {
	src, ok := t[name]
	if !ok {
		return fmt.Errorf("optimizer state has no tensor %q", name)
	}
	if len(src) != len(dst) {
		return fmt.Errorf("optimizer state tensor %q has %d values, the model needs %d", name, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

// SGD is stochastic gradient descent with (heavy-ball) momentum, as PyTorch
// defines it: b ← μ·b + g + λ·θ; θ ← θ − lr·b.
type SGD struct {
	Momentum, WeightDecay float32
	step                  int
	buf                   [][]float32
}

// Step implements Optimizer.
func (o *SGD) Step(params []*nn.Param, lr float32) {
	if o.buf == nil {
		for _, p := range params {
			o.buf = append(o.buf, make([]float32, p.Size()))
		}
	}
	o.step++
	for i, p := range params {
		if p.Frozen {
			continue
		}
		wd := o.WeightDecay
		if p.NoDecay {
			wd = 0
		}
		b, w, g := o.buf[i], p.Data, p.Grad
		for j := range w {
			b[j] = o.Momentum*b[j] + g[j] + wd*w[j]
			w[j] -= lr * b[j]
		}
	}
}

// State implements Optimizer.
func (o *SGD) State(params []*nn.Param) (map[string][]float32, int) {
	t := map[string][]float32{}
	for i, p := range params {
		if o.buf != nil {
			t["momentum/"+p.Name] = o.buf[i]
		}
	}
	return t, o.step
}

// SetState implements Optimizer.
func (o *SGD) SetState(params []*nn.Param, t map[string][]float32, step int) error {
	o.step = step
	if len(t) == 0 {
		return nil
	}
	o.buf = nil
	for _, p := range params {
		b := make([]float32, p.Size())
		if err := restore(b, t, "momentum/"+p.Name); err != nil {
			return err
		}
		o.buf = append(o.buf, b)
	}
	return nil
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most
// maxNorm (no-op when maxNorm ≤ 0) and returns the norm before clipping.
func ClipGradNorm(params []*nn.Param, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if p.Frozen {
			continue
		}
		for _, g := range p.Grad {
			ss += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(ss)
	if maxNorm > 0 && norm > maxNorm {
		s := float32(maxNorm / (norm + 1e-6))
		for _, p := range params {
			for j := range p.Grad {
				p.Grad[j] *= s
			}
		}
	}
	return norm
}

// WarmupCosine is a learning-rate schedule: linear warm-up from 0 to Base over
// Warmup steps, then cosine decay to Min at Total steps.
type WarmupCosine struct {
	Base, Min     float32
	Warmup, Total int
}

// LR returns the learning rate for step (0-based).
func (s WarmupCosine) LR(step int) float32 {
	if step < s.Warmup {
		return s.Base * float32(step+1) / float32(s.Warmup)
	}
	if step >= s.Total {
		return s.Min
	}
	p := float64(step-s.Warmup) / float64(max(1, s.Total-s.Warmup))
	return s.Min + (s.Base-s.Min)*float32(0.5*(1+math.Cos(math.Pi*p)))
}
