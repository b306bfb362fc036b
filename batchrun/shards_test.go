package batchrun

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/vitgo/vit/safetensors"
)

// runShards runs files into dir with o and returns the summary.
func runShards(t *testing.T, dir string, files []string, o ShardOptions) Summary {
	t.Helper()
	s, err := OpenShards(dir, tinyModel(t, 1), files, o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

var embedShards = ShardOptions{Options: Options{Task: Embed, Batch: 8, Workers: 2}, Format: JSONL, ShardSize: 20, Model: "tiny"}

// A run stopped between shards (its context cancelled) keeps its finished
// shards and no temporary file; the rerun does the rest, and the folder
// then holds what an uninterrupted run writes, file for file.
func TestCancelledRunResumes(t *testing.T) {
	in := t.TempDir()
	good := writeImages(t, in, 95)
	files := slices.Concat(good[:30], writeBad(t, in, good[0]), good[30:])

	whole := filepath.Join(t.TempDir(), "whole")
	sum := runShards(t, whole, files, embedShards)
	if sum.Images != 95 || sum.Failed != 3 || sum.Done != 0 {
		t.Fatalf("uninterrupted run: %+v", sum)
	}

	split := filepath.Join(t.TempDir(), "split")
	ctx, cancel := context.WithCancel(context.Background())
	o := embedShards
	seen := 0
	o.Progress = func(n int) {
		if seen += n; seen >= 45 { // in shard 2, after shards 0 and 1
			cancel()
		}
	}
	s, err := OpenShards(split, tinyModel(t, 1), files, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	ents, _ := os.ReadDir(split)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"embeddings-00000.jsonl", "embeddings-00001.jsonl", "errors-00001.jsonl", "manifest-00000.json", "manifest-00001.json", "run.json"}; !slices.Equal(names, want) {
		t.Fatalf("after the cancelled run the folder holds %q, want %q", names, want)
	}

	s, err = OpenShards(split, tinyModel(t, 1), files, embedShards)
	if err != nil {
		t.Fatal(err)
	}
	if s.Done() != 40 || s.Left() != 58 {
		t.Fatalf("resuming: %d done, %d left; want 40 and 58", s.Done(), s.Left())
	}
	sum, err = s.Run(context.Background())
	if err != nil || sum.Images != 95-37 || sum.Failed != 3 || sum.Done != 40 {
		t.Fatalf("resumed run: %+v, %v", sum, err)
	}
	sameFolders(t, whole, split)

	// A third run has nothing to do.
	s, err = OpenShards(split, tinyModel(t, 1), files, embedShards)
	if err != nil || s.Left() != 0 || s.Done() != len(files) {
		t.Fatalf("a finished folder: %v left, %v", s.Left(), err)
	}
}

// sameFolders fails unless folders a and b hold the same files with the
// same bytes.
func sameFolders(t *testing.T, a, b string) {
	t.Helper()
	ea, _ := os.ReadDir(a)
	eb, _ := os.ReadDir(b)
	if len(ea) != len(eb) {
		t.Fatalf("%s holds %d files, %s %d", a, len(ea), b, len(eb))
	}
	for i := range ea {
		if ea[i].Name() != eb[i].Name() {
			t.Fatalf("%s holds %s where %s holds %s", a, ea[i].Name(), b, eb[i].Name())
		}
		x, _ := os.ReadFile(filepath.Join(a, ea[i].Name()))
		y, _ := os.ReadFile(filepath.Join(b, eb[i].Name()))
		if string(x) != string(y) {
			t.Fatalf("%s differs between %s and %s", ea[i].Name(), a, b)
		}
	}
}

// The shards are written as the run goes; a killed run leaves the files
// of the shard in progress (and atomicfile's temporary files), which the
// rerun removes before doing that shard again.
func TestUnfinishedShardRedone(t *testing.T) {
	in := t.TempDir()
	files := writeImages(t, in, 50)
	whole := filepath.Join(t.TempDir(), "whole")
	runShards(t, whole, files, embedShards)

	split := filepath.Join(t.TempDir(), "split")
	runShards(t, split, files, embedShards)
	// As if killed in shard 1's commit, after its data file was in place,
	// and in shard 2's, before.
	os.Remove(filepath.Join(split, "manifest-00001.json"))
	os.Remove(filepath.Join(split, "manifest-00002.json"))
	os.Remove(filepath.Join(split, "embeddings-00002.jsonl"))
	os.WriteFile(filepath.Join(split, ".embeddings-00002.jsonl.tmp123"), []byte("{partial"), 0o600)
	os.WriteFile(filepath.Join(split, "embeddings-00007.jsonl"), []byte("{stale"), 0o600)
	sum := runShards(t, split, files, embedShards)
	if sum.Done != 20 || sum.Images != 30 {
		t.Fatalf("rerun: %+v", sum)
	}
	sameFolders(t, whole, split)
}

// Safetensors and Parquet shards hold the numbers of the JSON lines.
func TestFormatsAgree(t *testing.T) {
	in := t.TempDir()
	good := writeImages(t, in, 45)
	files := append(good, writeBad(t, in, good[0])...)
	jsonDir := filepath.Join(t.TempDir(), "jsonl")
	runShards(t, jsonDir, files, embedShards)
	lines, fails, mans := shardsOf(t, jsonDir)
	want := embeddings(t, lines)
	if len(want) != 45 || len(fails) != 3 || len(mans) != 3 {
		t.Fatalf("%d embeddings, %d failures, %d shards", len(want), len(fails), len(mans))
	}

	for _, f := range []Format{Safetensors, Parquet} {
		dir := filepath.Join(t.TempDir(), string(f))
		o := embedShards
		o.Format = f
		runShards(t, dir, files, o)
		var got []Embedding
		for n := range mans {
			path := filepath.Join(dir, dataName(Embed, f, n))
			switch f {
			case Safetensors:
				st, err := safetensors.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				x, shape, err := st.Float32("features")
				var names []string
				if err == nil {
					err = json.Unmarshal([]byte(st.Metadata()["files"]), &names)
				}
				if err != nil || len(shape) != 2 || shape[0] != len(names) || shape[1] != 16 || st.Metadata()["model"] != "tiny" {
					t.Fatalf("%s: shape %v, metadata %v, %v", path, shape, st.Metadata(), err)
				}
				for i, name := range names {
					got = append(got, Embedding{File: name, Features: x[i*16 : (i+1)*16]})
				}
				st.Close()
			case Parquet:
				rows, err := parquet.ReadFile[ParquetRow](path)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if r.Model != "tiny" {
						t.Fatalf("%s: model %q", path, r.Model)
					}
					got = append(got, Embedding{File: r.File, Features: r.Vector})
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d embeddings, JSON lines %d", f, len(got), len(want))
		}
		for i := range want {
			if got[i].File != want[i].File || !slices.Equal(got[i].Features, want[i].Features) {
				t.Fatalf("%s: %s %v, JSON lines %s %v", f, got[i].File, got[i].Features, want[i].File, want[i].Features)
			}
		}
		_, fails2, _ := shardsOf(t, dir)
		if !slices.Equal(fails, fails2) {
			t.Fatalf("%s: failures %v, JSON lines %v", f, fails2, fails)
		}
	}
}

// The errors files hold each bad image with its reason; the manifests
// list them, and the data files only the good ones.
func TestBadImagesInErrorsFiles(t *testing.T) {
	in := t.TempDir()
	good := writeImages(t, in, 25)
	bad := writeBad(t, in, good[0])
	files := slices.Concat(good[:19], bad, good[19:])
	dir := filepath.Join(t.TempDir(), "out")
	sum := runShards(t, dir, files, embedShards)
	if sum.Images != 25 || sum.Failed != 3 {
		t.Fatalf("summary %+v", sum)
	}
	lines, fails, mans := shardsOf(t, dir)
	if len(lines) != 25 || len(mans) != 2 || mans[0].Errors != "errors-00000.jsonl" || !slices.Equal(mans[1].Failed, bad[1:]) {
		t.Fatalf("%d lines, manifests %+v", len(lines), mans)
	}
	for i, f := range fails {
		if f.File != bad[i] || f.Error == "" {
			t.Errorf("failure %d: %+v, want %s with a reason", i, f, bad[i])
		}
	}
	// The failed images count again on a rerun (the folder has them).
	s, err := OpenShards(dir, tinyModel(t, 1), files, embedShards)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := s.Run(context.Background()); err != nil || sum.Failed != 3 || sum.Images != 0 || sum.Done != len(files) {
		t.Fatalf("rerun: %+v, %v", sum, err)
	}
}

// Predictions are written as vit predict --json's lines.
func TestPredictShards(t *testing.T) {
	in := t.TempDir()
	files := writeImages(t, in, 30)
	dir := filepath.Join(t.TempDir(), "out")
	o := ShardOptions{Options: Options{Task: Predict, Top: 2, Logits: true}, Format: JSONL, ShardSize: 16}
	runShards(t, dir, files, o)
	var got []Result
	if _, err := Stream(context.Background(), tinyModel(t, 1), files, o.Options, func(r Result) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	lines, _, _ := shardsOf(t, dir)
	for i, l := range lines {
		var p Prediction
		if err := json.Unmarshal(l, &p); err != nil {
			t.Fatal(err)
		}
		if p.File != got[i].File || !slices.Equal(p.Top, got[i].Top) || !slices.Equal(p.Logits, got[i].Logits) || len(p.Top) != 2 {
			t.Fatalf("line %d: %s, want %+v", i, l, got[i])
		}
	}
	if !strings.HasPrefix(dataName(Predict, JSONL, 3), "predictions-00003.jsonl") {
		t.Fatal(dataName(Predict, JSONL, 3))
	}
	o.Format = Parquet
	if _, err := OpenShards(filepath.Join(t.TempDir(), "p"), tinyModel(t, 1), files, o); err == nil || !strings.Contains(err.Error(), "JSON lines") {
		t.Fatalf("predictions in Parquet: %v", err)
	}
}

// A folder made with another model or options, or one that is no folder
// of shards, is refused with what differs.
func TestOtherRunsRefused(t *testing.T) {
	in := t.TempDir()
	files := writeImages(t, in, 5)
	dir := filepath.Join(t.TempDir(), "out")
	runShards(t, dir, files, embedShards)
	other := func(change func(*ShardOptions)) ShardOptions {
		o := embedShards
		o.Settings = map[string]string{}
		change(&o)
		return o
	}
	for _, tc := range []struct {
		seed uint64
		o    ShardOptions
		want string
	}{
		{2, embedShards, "model tiny (weights "},
		{1, other(func(o *ShardOptions) { o.ShardSize = 7 }), "shard size 20 there, 7 here"},
		{1, other(func(o *ShardOptions) { o.Format = Parquet }), "format jsonl there, parquet here"},
		{1, other(func(o *ShardOptions) { o.Settings["dtype"] = "bf16" }), `dtype "" there, bf16 here`},
		{1, other(func(o *ShardOptions) { o.Task = Predict }), "task embed there, predict here"},
	} {
		_, err := OpenShards(dir, tinyModel(t, tc.seed), files, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "another folder") {
			t.Errorf("seed %d, %+v: %v; want an error saying %q", tc.seed, tc.o, err, tc.want)
		}
	}
	// The same weights under another name go on.
	o := embedShards
	o.Model = "renamed"
	if _, err := OpenShards(dir, tinyModel(t, 1), files, o); err != nil {
		t.Errorf("same weights, another name: %v", err)
	}

	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	if _, err := OpenShards(foreign, tinyModel(t, 1), files, embedShards); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("a folder of other files: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "manifest-00000.json"), []byte(`{"shard": 0, "data": "embeddings-00000.jsonl", "files": ["a", 7]}`), 0o644)
	if _, err := OpenShards(dir, tinyModel(t, 1), files, embedShards); err == nil || !strings.Contains(err.Error(), "manifest-00000.json") {
		t.Errorf("a corrupt manifest: %v", err)
	}
	os.WriteFile(filepath.Join(dir, RunFile), []byte(`{"vit_batchrun": 1, "task": `), 0o644)
	if _, err := OpenShards(dir, tinyModel(t, 1), files, embedShards); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("a corrupt run.json: %v", err)
	}
}

func TestModelName(t *testing.T) {
	for path, want := range map[string]string{
		"runs/fmnist":                          "fmnist",
		"runs/fmnist/":                         "fmnist",
		"testdata/grey/model.safetensors":      "grey",
		"vit_base_patch16_224.safetensors":     "vit_base_patch16_224",
		"ViT-B_16.npz":                         "ViT-B_16",
		"model.safetensors":                    "model",
		"hf/google-vit-base/model.safetensors": "google-vit-base",
	} {
		if got := ModelName(path); got != want {
			t.Errorf("ModelName(%q) = %q, want %q", path, got, want)
		}
	}
}
