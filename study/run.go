package study

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/train"
)

// File names in a study's folder.
const (
	JSONFile = "study.json"
	HTMLFile = "study.html"
	PlotFile = "study.png" // the plot of study.html on its own (data-size, compute), for documents
	runsDir  = "runs"
)

// Study is what study.json holds: the plan's identity and every finished
// run.
type Study struct {
	Kind       string   `json:"kind"`
	Data       string   `json:"data"` // the training set's name
	Budget     string   `json:"budget"`
	Validation int      `json:"validation_images"`
	TestImages int      `json:"test_images"`
	Planned    int      `json:"planned_runs"`
	Results    []Result `json:"runs"` // finished runs, in the order they finished
}

// Result is one finished run.
type Result struct {
	Spec
	Params        int64   `json:"params"`
	FLOPs         int64   `json:"flops_per_image"` // forward, as the engine counts them (vit.Config.FLOPs)
	TrainFLOPs    float64 `json:"train_flops"`     // 3 × FLOPs × images trained on (steps × batch)
	Steps         int     `json:"steps"`
	WallS         float64 `json:"wall_s"` // training and scoring, summed over sessions
	TrainAccuracy float64 `json:"train_accuracy"`
	ValAccuracy   float64 `json:"validation_accuracy"`
	TestAccuracy  float64 `json:"test_accuracy"`
	// Selected marks the run whose learning rate the validation split
	// chose among the runs of its family and point (the best mean
	// validation accuracy over seeds); the plots show selected runs.
	Selected bool `json:"selected"`
}

// Run carries out study kind on trainSet (less its validation split),
// scoring every run on all of testSet, in the folder out, and returns the
// study. A folder holding a study of the same kind, data and budget is
// resumed: its finished runs are kept and an interrupted run continues
// from its checkpoint. When ctx is cancelled Run stops within a step,
// keeping the state reached, and returns ctx's error.
func Run(ctx context.Context, kind string, trainSet, testSet *data.Dataset, out string, o Options) (*Study, error) {
	if trainSet == nil || testSet == nil || trainSet.N == 0 || testSet.N == 0 {
		return nil, errors.New("study: a study needs training and test images")
	}
	p, err := NewPlan(kind, o, trainSet.N, trainSet.H, trainSet.W, trainSet.C, len(trainSet.Classes))
	if err != nil {
		return nil, err
	}
	pool, val, err := trainSet.HoldOut(p.Validation)
	if err != nil {
		return nil, err
	}
	st := &Study{Kind: kind, Data: trainSet.Name, Budget: p.Budget, Validation: val.N, TestImages: testSet.N, Planned: len(p.Specs)}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("study folder: %w", err)
	}
	if err := st.resume(out); err != nil {
		return nil, err
	}
	done := map[string]bool{}
	steps := 0
	for _, r := range st.Results {
		done[r.ID] = true
	}
	for _, s := range p.Specs {
		if done[s.ID] {
			steps += s.Options.Steps
		}
	}
	total := p.Steps()
	report := func(pr Progress) {
		if o.Progress != nil {
			o.Progress(pr)
		}
	}
	report(Progress{Done: steps, Total: total, Runs: len(p.Specs)})
	for i, s := range p.Specs {
		if done[s.ID] {
			continue
		}
		base := steps
		res, err := runOne(ctx, s, subset(pool, s.Images, s.Options.Seed), val, testSet, filepath.Join(out, runsDir, s.ID),
			func(step int) {
				report(Progress{Done: base + step, Total: total, Run: s.ID, Index: i + 1, Runs: len(p.Specs)})
			})
		if err != nil {
			return st, err
		}
		steps += s.Options.Steps
		slog.Info("study run finished", "run", s.ID, "validation_accuracy", res.ValAccuracy, "test_accuracy", res.TestAccuracy,
			"wall_s", int(res.WallS))
		st.Results = append(st.Results, res)
		st.selectRecipes()
		if err := st.Write(out); err != nil {
			return st, err
		}
	}
	return st, ctx.Err()
}

// resume reads the study already in out, if any, into st: one of another
// kind, data or budget is an error.
func (st *Study) resume(out string) error {
	b, err := os.ReadFile(filepath.Join(out, JSONFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	var old Study
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("study: %s is corrupt (%v): remove it to start the study again", filepath.Join(out, JSONFile), err)
	}
	if old.Kind != st.Kind || old.Data != st.Data || old.Budget != st.Budget || old.Validation != st.Validation {
		return fmt.Errorf("study: %s holds the %s study of %s (budget %s, %d validation images), not the %s study of %s (budget %s, %d): use another --out",
			out, old.Kind, old.Data, old.Budget, old.Validation, st.Kind, st.Data, st.Budget, st.Validation)
	}
	st.Results = old.Results
	return nil
}

// subset returns n images of pool drawn at random by seed (all of them, in
// order, when n is pool's size).
func subset(pool *data.Dataset, n int, seed uint64) *data.Dataset {
	if n >= pool.N {
		return pool
	}
	idx := rand.New(rand.NewPCG(seed, 0x5b5e7)).Perm(pool.N)[:n]
	s := pool.Subset(idx)
	s.Name = fmt.Sprintf("%s (%d random images, seed %d)", pool.Name, n, seed)
	return s
}

// runOne trains spec s in the run folder dir (resuming it when it holds a
// checkpoint) and scores the final model on val and test.
func runOne(ctx context.Context, s Spec, trainSet, val, test *data.Dataset, dir string, step func(int)) (Result, error) {
	tr, err := train.Resume(dir, trainSet, nil)
	if errors.Is(err, train.ErrNoCheckpoint) || errors.Is(err, fs.ErrNotExist) {
		var m vit.Network
		if m, err = vit.NewNetwork(s.Config, s.Options.Seed); err != nil {
			return Result{}, fmt.Errorf("study run %s: %w", s.ID, err)
		}
		os.RemoveAll(dir) // a folder killed before its first checkpoint
		tr, err = train.New(m, trainSet, nil, s.Options, dir)
	}
	if err != nil {
		return Result{}, fmt.Errorf("study run %s: %w", s.ID, err)
	}
	tr.Observer = stepObserver(step)
	res, err := tr.Run(ctx)
	if err != nil {
		return Result{}, err
	}
	scoring := time.Now()
	batch := max(256, s.Options.Batch)
	ev, err := train.EvaluateContext(ctx, tr.Model, val, train.EvalOptions{Batch: batch})
	if err != nil {
		return Result{}, err
	}
	te, err := train.EvaluateContext(ctx, tr.Model, test, train.EvalOptions{Batch: batch})
	if err != nil {
		return Result{}, err
	}
	c := tr.Model.Spec()
	flops := c.FLOPs()
	return Result{Spec: s, Params: tr.Model.NumParams(), FLOPs: flops, TrainFLOPs: 3 * float64(flops) * float64(res.Steps*s.Options.Batch),
		Steps: res.Steps, WallS: res.WallS + time.Since(scoring).Seconds(), TrainAccuracy: res.TrainAccuracy,
		ValAccuracy: ev.Accuracy, TestAccuracy: te.Accuracy}, nil
}

// stepObserver reports every optimizer step.
type stepObserver func(step int)

func (f stepObserver) EpochStart(int, int, int)  {}
func (f stepObserver) Step(s train.StepStats)    { f(s.Step) }
func (f stepObserver) EpochEnd(train.EpochStats) {}

// selectRecipes marks, for every family and point, the runs of the
// learning rate with the best mean validation accuracy.
func (st *Study) selectRecipes() {
	type key struct{ family, point string }
	type acc struct {
		sum float64
		n   int
	}
	mean := map[key]map[float32]*acc{}
	for _, r := range st.Results {
		k := key{r.Family, r.Point}
		if mean[k] == nil {
			mean[k] = map[float32]*acc{}
		}
		a := mean[k][r.Options.LR]
		if a == nil {
			a = &acc{}
			mean[k][r.Options.LR] = a
		}
		a.sum += r.ValAccuracy
		a.n++
	}
	best := map[key]float32{}
	for k, lrs := range mean {
		top := -1.0
		for lr, a := range lrs {
			if m := a.sum / float64(a.n); m > top || m == top && lr < best[k] {
				top, best[k] = m, lr
			}
		}
	}
	for i := range st.Results {
		r := &st.Results[i]
		r.Selected = best[key{r.Family, r.Point}] == r.Options.LR
	}
}

// Write saves study.json, study.html and (for the studies with a plot)
// study.png into out, each atomically.
func (st *Study) Write(out string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(out, JSONFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}, 0o644); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	img, err := st.Plot()
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	if img != nil {
		if err := atomicfile.WriteFile(filepath.Join(out, PlotFile), func(w io.Writer) error {
			return png.Encode(w, img)
		}, 0o644); err != nil {
			return fmt.Errorf("study: %w", err)
		}
	}
	page, err := st.HTML()
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(out, HTMLFile), func(w io.Writer) error {
		_, err := w.Write(page)
		return err
	}, 0o644)
}
