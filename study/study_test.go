package study

import (
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/data"
)

// synthetic returns n random 1×8×12 images of 3 classes.
func synthetic(n int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &data.Dataset{Name: "synthetic", N: n, C: 1, H: 8, W: 12, Classes: []string{"a", "b", "c"}}
	d.Pixels = make([]uint8, n*d.ImageSize())
	for i := range d.Pixels {
		d.Pixels[i] = uint8(rng.IntN(256))
	}
	d.Labels = make([]int, n)
	for i := range d.Labels {
		d.Labels[i] = rng.IntN(3)
	}
	return d
}

func readStudy(t *testing.T, dir string) Study {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var st Study
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDataSizeResume runs a tiny data-size plan (3 steps a run, 2 seeds), cancels
// it during its fifth run, and resumes it: the four finished runs are
// kept as they were, the progress starts from their steps, and the
// finished study has every planned run, study.json and study.html.
func TestDataSizeResume(t *testing.T) {
	t.Parallel()
	trainSet, testSet := synthetic(200, 1), synthetic(30, 2)
	dir := t.TempDir()
	o := Options{Sizes: []int{30, 60}, Steps: 3, Batch: 8, Seeds: 2}
	plan, err := NewPlan("data-size", o, trainSet.N, 8, 12, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Specs) != 12 { // 2 sizes × 3 families × 2 seeds
		t.Fatalf("%d runs planned, want 12", len(plan.Specs))
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.Progress = func(p Progress) {
		if p.Index == 5 && p.Done == 4*3+2 {
			cancel()
		}
	}
	if _, err := Run(ctx, "data-size", trainSet, testSet, dir, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled study: %v, want context.Canceled", err)
	}
	first := readStudy(t, dir)
	if len(first.Results) != 4 {
		t.Fatalf("%d runs finished before the cancel, want 4", len(first.Results))
	}
	var starts []int
	o.Progress = func(p Progress) { starts = append(starts, p.Done) }
	st, err := Run(context.Background(), "data-size", trainSet, testSet, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if starts[0] != 4*3 {
		t.Errorf("the resumed study starts at step %d, want 12 (four finished runs)", starts[0])
	}
	if len(st.Results) != 12 || st.Planned != 12 {
		t.Fatalf("%d of %d runs finished, want 12", len(st.Results), st.Planned)
	}
	for i, r := range first.Results {
		if got := st.Results[i]; got.ID != r.ID || got.WallS != r.WallS || got.TestAccuracy != r.TestAccuracy {
			t.Errorf("finished run %s was redone: %+v, was %+v", r.ID, got, r)
		}
	}
	seen := map[string]bool{}
	for _, r := range st.Results {
		if seen[r.ID] {
			t.Errorf("run %s twice", r.ID)
		}
		seen[r.ID] = true
		if r.Steps != 3 || r.FLOPs <= 0 || r.TrainFLOPs != 3*float64(r.FLOPs)*3*8 || !r.Selected || r.TestAccuracy < 0 || r.TestAccuracy > 1 {
			t.Errorf("run %s: %+v", r.ID, r)
		}
	}
	if pts := st.Points(); len(pts) != 6 || pts[0].Runs != 2 {
		t.Errorf("points %+v, want 6 of 2 runs each", pts)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "data:image/png;base64,") || !strings.Contains(string(page), "resnet-30-lr0.002-seed2") {
		t.Errorf("study.html lacks the plot or a run")
	}
	if f, err := os.Open(filepath.Join(dir, PlotFile)); err != nil {
		t.Error(err)
	} else {
		if cfg, err := png.DecodeConfig(f); err != nil || cfg.Width < 300 {
			t.Errorf("study.png: %+v, %v", cfg, err)
		}
		f.Close()
	}
	// Another study in the same folder is refused.
	if _, err := Run(context.Background(), "compute", trainSet, testSet, dir, o); err == nil || !strings.Contains(err.Error(), "use another --out") {
		t.Errorf("a compute study in a data-size folder: %v", err)
	}
}

// TestPosEmbedAndCompute runs the tiny pos-embed and compute plans: every
// position embedding trains, and the compute study marks a Pareto front.
func TestPosEmbedAndCompute(t *testing.T) {
	t.Parallel()
	trainSet, testSet := synthetic(100, 3), synthetic(20, 4)
	o := Options{Steps: 2, Batch: 8}
	st, err := Run(context.Background(), "pos-embed", trainSet, testSet, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, p := range st.Points() {
		points = append(points, p.Point)
	}
	if strings.Join(points, ",") != "none,learned,learned-2d,sincos,relative" {
		t.Errorf("pos-embed points %v", points)
	}
	st, err = Run(context.Background(), "compute", trainSet, testSet, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"vit", "hybrid", "resnet"} {
		front, cheapest := false, true
		for _, p := range st.Points() {
			if p.Family == fam {
				front = front || p.Pareto
				if cheapest && !p.Pareto {
					t.Errorf("%s: the cheapest point %s is off the Pareto front", fam, p.Point)
				}
				cheapest = false
			}
		}
		if !front {
			t.Errorf("%s has no Pareto front", fam)
		}
	}
}

// TestPlotPNG writes the plot of the last data-size study run by hand
// (STUDY_DIR) for a look; skipped otherwise.
func TestPlotPNG(t *testing.T) {
	dir := os.Getenv("STUDY_DIR")
	if dir == "" {
		t.Skip("set STUDY_DIR to a study folder")
	}
	st := readStudy(t, dir)
	img, err := st.Plot()
	if err != nil || img == nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "plot.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
