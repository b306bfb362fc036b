package train

import (
	"fmt"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// Gradients computes the loss of a batch and its gradient with respect to
// a model's parameters by data parallelism: the batch is split among
// replicas of the model (vit.Model.Replica) that run at the same time, each
// on its own core with kernels that do not split their work further
// (kernels.Partition), and the replicas' gradients are summed in a fixed
// order. With one replica the model computes the whole batch and its
// matrix products split their work among the cores instead.
//
// On two cores (BenchmarkReplicas: alternating runs, median of 30) the
// quick recipe's hybrid (width 64, batch 64) computes 4-12% faster with two
// replicas than with one, and the reference small ViT (width 128, batch
// 128) at the same speed: its products are large enough to split well. Replicas never wait on each
// other inside a step, so they suit machines with more cores than a small
// product can keep busy.
//
// The result depends on the number of replicas (each sums its images'
// gradients, then the replicas' sums are added), never on scheduling. With
// two or more replicas it does not depend on the number of cores either:
// each replica's kernels run on one core. With one replica it does, in the
// last bits: the matrix products and column sums then split their sums
// among kernels.Workers cores. DefaultReplicas, which Options.Replicas 0
// selects, follows the core count, so a run that must compute the same on
// machines with different numbers of cores sets Replicas to 2 or more
// (TestGradientsCoreCount). A Gradients belongs to one goroutine at a time.
type Gradients struct {
	models  []vit.Network // models[0] is the model itself
	params  [][]*nn.Param
	ws      []vit.Pass
	dlogits [][]float32
	loss    []float64
	correct []int
	errs    []error
	part    func(r int)      // runPart, made once
	sumPart func(lo, hi int) // sumRange, made once

	// the batch being computed
	x      []float32
	t      Targets
	others []int // partners' labels of a mixed batch
	seed   uint64
	step   uint64
}

// Targets is what a batch is trained toward: its labels, smoothed, and for
// a batch mixed by data.Mix the weight of each image's own label.
type Targets struct {
	Labels    []int   // [n] class labels
	Smoothing float32 // label smoothing ε
	// Mixed says the batch was mixed (data.Mix.Apply): image i's target is
	// then Lambda·t(Labels[i]) + (1−Lambda)·t(Labels[n−1−i]).
	Mixed  bool
	Lambda float32
}

// DefaultReplicas is the number of replicas NewGradients uses when given
// none: one per core (kernels.Workers), but at least 8 images of a batch
// per replica, and no more replicas than keep their extra gradients under
// 1 GiB together.
func DefaultReplicas(m vit.Network, batch int) int {
	r := min(kernels.Workers, batch/8)
	r = min(r, int((1<<30)/(4*max(1, m.NumParams()))))
	return max(1, r)
}

// NewGradients prepares replicas replicas of m (DefaultReplicas when
// replicas ≤ 0) for batches of up to batch images, each with a training
// workspace for its share. Make it after any change to m's structure
// (SetAttention, ResetHead, FreezeBody).
func NewGradients(m vit.Network, batch, replicas int) *Gradients {
	if replicas <= 0 {
		replicas = DefaultReplicas(m, batch)
	}
	replicas = max(1, min(replicas, batch))
	g := &Gradients{
		loss:    make([]float64, replicas),
		others:  make([]int, 0, batch),
		correct: make([]int, replicas),
		errs:    make([]error, replicas),
	}
	share := (batch + replicas - 1) / replicas
	for r := range replicas {
		rm := m
		if r > 0 {
			rm = m.ReplicaNetwork()
		}
		g.models = append(g.models, rm)
		g.params = append(g.params, rm.Params())
		g.ws = append(g.ws, rm.NewPass(share, true))
		g.dlogits = append(g.dlogits, make([]float32, share*m.Spec().Classes))
	}
	g.part, g.sumPart = g.runPart, g.sumRange
	return g
}

// Replicas is the number of replicas, the model itself included.
func (g *Gradients) Replicas() int { return len(g.models) }

// Compute sets the gradient (every parameter's Grad) of the model to that
// of the mean cross-entropy loss over the images x: [n, channels, height,
// width] against the targets t (nn.MixedCrossEntropy), and returns that
// loss and how many images the model classified as their own label.
// Dropout and stochastic depth draw from (seed, step), and the replica's
// index.
func (g *Gradients) Compute(x []float32, t Targets, seed, step uint64) (loss float64, correct int, err error) {
	n := len(t.Labels)
	if max := g.ws[0].Batch() * len(g.models); n > max {
		return 0, 0, fmt.Errorf("train: a batch of %d images for gradients sized for %d", n, max)
	}
	g.x, g.t, g.seed, g.step = x, t, seed, step
	g.others = g.others[:0]
	if t.Mixed {
		for i := range n {
			g.others = append(g.others, t.Labels[n-1-i])
		}
	}
	if len(g.models) == 1 {
		g.runPart(0)
	} else {
		kernels.Partition(len(g.models), g.part)
	}
	g.x, g.t.Labels = nil, nil
	for r := range g.models {
		if g.errs[r] != nil {
			return 0, 0, g.errs[r]
		}
		loss += g.loss[r]
		correct += g.correct[r]
	}
	if len(g.models) > 1 {
		g.sum()
	}
	return loss, correct, nil
}

// runPart computes replica r's share of the batch: its loss (weighted by
// its share of the images) and its gradient, which it writes into its own
// Grad, scaled to the mean over the whole batch.
func (g *Gradients) runPart(r int) {
	n, reps := len(g.t.Labels), len(g.models)
	lo, hi := n*r/reps, n*(r+1)/reps
	g.loss[r], g.correct[r], g.errs[r] = 0, 0, nil
	m := g.models[r]
	m.ZeroGrad()
	if lo == hi {
		return
	}
	c := m.Spec()
	size := c.Channels * c.ImageHeight * c.ImageWidth
	ws := g.ws[r]
	// Replica 0 draws what a single model would, so one replica trains
	// exactly as the model alone.
	ws.Seed(g.seed+uint64(r)*0x9e3779b97f4a7c15, g.step)
	logits, err := ws.Forward(g.x[lo*size:hi*size], hi-lo)
	if err != nil {
		g.errs[r] = err
		return
	}
	dlogits := g.dlogits[r][:(hi-lo)*c.Classes]
	var others []int
	lambda := float32(1)
	if g.t.Mixed {
		others, lambda = g.others[lo:hi], g.t.Lambda
	}
	loss, right := nn.MixedCrossEntropy(dlogits, logits, g.t.Labels[lo:hi], others, lambda, c.Classes, g.t.Smoothing)
	if hi-lo < n {
		// CrossEntropy averaged over this share: rescale to the batch.
		w := float32(hi-lo) / float32(n)
		for i := range dlogits {
			dlogits[i] *= w
		}
		loss *= float64(hi-lo) / float64(n)
	}
	g.loss[r], g.correct[r] = loss, right
	g.errs[r] = ws.Backward(dlogits, hi-lo)
}

// sum adds the replicas' gradients into the model's, in replica order.
func (g *Gradients) sum() { kernels.ParallelFor(len(g.params[0]), 1, g.sumPart) }

// sumRange is sum for parameters [lo, hi).
func (g *Gradients) sumRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		p := g.params[0][i]
		if p.Frozen {
			continue
		}
		for _, rp := range g.params[1:] {
			kernels.AddTo(p.Grad, rp[i].Grad)
		}
	}
}
