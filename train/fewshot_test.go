package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
)

// FewShot gives exactly what vit fewshot printed before it moved into the
// library (testdata/fewshot-grey.json: vit fewshot --model
// testdata/classify/grey --data embedded --shots 1,5,10 --trials 3
// --test-images 500 --json, on main at 2a97184).
func TestFewShotMatchesCLI(t *testing.T) {
	m, err := checkpoint.Load("../testdata/classify/grey/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	trainSet, testSet, err := data.Open("embedded")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		TestImages int             `json:"test_images"`
		Results    []FewShotResult `json:"results"`
	}
	b, err := os.ReadFile("testdata/fewshot-grey.json")
	if err != nil || json.Unmarshal(b, &want) != nil {
		t.Fatalf("golden: %v", err)
	}
	last, total := 0, 0
	got, n, err := FewShot(context.Background(), m, trainSet, testSet, FewShotOptions{Shots: []int{1, 5, 10}, Trials: 3, L2: 1, TestImages: 500, Seed: 1,
		Progress: func(done, all int) {
			if done <= last || done > all {
				t.Errorf("progress %d of %d after %d", done, all, last)
			}
			last, total = done, all
		}})
	if err != nil {
		t.Fatal(err)
	}
	if last != total || total != 300+500 { // 10 classes × 10 shots × 3 trials, and the test images
		t.Errorf("progress ended at %d of %d, want 800 of 800", last, total)
	}
	if n != want.TestImages || len(got) != len(want.Results) {
		t.Fatalf("%d test images, %d results; want %d, %d", n, len(got), want.TestImages, len(want.Results))
	}
	for i, w := range want.Results {
		g := got[i]
		if g.Shots != w.Shots || g.Accuracy != w.Accuracy || g.Std != w.Std || len(g.Trials) != len(w.Trials) {
			t.Fatalf("result %d: %+v, want %+v", i, g, w)
		}
		for j := range w.Trials {
			if g.Trials[j] != w.Trials[j] {
				t.Fatalf("result %d: %+v, want %+v", i, g, w)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := FewShot(ctx, m, trainSet, testSet, FewShotOptions{Shots: []int{1}, Trials: 1, L2: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	for _, o := range []FewShotOptions{{Trials: 1, L2: 1}, {Shots: []int{0}, Trials: 1, L2: 1}, {Shots: []int{1}, L2: 1}, {Shots: []int{10000}, Trials: 1, L2: 1},
		{Shots: []int{1}, Trials: 1, L2: math.NaN()}, {Shots: []int{1}, Trials: 1, L2: -1}, {Shots: []int{1}, Trials: 1, L2: math.Inf(1)},
		{Shots: []int{1}, Trials: 1}, {Shots: []int{1}, Trials: 1, L2: 1, TestImages: -5}} {
		if _, _, err := FewShot(context.Background(), m, trainSet, testSet, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	ok := FewShotOptions{Shots: []int{1}, Trials: 1, L2: 1}
	for _, sets := range [][2]*data.Dataset{{nil, testSet}, {trainSet, nil}, {trainSet.Subset(nil), testSet}, {trainSet, testSet.Subset(nil)}} {
		if _, _, err := FewShot(context.Background(), m, sets[0], sets[1], ok); err == nil {
			t.Errorf("FewShot on %v and %v: no error", sets[0], sets[1])
		}
	}
}
