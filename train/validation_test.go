package train

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vitgo/vit/data"
)

// epochs records the EpochStats a run reports.
type epochs []EpochStats

func (e *epochs) EpochStart(int, int, int) {}
func (e *epochs) Step(StepStats)           {}
func (e *epochs) EpochEnd(s EpochStats)    { *e = append(*e, s) }

// TestValidationSplit checks that a run trains on the training set less
// its validation split, that the two are disjoint, and that the split is
// recorded in the run folder and the same when resumed.
func TestValidationSplit(t *testing.T) {
	train, test := data.Embedded()
	train = train.Subset(seq(300))
	// Stamp each image with its index, so that images can be told apart.
	for i := range train.N {
		img := train.Image(i)
		img[0], img[1] = uint8(i>>8), uint8(i)
	}
	o := recipe()
	o.ValidationSize = 40
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(tinyModel(t, train, 1), train, test, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Train.N != 260 || tr.Validation.N != 40 {
		t.Fatalf("trains on %d and validates on %d of 300 images, want 260 and 40", tr.Train.N, tr.Validation.N)
	}
	stamp := func(d *data.Dataset, j int) int { img := d.Image(j); return int(img[0])<<8 | int(img[1]) }
	inTrain := map[int]bool{}
	for j := range tr.Train.N {
		inTrain[stamp(tr.Train, j)] = true
	}
	for j := range tr.Validation.N {
		if i := stamp(tr.Validation, j); inTrain[i] {
			t.Fatalf("image %d is both trained on and held out", i)
		}
	}
	if len(inTrain) != 260 {
		t.Fatalf("%d distinct training images, want 260", len(inTrain))
	}

	o.StopAt = 3
	tr.Options.StopAt = 3
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	want := Split{Dataset: train.Name, Images: 300, Train: 260, Validation: 40, Test: test.Name, TestImages: test.N, Rule: st.Split.Rule}
	if st.Split != want || st.Options.ValidationSize != 40 {
		t.Fatalf("state.json records split %+v (validation size %d), want %+v", st.Split, st.Options.ValidationSize, want)
	}
	re, err := Resume(dir, train, test)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(re.Validation.Pixels, tr.Validation.Pixels) || !slices.Equal(re.Train.Pixels, tr.Train.Pixels) {
		t.Fatal("the resumed run splits the data differently")
	}
	if _, err := Resume(dir, train.Subset(seq(280)), test); err == nil {
		t.Fatal("resuming on a different training set gave no error")
	}
}

// TestValidationScoredEachEpoch checks that the score after each epoch is
// the validation split's and the test set is scored once, at the end. The
// test set is the validation images with every label moved to the next
// class, so a per-epoch score taken on it could not equal the validation
// score.
func TestValidationScoredEachEpoch(t *testing.T) {
	train, _ := data.Embedded()
	train = train.Subset(seq(240))
	o := recipe()
	o.ValidationSize = 48
	o.Epochs = 2
	// The test set: the images New will hold out, with wrong labels.
	_, held, err := train.HoldOut(o.ValidationSize)
	if err != nil {
		t.Fatal(err)
	}
	test := held.Subset(seq(held.N))
	for i := range test.Labels {
		test.Labels[i] = (test.Labels[i] + 1) % len(test.Classes)
	}
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(tinyModel(t, train, 1), train, test, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	var seen epochs
	tr.Observer = &seen
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	val, err := Evaluate(tr.Model, tr.Validation, o.Batch)
	if err != nil {
		t.Fatal(err)
	}
	onTest, err := Evaluate(tr.Model, test, o.Batch)
	if err != nil {
		t.Fatal(err)
	}
	if val.Accuracy == onTest.Accuracy {
		t.Fatalf("validation and relabelled test sets score alike (%v): the test cannot tell them apart", val.Accuracy)
	}
	if len(seen) != 2 {
		t.Fatalf("%d epochs reported, want 2", len(seen))
	}
	last := seen[len(seen)-1]
	if last.ValImages != 48 || last.ValAccuracy != val.Accuracy || last.ValLoss != val.Loss {
		t.Fatalf("epoch 2 reports validation accuracy %v, loss %v on %d images; the validation split scores %v, %v on 48 (the test set %v)",
			last.ValAccuracy, last.ValLoss, last.ValImages, val.Accuracy, val.Loss, onTest.Accuracy)
	}
	if res.ValAccuracy != val.Accuracy || res.TestAccuracy != onTest.Accuracy || res.TestLoss != onTest.Loss {
		t.Fatalf("result: validation %v, test %v (loss %v); want %v, %v (%v)", res.ValAccuracy, res.TestAccuracy, res.TestLoss, val.Accuracy, onTest.Accuracy, onTest.Loss)
	}

	// The metrics log: validation scores per epoch, the test score once.
	f, err := os.Open(filepath.Join(dir, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var epochRecs, finals int
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		switch r["type"] {
		case "epoch":
			epochRecs++
			if _, ok := r["test_accuracy"]; ok {
				t.Errorf("epoch record holds a test score: %v", r)
			}
			if r["val_images"] != float64(48) {
				t.Errorf("epoch record %v: want val_images 48", r)
			}
		case "final":
			finals++
			if r["test_accuracy"] != onTest.Accuracy || r["val_accuracy"] != val.Accuracy {
				t.Errorf("final record %v: want test_accuracy %v, val_accuracy %v", r, onTest.Accuracy, val.Accuracy)
			}
		}
	}
	if epochRecs != 2 || finals != 1 {
		t.Fatalf("metrics log: %d epoch and %d final records, want 2 and 1", epochRecs, finals)
	}
}

func TestValidationSizeBounds(t *testing.T) {
	train, test := data.Embedded()
	train = train.Subset(seq(100))
	for _, n := range []int{-1, 51, 100, 200} {
		o := recipe()
		o.ValidationSize = n
		if _, err := New(tinyModel(t, train, 1), train, test, o, ""); err == nil {
			t.Errorf("validation size %d of 100 images accepted", n)
		}
	}
	if got := DefaultValidationSize(60000); got != 5000 {
		t.Errorf("DefaultValidationSize(60000) = %d, want 5000", got)
	}
	if got := DefaultValidationSize(2000); got != 200 {
		t.Errorf("DefaultValidationSize(2000) = %d, want 200", got)
	}
}
