package train

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/vitgo/vit/data"
)

// EvaluateContext reports progress after each batch, scores as Evaluate
// does, stops when its context is done and refuses a batch below 1.
func TestEvaluateContext(t *testing.T) {
	_, test := data.Embedded()
	test = test.Subset(seq(150))
	m := tinyModel(t, test, 3)
	var calls []int
	got, err := EvaluateContext(context.Background(), m, test, EvalOptions{Batch: 64, Progress: func(done, total int) {
		if total != 150 {
			t.Errorf("progress total %d, want 150", total)
		}
		calls = append(calls, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(calls, []int{64, 128, 150}) {
		t.Errorf("progress %v, want [64 128 150]", calls)
	}
	want, err := Evaluate(m, test, 64)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("EvaluateContext %+v, Evaluate %+v (%v)", got, want, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EvaluateContext(ctx, m, test, EvalOptions{Batch: 64}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := EvaluateContext(context.Background(), m, test, EvalOptions{}); err == nil {
		t.Error("batch 0 accepted")
	}
	// An empty or missing dataset is an error, not a panic in the loader; a
	// batch beyond the dataset evaluates it in one batch of its size.
	for _, d := range []*data.Dataset{nil, test.Subset(nil)} {
		if _, err := EvaluateContext(context.Background(), m, d, EvalOptions{Batch: 64}); err == nil {
			t.Errorf("an empty dataset (%v) evaluated", d)
		}
	}
	whole, _ := Evaluate(m, test, test.N)
	if got, err := EvaluateContext(context.Background(), m, test, EvalOptions{Batch: 1 << 40}); err != nil || !reflect.DeepEqual(got, whole) {
		t.Errorf("batch 2⁴⁰: %+v (%v), want %+v", got, err, whole)
	}
	if f, err := Features(context.Background(), m, test.Subset(nil)); err != nil || len(f) != 0 {
		t.Errorf("features of no images: %v (%v), want none", f, err)
	}
}
