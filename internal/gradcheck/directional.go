package gradcheck

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Tensor is one input of a loss for Directional: its values X, which
// Directional perturbs in place (and restores), and Grad, the analytic
// gradient of the loss with respect to them.
type Tensor struct {
	Name    string
	X, Grad []float32
}

// DirectionalOptions set the step and the tolerances of Directional.
type DirectionalOptions struct {
	// Eps is the length of the step εv: each direction v has unit norm
	// over the tensors it moves.
	Eps float64
	// RTol and ATol bound the disagreement: the k directional derivatives
	// of one check, analytic a and numeric n, agree when
	// ‖a − n‖ ≤ RTol·max(‖a‖, ‖n‖) + ATol.
	RTol, ATol float64
	// Dirs is the number of random directions of each check (default 3).
	Dirs int
	// Seed makes the directions reproducible.
	Seed uint64
}

// Directional checks the analytic gradients of ts against directional
// finite differences of loss: for random unit directions v it compares
// ⟨g, v⟩ with the central difference (L(x+εv) − L(x−εv))/2ε. It runs one
// check whose directions move every tensor at once, then one per tensor
// that moves that tensor alone, so that a wrong gradient of a small tensor
// (a LayerNorm bias, a class token) is not drowned by the large ones: a
// gradient halved or missing at any scale is reported, as long as its true
// directional derivative stands above ATol and the finite-difference noise.
// The tests of vit prove it: they halve one parameter's gradient, and zero
// a LayerNorm bias's and the class token's, and assert that Directional
// returns an error naming each.
//
// loss must be a deterministic function of the values of ts (seed any
// dropout inside it), best accumulated in float64. The analytic side uses
// the displacement actually stored, float32(x ± εv) − x, so rounding of
// the perturbed values does not count as error. Directional returns nil
// when every check agrees, or an error listing each check that does not.
func Directional(ts []Tensor, loss func() float64, o DirectionalOptions) error {
	if o.Dirs <= 0 {
		o.Dirs = 3
	}
	for _, t := range ts {
		if len(t.X) != len(t.Grad) {
			return fmt.Errorf("%s: %d values but %d gradients", t.Name, len(t.X), len(t.Grad))
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0xd1dec7))
	var errs []error
	all := make([]int, len(ts))
	for i := range all {
		all[i] = i
	}
	name := "all tensors"
	if len(ts) == 1 {
		name = ts[0].Name
	}
	if err := directionalCheck(name, ts, all, loss, o, rng); err != nil {
		errs = append(errs, err)
	}
	if len(ts) > 1 {
		for i, t := range ts {
			if err := directionalCheck(t.Name, ts, []int{i}, loss, o, rng); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// directionalCheck runs o.Dirs directions that move the tensors ts[which]
// and compares the analytic and numeric directional derivatives.
func directionalCheck(name string, ts []Tensor, which []int, loss func() float64, o DirectionalOptions, rng *rand.Rand) error {
	n := 0
	for _, i := range which {
		n += len(ts[i].X)
	}
	if n == 0 {
		return nil
	}
	v := make([]float64, n)
	orig := make([]float32, n)
	plus, minus := make([]float32, n), make([]float32, n)
	var diff2, ana2, num2 float64
	var worst string
	for d := range o.Dirs {
		var norm float64
		for i := range v {
			v[i] = rng.NormFloat64()
			norm += v[i] * v[i]
		}
		scale := o.Eps / math.Sqrt(norm)
		k := 0
		for _, ti := range which {
			for _, x := range ts[ti].X {
				orig[k] = x
				plus[k] = float32(float64(x) + scale*v[k])
				minus[k] = float32(float64(x) - scale*v[k])
				k++
			}
		}
		set(ts, which, plus)
		lp := loss()
		set(ts, which, minus)
		lm := loss()
		set(ts, which, orig)
		numeric := (lp - lm) / (2 * o.Eps)
		// ⟨g, x₊ − x₋⟩/2ε over the displacement actually stored.
		var analytic float64
		k = 0
		for _, ti := range which {
			for _, g := range ts[ti].Grad {
				analytic += float64(g) * (float64(plus[k]) - float64(minus[k]))
				k++
			}
		}
		analytic /= 2 * o.Eps
		if math.IsNaN(analytic) || math.IsNaN(numeric) || math.IsInf(analytic, 0) || math.IsInf(numeric, 0) {
			return fmt.Errorf("%s: direction %d: analytic %g, numeric %g", name, d, analytic, numeric)
		}
		diff2 += (analytic - numeric) * (analytic - numeric)
		ana2 += analytic * analytic
		num2 += numeric * numeric
		worst += fmt.Sprintf(" (%.6g vs %.6g)", analytic, numeric)
	}
	diff, ana, num := math.Sqrt(diff2), math.Sqrt(ana2), math.Sqrt(num2)
	if diff > o.RTol*math.Max(ana, num)+o.ATol {
		return fmt.Errorf("%s: directional derivatives disagree by %.3g (relative %.3g, tolerance %g + %g); analytic vs numeric:%s",
			name, diff, diff/math.Max(ana, num), o.RTol, o.ATol, worst)
	}
	return nil
}

// set writes vals, in order, into the tensors ts[which].
func set(ts []Tensor, which []int, vals []float32) {
	k := 0
	for _, i := range which {
		k += copy(ts[i].X, vals[k:])
	}
}
