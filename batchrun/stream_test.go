package batchrun

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// loadAll decodes files as a caller of vit.EmbedBatch would.
func loadAll(t *testing.T, files []string) []image.Image {
	t.Helper()
	var imgs []image.Image
	for _, f := range files {
		rgb, err := imageio.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, rgb.Image())
	}
	return imgs
}

// Stream's vectors and classes are vit.EmbedBatch's and vit.ClassifyBatch's,
// bit for bit, whatever the batch and the number of decoders; bad images
// come in their place in the order, with their reason, and do not stop
// the run.
func TestStreamIsEmbedAndClassifyBatch(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t, 1)
	good := writeImages(t, dir, 37)
	bad := writeBad(t, dir, good[0])
	files := slices.Concat(good[:5], bad[:1], good[5:20], bad[1:], good[20:])
	want, err := vit.EmbedBatch(context.Background(), m, loadAll(t, good))
	if err != nil {
		t.Fatal(err)
	}
	wantTop, err := vit.ClassifyBatch(context.Background(), m, loadAll(t, good), 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{Batch: 1, Workers: 1}, {Batch: 7, Workers: 3}, {Batch: 64}} {
		for _, task := range []Task{Embed, Predict} {
			o.Task, o.Top = task, 3
			var got []Result
			progress := 0
			o.Progress = func(n int) { progress += n }
			sum, err := Stream(context.Background(), m, files, o, func(r Result) error {
				got = append(got, r)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Images != len(good) || sum.Failed != len(bad) || progress != len(files) || len(got) != len(files) {
				t.Fatalf("%+v: summary %+v, progress %d, %d results for %d files", o, sum, progress, len(got), len(files))
			}
			g := 0
			for i, r := range got {
				if r.File != files[i] {
					t.Fatalf("result %d is %s, want %s", i, r.File, files[i])
				}
				if slices.Contains(bad, r.File) {
					if r.Err == nil || !strings.HasPrefix(r.Err.Error(), r.File+": ") || FailureOf(r).Error == "" {
						t.Errorf("%s: error %v", r.File, r.Err)
					}
					continue
				}
				switch task {
				case Embed:
					if !slices.Equal(r.Features, want[g]) {
						t.Fatalf("%+v: %s: %v, vit.EmbedBatch %v", o, r.File, r.Features, want[g])
					}
				case Predict:
					if !slices.Equal(r.Top, wantTop[g]) {
						t.Fatalf("%+v: %s: %v, vit.ClassifyBatch %v", o, r.File, r.Top, wantTop[g])
					}
				}
				g++
			}
		}
	}
	lines, err := EmbeddingLines(good[:2], want[:2])
	if err != nil || len(lines) != 2 || !strings.HasPrefix(string(lines[0]), `{"file":"`+good[0]+`","features":[`) {
		t.Fatalf("EmbeddingLines: %q, %v", lines, err)
	}
}

// The reasons of bad images say what is wrong.
func TestFailureReasons(t *testing.T) {
	dir := t.TempDir()
	good := writeImages(t, dir, 1)
	bad := writeBad(t, dir, good[0])
	var fails []Failure
	_, err := Stream(context.Background(), tinyModel(t, 1), append(bad, dir), Options{Task: Embed}, func(r Result) error {
		fails = append(fails, FailureOf(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"unknown format", "not enough pixel data", "no such file", "a folder, not an image"} {
		if !strings.Contains(fails[i].Error, want) || strings.Contains(fails[i].Error, fails[i].File) {
			t.Errorf("%s: reason %q, want one saying %q (without the file's name)", fails[i].File, fails[i].Error, want)
		}
	}
}

// Images are read a bounded window ahead of the model: while the first
// results wait, no more files are opened than the batch in the model and
// the window (2·batch + workers), whatever the number of files.
func TestReadAheadBounded(t *testing.T) {
	img := writeImages(t, t.TempDir(), 1)[0]
	files := make([]string, 5000)
	for i := range files {
		files[i] = fmt.Sprintf("image-%04d.png", i)
	}
	var opened atomic.Int64
	o := Options{Task: Embed, Batch: 4, Workers: 3, Path: func(string) string {
		opened.Add(1)
		return img
	}}
	stop := errors.New("stop")
	var seen int64
	_, err := Stream(context.Background(), tinyModel(t, 1), files, o, func(Result) error {
		time.Sleep(300 * time.Millisecond) // the workers run ahead as far as they may
		seen = opened.Load()
		return stop
	})
	if err != stop {
		t.Fatal(err)
	}
	if bound := int64(o.Batch + 2*o.Batch + o.Workers); seen > bound || seen < int64(o.Batch) {
		t.Fatalf("%d files opened while the first result waited; at most %d may be", seen, bound)
	}
}
