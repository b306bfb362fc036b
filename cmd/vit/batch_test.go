package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
)

// saveFashionModel writes a small random model of 28×28 grey images into
// a temporary folder.
func saveFashionModel(t *testing.T) string {
	t.Helper()
	c := vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32,
		Classes: 10, Labels: data.FashionMNISTClasses, Mean: []float32{0.286}, Std: []float32{0.353}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "fashion")
	if err := checkpoint.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fashionPNGs writes the first n test images of the embedded Fashion-MNIST
// into dir as PNG files and returns their paths, in order.
func fashionPNGs(t *testing.T, dir string, n int) []string {
	t.Helper()
	_, test := data.Embedded()
	var files []string
	for i := range n {
		img := &image.Gray{Pix: slices.Clone(test.Image(i)), Stride: test.W, Rect: image.Rect(0, 0, test.W, test.H)}
		path := filepath.Join(dir, fmt.Sprintf("img-%03d.png", i))
		f, err := os.Create(path)
		if err == nil {
			err = png.Encode(f, img)
		}
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return files
}

// vit embed and vit predict into folders: globs and list files in, shards
// out; a bad image fails the command, with how many and where the reasons
// are, but not the run; a rerun goes on, and one with other options is
// refused.
func TestEmbedAndPredictFolders(t *testing.T) {
	dir := t.TempDir()
	model := saveFashionModel(t)
	imgs := fashionPNGs(t, dir, 30)
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("no image"), 0o644)
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(strings.Join(append(imgs[20:], bad), "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out")
	args := []string{"embed", "--model", model, "--out", out, "--format", "parquet", "--shard-size", "8", filepath.Join(dir, "img-00?.png"), "--list", list}

	code, so, se := runVit(nil, args...)
	if code != 1 || !strings.Contains(so, "20 embeddings of dimension 16 written to "+out) ||
		!strings.Contains(se, "vit embed: 1 of 21 images could not be read: why is in "+filepath.Join(out, "errors-*.jsonl")) || crashed(se) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, so, se)
	}
	var files []string
	for n := range 3 {
		rows, err := parquet.ReadFile[batchrun.ParquetRow](filepath.Join(out, fmt.Sprintf("embeddings-%05d.parquet", n)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			files = append(files, r.File)
		}
	}
	// img-00?.png matches the first ten; the list names the last ten and
	// the bad one: shards of 8 hold 8, 8 and 5 (with the bad one).
	if want := slices.Concat(imgs[:10], imgs[20:]); !slices.Equal(files, want) {
		t.Fatalf("the shards hold %q, want %q", files, want)
	}
	if b, err := os.ReadFile(filepath.Join(out, "errors-00002.jsonl")); err != nil || !strings.HasPrefix(string(b), `{"file":"`+bad+`","error":"imageio: not a PNG, JPEG`) {
		t.Fatalf("errors file: %q, %v", b, err)
	}

	code, so, se = runVit(nil, args...)
	if code != 1 || !strings.Contains(se, "21 images already done in "+out+"; running the other 0") || !strings.Contains(so, "0 embeddings") {
		t.Fatalf("rerun: exit %d, stdout %q, stderr %q", code, so, se)
	}
	args[len(args)-4] = "9" // --shard-size
	if code, _, se = runVit(nil, args...); code != 1 || !strings.Contains(se, "shard size 8 there, 9 here") {
		t.Fatalf("rerun with another shard size: exit %d, stderr %q", code, se)
	}

	pred := filepath.Join(dir, "pred")
	code, so, se = runVit(nil, "predict", "--model", model, "--out", pred, "--top", "2", "--logits", "--list", list)
	if code != 1 || !strings.Contains(so, "10 predictions written to "+pred) {
		t.Fatalf("predict --out: exit %d, stdout %q, stderr %q", code, so, se)
	}
	code, so, _ = runVit(nil, "predict", "--model", model, "--json", "--top", "2", "--logits", "--list", list)
	b, err := os.ReadFile(filepath.Join(pred, "predictions-00000.jsonl"))
	if err != nil || code != 1 || string(b) != strings.Join(strings.Split(so, "\n")[:10], "\n")+"\n" {
		t.Fatalf("predict --out wrote %q\npredict --json printed %q", b, so)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--model", model, "--out", filepath.Join(dir, "p.jsonl"), imgs[0]}, "vit predict writes a folder of shards"},
		{[]string{"predict", "--model", model, "--shard-size", "3", imgs[0]}, "--shard-size without --out"},
		{[]string{"embed", "--model", model, "--out", filepath.Join(dir, "e.jsonl"), "--format", "parquet", imgs[0]}, "the file's name says jsonl"},
		{[]string{"embed", "--model", model, "--out", filepath.Join(dir, "e.jsonl"), "--list", "-", "-"}, "stdin holds one or the other"},
		{[]string{"embed", "--model", model, "--out", filepath.Join(dir, "e.jsonl")}, "no images given"},
	} {
		if code, _, se := runVit(strings.NewReader(""), tc.args...); code != 2 || !strings.Contains(se, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, se, tc.want)
		}
	}
	if code, _, se := runVit(nil, "embed", "--model", model, "--out", dir, imgs[0]); code != 1 || !strings.Contains(se, "no "+batchrun.RunFile) {
		t.Errorf("embed into a folder of other files: exit %d, %q", code, se)
	}

	// One Parquet file, for small runs.
	one := filepath.Join(dir, "one.parquet")
	if code, _, se := runVit(strings.NewReader(strings.Join(imgs[:3], "\n")), "embed", "--model", model, "--out", one, "--list", "-"); code != 0 {
		t.Fatalf("embed --out one.parquet: exit %d, %s", code, se)
	}
	rows, err := parquet.ReadFile[batchrun.ParquetRow](one)
	if err != nil || len(rows) != 3 || rows[2].File != imgs[2] || rows[0].Model != "fashion" || len(rows[0].Vector) != 16 {
		t.Fatalf("one.parquet: %+v, %v", rows, err)
	}
}
