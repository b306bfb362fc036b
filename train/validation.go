package train

import (
	"fmt"

	"github.com/vitgo/vit/data"
)

// Split records how a run divided its data: the training images it held
// out for validation (data.Dataset.HoldOut: the last of each class), and
// the test set its final model was scored on.
type Split struct {
	Dataset    string `json:"dataset"`        // the training set's Name
	Images     int    `json:"images"`         // images in the training set, validation included
	Train      int    `json:"train"`          // images trained on
	Validation int    `json:"validation"`     // images held out and scored after every epoch
	Test       string `json:"test,omitempty"` // the test set's Name
	TestImages int    `json:"test_images"`    // images in the test set
	Rule       string `json:"rule,omitempty"` // how the validation images were chosen
}

// DefaultValidationSize is the validation split of the vit command for a
// training set of n images: 5,000 images (as for Fashion-MNIST's 60,000),
// or a tenth of a smaller set.
func DefaultValidationSize(n int) int { return min(5000, n/10) }

// splitValidation holds n images of trainSet out for validation (none if n
// is 0), leaving at least half to train on.
func splitValidation(trainSet, testSet *data.Dataset, n int) (rest, val *data.Dataset, s Split, err error) {
	s = Split{Dataset: trainSet.Name, Images: trainSet.N, Train: trainSet.N}
	if testSet != nil {
		s.Test, s.TestImages = testSet.Name, testSet.N
	}
	if n == 0 {
		return trainSet, nil, s, nil
	}
	if n > trainSet.N/2 {
		return nil, nil, s, fmt.Errorf("a validation split of %d images would leave %d of the %d images of %s to train on: hold out at most half (%d)",
			n, trainSet.N-n, trainSet.N, trainSet.Name, trainSet.N/2)
	}
	rest, val, err = trainSet.HoldOut(n)
	if err != nil {
		return nil, nil, s, err
	}
	s.Train, s.Validation = rest.N, val.N
	s.Rule = "the last images of each class, in proportion to its size"
	return rest, val, s, nil
}

// matches reports whether a run folder's recorded split s is the one the
// data of this session gives (now). Folders from before splits were
// recorded (Images 0) match anything.
func (s Split) matches(now Split) error {
	if s.Images == 0 || (s.Images == now.Images && s.Validation == now.Validation && s.Dataset == now.Dataset) {
		return nil
	}
	return fmt.Errorf("the run trained on %s (%d images, %d held out for validation), this session has %s (%d images): resume with the run's --data",
		s.Dataset, s.Images, s.Validation, now.Dataset, now.Images)
}

// endEpoch scores the model on the validation split (if any), tells the
// observer and logs the epoch.
func (t *Trainer) endEpoch(epoch int, res *Result) error {
	es := EpochStats{Epoch: epoch, Step: t.st.Step, TrainLoss: res.TrainLoss, TrainAccuracy: res.TrainAccuracy,
		ImagesPerS: res.ImagesPerS, WallS: t.st.WallS}
	rec := map[string]any{"type": "epoch", "epoch": epoch, "step": t.st.Step, "train_loss": es.TrainLoss,
		"train_accuracy": es.TrainAccuracy, "images_per_s": es.ImagesPerS, "wall_s": es.WallS}
	if t.Validation != nil {
		if err := t.scoreValidation(res); err != nil {
			return err
		}
		es.ValLoss, es.ValAccuracy, es.ValImages = res.ValLoss, res.ValAccuracy, t.Validation.N
		rec["val_loss"], rec["val_accuracy"], rec["val_images"] = es.ValLoss, es.ValAccuracy, es.ValImages
	}
	if t.Observer != nil {
		t.Observer.EpochEnd(es)
	}
	t.log(rec)
	return nil
}

// scoreValidation scores the model on the validation split into res.
func (t *Trainer) scoreValidation(res *Result) error {
	ev, err := Evaluate(t.Model, t.Validation, max(t.Options.EvalBatch, t.Options.Batch))
	if err != nil {
		return err
	}
	res.ValLoss, res.ValAccuracy = ev.Loss, ev.Accuracy
	t.scored = t.st.Step
	return nil
}

// final scores the finished run's model on the validation split (unless
// already scored at this step) and, once, on the test set, and logs a
// "final" record.
func (t *Trainer) final(res *Result) error {
	rec := map[string]any{"type": "final", "step": t.st.Step}
	if t.Validation != nil {
		if t.scored != t.st.Step {
			if err := t.scoreValidation(res); err != nil {
				return err
			}
		}
		rec["val_loss"], rec["val_accuracy"], rec["val_images"] = res.ValLoss, res.ValAccuracy, t.Validation.N
	}
	if t.Test != nil {
		ev, err := Evaluate(t.Model, t.Test, max(t.Options.EvalBatch, t.Options.Batch))
		if err != nil {
			return err
		}
		res.TestLoss, res.TestAccuracy = ev.Loss, ev.Accuracy
		rec["test_loss"], rec["test_accuracy"], rec["test_images"] = ev.Loss, ev.Accuracy, t.Test.N
	}
	t.log(rec)
	return nil
}
