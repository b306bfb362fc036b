package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMeanSD(t *testing.T) {
	m, sd := meanSD([]float64{91, 92, 93})
	if m != 92 || math.Abs(sd-1) > 1e-12 {
		t.Fatalf("mean %v, sd %v of 91, 92, 93; want 92, 1 (sample sd)", m, sd)
	}
	if m, sd := meanSD([]float64{90}); m != 90 || sd != 0 {
		t.Fatalf("one value: %v ± %v", m, sd)
	}
}

// fakeVit writes a stand-in for the vit binary that prints out as its
// --json result and records its arguments in args.txt.
func fakeVit(t *testing.T, out string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "vit")
	script := "#!/bin/sh\necho \"$@\" > " + filepath.Join(dir, "args.txt") + "\necho 'training...' >&2\ncat <<'EOF'\n" + out + "\nEOF\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunSeed(t *testing.T) {
	vit := fakeVit(t, `{"run":"r","steps":20,"finished":true,"validation_accuracy":0.5,"test_accuracy":0.25,"wall_s":3,"split":{"validation":600,"test_images":1000}}`)
	dir := t.TempDir()
	r, err := runSeed(vit, "quick", 7, dir, []string{"--steps", "20"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seed != 7 || r.ValAccuracy != 0.5 || r.TestAcc != 0.25 || r.ValImages != 600 || r.TestImages != 1000 || r.TrainWallS != 3 {
		t.Fatalf("parsed %+v", r)
	}
	args, _ := os.ReadFile(filepath.Join(filepath.Dir(vit), "args.txt"))
	want := "train --recipe quick --seed 7 --out " + filepath.Join(dir, "seed-7") + " --json --steps 20"
	if strings.TrimSpace(string(args)) != want {
		t.Fatalf("ran vit %s, want %s", args, want)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "seed-7.log")); !strings.Contains(string(log), "training...") {
		t.Fatalf("log holds %q", log)
	}
	table := summary("quick", nil, []result{r, {Seed: 8, ValAccuracy: 0.7, TestAcc: 0.45}})
	if !strings.Contains(table, "| mean ± sd | | 60.00 ± 14.14% | 35.00 ± 14.14% |") {
		t.Fatalf("summary:\n%s", table)
	}
}

func TestRunSeedRefuses(t *testing.T) {
	unfinished := fakeVit(t, `{"steps":3,"finished":false}`)
	if _, err := runSeed(unfinished, "quick", 1, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "without finishing") {
		t.Fatalf("an unfinished run: %v", err)
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "seed-1"), 0o755)
	finished := fakeVit(t, `{"steps":3,"finished":true}`)
	if _, err := runSeed(finished, "quick", 1, dir, nil); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("an existing run folder: %v", err)
	}
	for _, a := range []string{"--seed", "--seed=3", "-out", "--resume"} {
		if n := flagName(a); n != strings.TrimLeft(strings.Split(a, "=")[0], "-") {
			t.Errorf("flagName(%q) = %q", a, n)
		}
	}
	if flagName("20") != "" {
		t.Error("a value taken for a flag")
	}
}
