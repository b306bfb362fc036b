package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
)

// FewShotOptions configure FewShot.
type FewShotOptions struct {
	Shots      []int   // images per class of each setting, e.g. 1, 5, 10
	Trials     int     // random draws of the shots per setting
	L2         float64 // ridge regularisation λ > 0
	TestImages int     // test images to score, spread evenly over the test set; 0: all
	Seed       uint64  // seed of the draws
	// Progress, if not nil, is called as images are embedded: done of
	// total (the training images drawn from and the test images).
	Progress func(done, total int)
}

// FewShotResult is the accuracy of one few-shot setting.
type FewShotResult struct {
	Shots    int       `json:"shots"`
	Accuracy float64   `json:"accuracy"` // mean over trials
	Std      float64   `json:"std"`      // population standard deviation over trials
	Trials   []float64 `json:"trials"`
}

// FewShot measures m's frozen features as the paper's few-shot evaluation
// does (Section 4.1): for each setting, Trials times, it draws Shots
// training images per class, fits a regularised least-squares classifier
// from their features to {−1, 1} targets and scores it on the test set. It
// returns one result per setting, in the order of o.Shots, and the number
// of test images scored. The features of every image any draw may pick are
// computed once; ctx is checked between batches.
func FewShot(ctx context.Context, m *vit.Model, trainSet, testSet *data.Dataset, o FewShotOptions) ([]FewShotResult, int, error) {
	if len(o.Shots) == 0 || o.Trials < 1 {
		return nil, 0, fmt.Errorf("few-shot: give at least one shot count and one trial (got %v shots, %d trials)", o.Shots, o.Trials)
	}
	if !(o.L2 > 0 && o.L2 <= math.MaxFloat64) { // NaN fails every comparison
		return nil, 0, fmt.Errorf("few-shot: the ridge regularisation λ must be a positive number, got %g", o.L2)
	}
	if o.TestImages < 0 {
		return nil, 0, fmt.Errorf("few-shot: %d test images; give 0 (all) or more", o.TestImages)
	}
	if trainSet == nil || testSet == nil || trainSet.N == 0 || testSet.N == 0 {
		return nil, 0, errors.New("few-shot: the training and the test set must both hold images")
	}
	maxShots := 0
	for _, k := range o.Shots {
		if k < 1 {
			return nil, 0, fmt.Errorf("few-shot: %d shots; each setting needs at least 1", k)
		}
		maxShots = max(maxShots, k)
	}
	if o.TestImages > 0 && testSet.N > o.TestImages {
		testSet = testSet.Subset(spread(testSet.N, o.TestImages))
	}
	classes := len(trainSet.Classes)
	rng := rand.New(rand.NewPCG(o.Seed, 0xfe5))
	byClass := make([][]int, classes)
	for i, y := range trainSet.Labels {
		byClass[y] = append(byClass[y], i)
	}
	pool := make([][]int, classes) // per class, a shuffled pool large enough for every trial
	var poolIdx []int
	for y, idx := range byClass {
		if len(idx) < maxShots {
			return nil, 0, fmt.Errorf("few-shot: class %d (%s) has %d training images, fewer than %d shots", y, className(trainSet.Classes, y), len(idx), maxShots)
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		pool[y] = idx[:min(len(idx), maxShots*o.Trials)]
		poolIdx = append(poolIdx, pool[y]...)
	}
	slog.InfoContext(ctx, "few-shot: embedding images", "train", len(poolIdx), "test", testSet.N)
	total := len(poolIdx) + testSet.N
	progress := func(offset int) func(int) {
		return func(done int) {
			if o.Progress != nil {
				o.Progress(offset+done, total)
			}
		}
	}
	trainFeat, err := features(ctx, m, trainSet.Subset(poolIdx), progress(0))
	if err != nil {
		return nil, 0, err
	}
	where := map[int]int{}
	for i, j := range poolIdx {
		where[j] = i
	}
	testFeat, err := features(ctx, m, testSet, progress(len(poolIdx)))
	if err != nil {
		return nil, 0, err
	}
	d := m.Config.FeatureDim()
	var results []FewShotResult
	for _, k := range o.Shots {
		r := FewShotResult{Shots: k}
		for trial := range o.Trials {
			var rows, labels []int
			for y := range classes {
				p := pool[y]
				start := (trial * k) % max(1, len(p)-k+1)
				for _, j := range p[start : start+k] {
					rows = append(rows, where[j])
					labels = append(labels, y)
				}
			}
			r.Trials = append(r.Trials, ridgeAccuracy(trainFeat, rows, labels, testFeat, testSet.Labels, d, classes, o.L2))
		}
		var s, ss float64
		for _, a := range r.Trials {
			s += a
		}
		r.Accuracy = s / float64(len(r.Trials))
		for _, a := range r.Trials {
			ss += (a - r.Accuracy) * (a - r.Accuracy)
		}
		r.Std = math.Sqrt(ss / float64(len(r.Trials)))
		results = append(results, r)
	}
	return results, testSet.N, nil
}

// className is names[i], or i in decimal.
func className(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprint(i)
}

// Features returns m's pre-head features of every image of d, normalised
// with the model's Mean and Std: [d.N, Dim] (empty for an empty d). ctx is
// checked between batches.
func Features(ctx context.Context, m *vit.Model, d *data.Dataset) ([]float32, error) {
	return features(ctx, m, d, nil)
}

// features is Features that calls progress, if not nil, with the images
// embedded so far after each batch.
func features(ctx context.Context, m *vit.Model, d *data.Dataset, progress func(done int)) ([]float32, error) {
	c := m.Config
	if d == nil {
		return nil, errors.New("features: no dataset (nil)")
	}
	if d.N == 0 {
		return []float32{}, nil
	}
	if d.C != c.Channels || d.H != c.ImageHeight || d.W != c.ImageWidth {
		return nil, fmt.Errorf("dataset %s has %d×%d×%d images, the model expects %d×%d×%d (adapt the model with vit convert --image, or fine-tune it)",
			d.Name, d.H, d.W, d.C, c.ImageHeight, c.ImageWidth, c.Channels)
	}
	l := data.NewLoader(d, 256, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
	it := l.Epoch(0, 0)
	defer it.Close()
	out := make([]float32, 0, d.N*c.FeatureDim())
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if err := ctx.Err(); err != nil {
			b.Release()
			return nil, err
		}
		f, err := m.Features(b.X, b.B)
		b.Release()
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
		if progress != nil {
			progress(len(out) / c.FeatureDim())
		}
	}
	return out, nil
}

// ridgeAccuracy fits the paper's few-shot linear classifier: regularised
// least squares from frozen features feat: [rows, d] (plus a bias) to
// {−1, 1} one-vs-rest targets, solved in closed form in its dual,
// W = Xᵀ(XXᵀ + λI)⁻¹Y, and returns its accuracy on testFeat: [n, d].
func ridgeAccuracy(feat []float32, rows, labels []int, testFeat []float32, testLabels []int, d, classes int, l2 float64) float64 {
	n := len(rows)
	x := mat.NewDense(n, d+1, nil)
	for i, r := range rows {
		for j := range d {
			x.Set(i, j, float64(feat[r*d+j]))
		}
		x.Set(i, d, 1)
	}
	y := mat.NewDense(n, classes, nil)
	for i, l := range labels {
		for k := range classes {
			y.Set(i, k, -1)
		}
		y.Set(i, l, 1)
	}
	var gram mat.Dense
	gram.Mul(x, x.T())
	for i := range n {
		gram.Set(i, i, gram.At(i, i)+l2)
	}
	var alpha mat.Dense
	if err := alpha.Solve(&gram, y); err != nil {
		return 0
	}
	var w mat.Dense
	w.Mul(x.T(), &alpha) // [d+1, classes]
	correct := 0
	for i, yTrue := range testLabels {
		best, arg := math.Inf(-1), 0
		for k := range classes {
			s := w.At(d, k)
			for j := range d {
				s += float64(testFeat[i*d+j]) * w.At(j, k)
			}
			if s > best {
				best, arg = s, k
			}
		}
		if arg == yTrue {
			correct++
		}
	}
	return float64(correct) / float64(len(testLabels))
}

// spread returns k indices spread evenly over [0, n).
func spread(n, k int) []int {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i * n / k
	}
	return idx
}
