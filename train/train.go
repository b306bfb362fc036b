// Package train runs the training loop of a vit.Network (a Vision
// Transformer, or package resnet's CNN baseline): mini-batches from a
// data.Loader, the loss, backward pass, gradient clipping and the optimizer
// under a warm-up + cosine schedule; evaluation after each epoch; a metrics
// log and resumable checkpoints in a run folder.
//
// Recipes are chosen on a validation split held out of the training images
// (Options.ValidationSize, Dataset.HoldOut), scored after every epoch; the
// test set is scored once, by the final model.
//
// A run is deterministic given its seed and its number of replicas (see
// Gradients for when the core count matters): initialisation, data order,
// augmentation and dropout masks all derive from the seed, so a run resumed
// from its folder continues exactly as if it had never stopped.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/optim"
)

// Options is a training recipe.
type Options struct {
	Epochs int `json:"epochs"`          // passes over the training set
	Steps  int `json:"steps,omitempty"` // if > 0, the run's length in optimizer steps instead of Epochs
	Batch  int `json:"batch"`

	Optimizer      string  `json:"optimizer"` // "adamw" or "sgd"
	LR             float32 `json:"lr"`        // peak learning rate
	MinLR          float32 `json:"min_lr"`    // learning rate at the end of the cosine
	WarmupSteps    int     `json:"warmup_steps"`
	WeightDecay    float32 `json:"weight_decay"`
	Momentum       float32 `json:"momentum,omitempty"` // SGD only
	ClipNorm       float64 `json:"clip_norm"`          // global gradient norm limit; 0 = none
	LabelSmoothing float32 `json:"label_smoothing"`

	// LinearProbe freezes everything but the head (vit.Model.FreezeBody).
	LinearProbe bool `json:"linear_probe,omitempty"`

	Augment data.Augment `json:"augment"`
	// Mix blends the images of each batch in pairs (Mixup, CutMix) and
	// trains toward the blended labels.
	Mix data.Mix `json:"mix,omitzero"`
	// MixOffEpoch, if > 0, stops mixing after that many epochs, so that
	// the last epochs train on whole images (timm's mixup_off_epoch).
	MixOffEpoch int    `json:"mix_off_epoch,omitempty"`
	Seed        uint64 `json:"seed"`

	// Replicas is the number of model replicas that share each batch, one
	// per core (see Gradients); 0 means DefaultReplicas. New resolves 0 to
	// a number, which the run folder keeps, so that a resumed run computes
	// as the first session did.
	Replicas int `json:"replicas,omitempty"`

	// ValidationSize is the number of training images held out of
	// training (data.Dataset.HoldOut: the last of each class) and scored
	// after every epoch; 0 holds none out. See DefaultValidationSize.
	ValidationSize int `json:"validation_size,omitempty"`

	// EvalBatch is the batch size of evaluation; 0 means Batch.
	EvalBatch int `json:"eval_batch,omitempty"`
	// LogEvery writes a step line to the metrics log every so many steps.
	LogEvery int `json:"log_every,omitempty"`
	// StopAt, if > 0, ends the session after that many steps of the run,
	// saving a resumable state (the schedule still spans the whole run).
	StopAt int `json:"-"`

	// Data names the dataset the run trains on, as data.Open takes it
	// (the vit command sets it); the run folder keeps it so that a resumed
	// run can open the same data. Training ignores it: Resume checks the
	// dataset it is given against the run's.
	Data string `json:"data,omitempty"`

	// SaveEvery is how often a checkpoint is saved within an epoch (the
	// zero Interval: every DefaultSaveEvery); checkpoints are saved at the
	// end of every epoch and session too.
	SaveEvery Interval `json:"save_every,omitzero"`
	// Keep is the number of checkpoints the run folder keeps, newest
	// first; 0 means 1. Older ones are removed only once a newer one is
	// complete.
	Keep int `json:"keep,omitempty"`
}

// mixes reports whether the batches of epoch (from 0) are mixed.
func (o Options) mixes(epoch int) bool {
	return o.Mix.Enabled() && (o.MixOffEpoch <= 0 || epoch < o.MixOffEpoch)
}

// Validate reports the first unusable option.
func (o Options) Validate() error {
	switch {
	case o.Batch < 1:
		return fmt.Errorf("batch size must be at least 1, got %d", o.Batch)
	case o.Epochs < 1 && o.Steps < 1:
		return errors.New("give a positive number of epochs or steps")
	case o.Optimizer != "adamw" && o.Optimizer != "sgd":
		return fmt.Errorf("optimizer must be adamw or sgd, got %q", o.Optimizer)
	case !(o.LR > 0 && o.LR <= math.MaxFloat32): // NaN fails every comparison
		return fmt.Errorf("learning rate must be a positive number, got %g", o.LR)
	case !within(float64(o.MinLR), 0, math.MaxFloat32):
		return fmt.Errorf("the final learning rate must be a number ≥ 0, got %g", o.MinLR)
	case !within(float64(o.WeightDecay), 0, math.MaxFloat32):
		return fmt.Errorf("weight decay must be a number ≥ 0, got %g", o.WeightDecay)
	case !within(float64(o.Momentum), 0, 1) || o.Momentum == 1:
		return fmt.Errorf("momentum must be in [0, 1), got %g", o.Momentum)
	case !within(o.ClipNorm, 0, math.MaxFloat64):
		return fmt.Errorf("the gradient clipping norm must be a number ≥ 0 (0: none), got %g", o.ClipNorm)
	case !within(float64(o.LabelSmoothing), 0, 1) || o.LabelSmoothing == 1:
		return fmt.Errorf("label smoothing must be in [0, 1), got %g", o.LabelSmoothing)
	case o.Augment.PadCrop < 0 || !within(float64(o.Augment.RandomErasing), 0, 1):
		return fmt.Errorf("augmentation: padding must be 0 or more pixels and the erasing probability in [0, 1], got %d and %g", o.Augment.PadCrop, o.Augment.RandomErasing)
	case o.WarmupSteps < 0 || o.EvalBatch < 0 || o.LogEvery < 0:
		return fmt.Errorf("warm-up steps, evaluation batch and log interval must be 0 or more, got %d, %d, %d", o.WarmupSteps, o.EvalBatch, o.LogEvery)
	case o.MixOffEpoch < 0:
		return fmt.Errorf("mix-off epoch must be 0 (never) or more, got %d", o.MixOffEpoch)
	case o.ValidationSize < 0:
		return fmt.Errorf("validation size must be 0 (none) or more images, got %d", o.ValidationSize)
	case o.Replicas < 0:
		return fmt.Errorf("replicas must be 0 (one per core) or more, got %d", o.Replicas)
	case o.Keep < 0:
		return fmt.Errorf("checkpoints to keep must be 0 (one) or more, got %d", o.Keep)
	case o.SaveEvery.Steps < 0 || o.SaveEvery.Every < 0:
		return fmt.Errorf("save interval must not be negative, got %d steps, %v", o.SaveEvery.Steps, o.SaveEvery.Every)
	}
	return o.Mix.Validate()
}

// within reports whether lo ≤ v ≤ hi; NaN is within nothing.
func within(v, lo, hi float64) bool { return v >= lo && v <= hi }

// StepStats describe one optimizer step.
type StepStats struct {
	Step, Total    int // 1-based step, and the run's total
	Epoch, Batch   int // 0-based epoch, 1-based batch within it
	Batches        int // batches per epoch
	Loss, Accuracy float64
	LR             float32
	GradNorm       float64
	ImagesPerS     float64 // over the epoch so far
}

// EpochStats summarise one epoch.
type EpochStats struct {
	Epoch                    int // 0-based
	Step                     int
	TrainLoss, TrainAccuracy float64
	// ValLoss and ValAccuracy score the validation split; zero when the
	// run holds none out (ValImages 0).
	ValLoss, ValAccuracy float64
	ValImages            int
	ImagesPerS           float64
	WallS                float64 // since the run started, summed across resumes
}

// Observer receives progress; the vit command draws bars with it. Methods
// are called on the training goroutine.
type Observer interface {
	EpochStart(epoch, batches int, stepsLeft int)
	Step(StepStats)
	EpochEnd(EpochStats)
}

// Result is the outcome of a run. The validation and test scores are
// those of the final model, the test set's scored once, at the end; a run
// stopped early (Finished false) has its last validation score and no test
// score.
type Result struct {
	Steps         int     `json:"steps"`
	Epochs        float64 `json:"epochs"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	Split         Split   `json:"split"`
	ValLoss       float64 `json:"validation_loss"`
	ValAccuracy   float64 `json:"validation_accuracy"`
	TestLoss      float64 `json:"test_loss"`
	TestAccuracy  float64 `json:"test_accuracy"`
	ImagesPerS    float64 `json:"images_per_s"`
	WallS         float64 `json:"wall_s"`
	Finished      bool    `json:"finished"` // false when stopped early (StopAt or cancelled)
}

// Trainer trains one model on one dataset.
type Trainer struct {
	Model vit.Network // a *vit.Model, or another family's network
	// Train is the training set less the validation split, Validation.
	Train      *data.Dataset
	Validation *data.Dataset // nil when Options.ValidationSize is 0
	Test       *data.Dataset // may be nil
	Options    Options
	Out        string   // run folder; "" keeps nothing on disk
	Observer   Observer // may be nil
	opt        optim.Optimizer
	st         state
	scored     int // the step whose model Validation was last scored on
	metrics    *metricsLog
	perEpoch   int       // batches per epoch, once Run knows it
	started    time.Time // when Run started
	wallBase   float64   // st.WallS when Run started
	lastSave   time.Time
}

// New prepares a fresh run of m on trainSet less the validation split of
// o.ValidationSize images (scored after every epoch), and scores the final
// model on testSet. A model without labels takes trainSet's class names,
// and one without Mean and Std the pixel statistics of all of trainSet's
// images as its normalisation. It saves into the run folder out unless it
// is "", and refuses a folder that already holds a run (continue that with
// Resume); a folder left by a run killed before its first checkpoint is
// started afresh.
func New(m vit.Network, trainSet, testSet *data.Dataset, o Options, out string) (*Trainer, error) {
	if err := checkFolder(out); err != nil {
		return nil, err
	}
	t, err := newTrainer(m, trainSet, testSet, o, out)
	if err != nil {
		return nil, err
	}
	t.st.Data, t.st.DataName = fingerprint(trainSet), trainSet.Name
	return t, nil
}

// newTrainer is New without the check of the run folder.
func newTrainer(m vit.Network, trainSet, testSet *data.Dataset, o Options, out string) (*Trainer, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if trainSet == nil || trainSet.N == 0 {
		return nil, errors.New("the training set is empty")
	}
	if testSet != nil && testSet.N == 0 {
		return nil, fmt.Errorf("the test set of %s is empty: give a dataset with test images (or more images to split)", trainSet.Name)
	}
	if err := checkShapes(*m.Spec(), trainSet); err != nil {
		return nil, err
	}
	fillFromData(m, trainSet)
	if testSet != nil {
		if err := checkShapes(*m.Spec(), testSet); err != nil {
			return nil, err
		}
	}
	trainSet, valSet, split, err := splitValidation(trainSet, testSet, o.ValidationSize)
	if err != nil {
		return nil, err
	}
	if o.LinearProbe {
		m.FreezeBody(true)
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas(m, o.Batch)
	}
	t := &Trainer{Model: m, Train: trainSet, Validation: valSet, Test: testSet, Options: o, Out: out}
	t.st.Options = o
	t.st.Split = split
	t.opt = newOptimizer(o)
	return t, nil
}

func newOptimizer(o Options) optim.Optimizer {
	if o.Optimizer == "sgd" {
		return &optim.SGD{Momentum: o.Momentum, WeightDecay: o.WeightDecay}
	}
	return optim.NewAdamW(o.WeightDecay)
}

func checkShapes(c vit.Config, d *data.Dataset) error {
	if d.C != c.Channels || d.H != c.ImageHeight || d.W != c.ImageWidth {
		fix := "resize the data to the model's input (data.Dataset.Resized)"
		if d.C != c.Channels {
			fix = "give data with the model's channels"
		}
		return fmt.Errorf("dataset %s has %d×%d images with %d channels, the model expects %d×%d with %d: %s",
			d.Name, d.H, d.W, d.C, c.ImageHeight, c.ImageWidth, c.Channels, fix)
	}
	for i, y := range d.Labels {
		if y < 0 || y >= c.Classes {
			return fmt.Errorf("dataset %s: image %d has label %d, the model has %d classes", d.Name, i, y, c.Classes)
		}
	}
	return nil
}

// Step returns the number of optimizer steps taken so far.
func (t *Trainer) Step() int { return t.st.Step }

// Run trains until the run's end, StopAt, or ctx is cancelled, evaluating
// after every epoch. With a run folder it saves a checkpoint before the
// first step, every Options.SaveEvery within an epoch, after every epoch
// and at the end; cancelling saves the state reached, so the run can be
// resumed. A loss or gradient norm that is not finite stops the run with a
// DivergedError, leaving the last good checkpoint in place.
func (t *Trainer) Run(ctx context.Context) (Result, error) {
	o := t.Options
	m := t.Model
	c := *m.Spec()
	loader := data.NewLoader(t.Train, o.Batch, data.LoaderOptions{
		Shuffle: true, DropLast: t.Train.N >= o.Batch, Seed: o.Seed, Augment: &o.Augment,
		Normalize: data.Normalize{Mean: c.Mean, Std: c.Std},
	})
	perEpoch := loader.NumBatches()
	t.perEpoch = perEpoch
	total := o.Steps
	if total <= 0 {
		total = o.Epochs * perEpoch
	}
	sched := optim.WarmupCosine{Base: o.LR, Min: o.MinLR, Warmup: o.WarmupSteps, Total: total}
	t.started, t.lastSave, t.wallBase = time.Now(), time.Now(), t.st.WallS
	if err := t.open(); err != nil {
		return Result{}, err
	}
	defer func() {
		t.metrics.close()
		t.metrics = nil
	}()
	grads := NewGradients(m, o.Batch, o.Replicas)
	params := m.Params()
	stop := total
	if o.StopAt > 0 && o.StopAt < total {
		stop = o.StopAt
	}
	var res Result
	for t.st.Step < stop {
		epoch, first := t.st.Step/perEpoch, t.st.Step%perEpoch
		if first == 0 {
			t.st.Epoch = epochSums{}
		}
		if t.Observer != nil {
			t.Observer.EpochStart(epoch, perEpoch, stop-t.st.Step)
		}
		start := time.Now()
		var seen float64 // images of this epoch in this session
		it := loader.Epoch(epoch, first)
		cancelled := false
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			step := t.st.Step
			if vm, ok := m.(*vit.Model); ok && c.RedrawEvery > 0 && step > 0 && step%c.RedrawEvery == 0 {
				vm.RedrawFeatures(o.Seed<<32 ^ uint64(step))
			}
			tg := Targets{Labels: b.Labels[:b.B], Smoothing: o.LabelSmoothing}
			if o.mixes(epoch) {
				tg.Mixed, tg.Lambda = o.Mix.Apply(b.X, b.B, b.C, b.H, b.W, o.Seed, uint64(step))
			}
			loss, right, err := grads.Compute(b.X, tg, o.Seed, uint64(step))
			if err == nil && !finite(loss) {
				err = t.diverged(step+1, perEpoch, "loss", loss)
			}
			norm := 0.0
			if err == nil {
				if norm = optim.ClipGradNorm(params, o.ClipNorm); !finite(norm) {
					err = t.diverged(step+1, perEpoch, "gradient norm", norm)
				}
			}
			if err != nil {
				b.Release()
				it.Close()
				return res, err
			}
			lr := sched.LR(step)
			t.opt.Step(params, lr)
			n := b.B
			b.Release()
			t.st.Step++
			t.st.Images += int64(n)
			t.st.Epoch.Loss += loss * float64(n)
			t.st.Epoch.Correct += float64(right)
			t.st.Epoch.Seen += float64(n)
			seen += float64(n)
			s := StepStats{Step: t.st.Step, Total: total, Epoch: epoch, Batch: t.st.Step - epoch*perEpoch, Batches: perEpoch,
				Loss: loss, Accuracy: float64(right) / float64(n), LR: lr, GradNorm: norm,
				ImagesPerS: seen / time.Since(start).Seconds()}
			if t.Observer != nil {
				t.Observer.Step(s)
			}
			if every := max(o.LogEvery, 1); t.st.Step%every == 0 || t.st.Step == stop {
				t.metrics.write(map[string]any{"type": "step", "step": s.Step, "epoch": epoch, "loss": loss, "accuracy": s.Accuracy,
					"lr": lr, "grad_norm": norm, "images_per_s": s.ImagesPerS})
			}
			if t.st.Step >= stop {
				break
			}
			if ctx.Err() != nil {
				cancelled = true
				break
			}
			if t.st.Step%perEpoch != 0 && o.SaveEvery.due(t.st.Step, time.Since(t.lastSave)) {
				if err := t.checkpoint(); err != nil {
					it.Close()
					return res, err
				}
			}
		}
		it.Close()
		elapsed := time.Since(start).Seconds()
		sums := t.st.Epoch
		res.TrainLoss, res.TrainAccuracy = sums.Loss/max(sums.Seen, 1), sums.Correct/max(sums.Seen, 1)
		res.ImagesPerS = seen / elapsed
		if epochDone := t.st.Step%perEpoch == 0 || t.st.Step == total; epochDone {
			t.st.WallS = t.wall()
			if err := t.endEpoch(epoch, &res); err != nil {
				return res, err
			}
		}
		if err := t.checkpoint(); err != nil {
			return res, err
		}
		if cancelled {
			break
		}
	}
	t.st.WallS = t.wall()
	res.Steps = t.st.Step
	res.Epochs = float64(t.st.Step) / float64(perEpoch)
	res.WallS = t.st.WallS
	if t.st.WallS > 0 {
		res.ImagesPerS = float64(t.st.Images) / t.st.WallS
	}
	res.Finished = t.st.Step >= total
	res.Split = t.st.Split
	if res.Finished {
		if err := t.final(&res); err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
}

// log appends rec to the metrics log, if the run has one.
func (t *Trainer) log(rec map[string]any) { t.metrics.write(rec) }

// wall returns the run's wall time in seconds, summed across sessions.
func (t *Trainer) wall() float64 { return t.wallBase + time.Since(t.started).Seconds() }

// open prepares the run folder for Run: it opens the metrics log, cut
// back to the checkpoint's length, and saves the checkpoint of a new run's
// first step.
func (t *Trainer) open() error {
	if t.Out == "" {
		return nil
	}
	if err := os.MkdirAll(t.Out, 0o755); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	size := t.st.MetricsBytes
	if t.st.Dir == "" {
		size = new(int64) // a new run starts a new log
	}
	l, err := openMetrics(t.Out, size)
	if err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	t.metrics = l
	if t.st.Dir == "" {
		return t.checkpoint()
	}
	return nil
}

// checkpoint saves and restarts the clock of SaveEvery.
func (t *Trainer) checkpoint() error {
	if err := t.Save(); err != nil {
		return err
	}
	t.lastSave = time.Now()
	return nil
}
