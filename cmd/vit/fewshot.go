package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
)

// fewshotFlags are vit fewshot's flags.
type fewshotFlags struct {
	model, data, shots string
	trials, testImages int
	l2                 float64
	seed               uint64
	json               bool
}

func fewshotCommand() *cobra.Command {
	var f fewshotFlags
	cmd := &cobra.Command{
		Use:   "fewshot --model PATH [--data SPEC] [--shots 1,5,10] [--trials N] [--json]",
		Short: "the paper's few-shot linear evaluation of frozen features",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runFewshot(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, .safetensors or .npz file, or training run folder")
	fs.StringVar(&f.data, "data", "", "dataset (as for vit train): shots come from its train split, accuracy from its test split")
	fl.parsed(&f.shots, "shots", "1,5,10", func(s string) error { _, err := parseShots(s); return err }, []string{"0", "1,,5", "-1", "x"},
		"comma-separated images per class")
	fl.count(&f.trials, "trials", 5, 1, "random draws of the shots per setting (mean and standard deviation reported)")
	fl.positive(&f.l2, "l2", 1, "ridge regularisation λ")
	fl.count(&f.testImages, "test-images", 2000, 0, "test images to score (0: all)")
	fl.seed(&f.seed, "seed", 1, "seed of the shot draws")
	fs.BoolVar(&f.json, "json", false, "print one JSON object")
	return cmd
}

// parseShots reads --shots: positive integers separated by commas.
func parseShots(s string) ([]int, error) {
	var shots []int
	for _, part := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || k < 1 || k > maxCount {
			return nil, errors.New("want positive integers separated by commas, e.g. 1,5,10")
		}
		shots = append(shots, k)
	}
	return shots, nil
}

func runFewshot(cmd *cobra.Command, f *fewshotFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	shots, _ := parseShots(f.shots)
	m, err := loadModel(f.model, "", 0)
	if err != nil {
		return err
	}
	if err := m.Config.CheckMemory(256, false); err != nil { // features() embeds batches of 256
		return err
	}
	trainSet, testSet, err := data.Open(f.data)
	if err != nil {
		return err
	}
	if f.testImages > 0 && testSet.N > f.testImages {
		testSet = testSet.Subset(spread(testSet.N, f.testImages))
	}
	classes := len(trainSet.Classes)
	// Features of every training image that any draw may pick, once.
	maxShots := shots[0]
	for _, k := range shots {
		maxShots = max(maxShots, k)
	}
	rng := rand.New(rand.NewPCG(f.seed, 0xfe5))
	byClass := make([][]int, classes)
	for i, y := range trainSet.Labels {
		byClass[y] = append(byClass[y], i)
	}
	pool := make([][]int, classes) // per class, a shuffled pool large enough for every trial
	var poolIdx []int
	for y, idx := range byClass {
		if len(idx) < maxShots {
			return fmt.Errorf("class %d (%s) has %d training images, fewer than %d shots", y, label(trainSet.Classes, y), len(idx), maxShots)
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		pool[y] = idx[:min(len(idx), maxShots*f.trials)]
		poolIdx = append(poolIdx, pool[y]...)
	}
	fmt.Fprintf(stderr, "embedding %d training and %d test images...\n", len(poolIdx), testSet.N)
	trainFeat, err := features(m, trainSet.Subset(poolIdx))
	if err != nil {
		return err
	}
	where := map[int]int{}
	for i, j := range poolIdx {
		where[j] = i
	}
	testFeat, err := features(m, testSet)
	if err != nil {
		return err
	}
	d := m.Config.Dim
	type result struct {
		Shots    int       `json:"shots"`
		Accuracy float64   `json:"accuracy"` // mean over trials
		Std      float64   `json:"std"`
		Trials   []float64 `json:"trials"`
	}
	var results []result
	for _, k := range shots {
		r := result{Shots: k}
		for trial := range f.trials {
			var rows []int
			var labels []int
			for y := range classes {
				p := pool[y]
				start := (trial * k) % max(1, len(p)-k+1)
				for _, j := range p[start : start+k] {
					rows = append(rows, where[j])
					labels = append(labels, y)
				}
			}
			acc := ridgeAccuracy(trainFeat, rows, labels, testFeat, testSet.Labels, d, classes, f.l2)
			r.Trials = append(r.Trials, acc)
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
	if f.json {
		return json.NewEncoder(stdout).Encode(map[string]any{"dataset": testSet.Name, "test_images": testSet.N, "l2": f.l2, "results": results})
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "%2d-shot: %.2f%% ± %.2f (%d trials, %d test images)\n", r.Shots, 100*r.Accuracy, 100*r.Std, len(r.Trials), testSet.N)
	}
	return nil
}

// features embeds every image of d with m (the model's normalisation).
func features(m *vit.Model, d *data.Dataset) ([]float32, error) {
	c := m.Config
	if d.C != c.Channels || d.H != c.ImageHeight || d.W != c.ImageWidth {
		return nil, fmt.Errorf("dataset %s has %d×%d×%d images, the model expects %d×%d×%d (adapt the model with vit convert --image, or fine-tune it)",
			d.Name, d.H, d.W, d.C, c.ImageHeight, c.ImageWidth, c.Channels)
	}
	l := data.NewLoader(d, 256, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
	it := l.Epoch(0, 0)
	defer it.Close()
	out := make([]float32, 0, d.N*c.Dim)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		f, err := m.Features(b.X, b.B)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
		b.Release()
	}
	return out, nil
}

// ridgeAccuracy fits the paper's few-shot linear classifier: regularised
// least squares from frozen features (plus a bias) to {−1, 1} one-vs-rest
// targets, solved in closed form in its dual, W = Xᵀ(XXᵀ + λI)⁻¹Y, and
// returns its accuracy on the test features.
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
