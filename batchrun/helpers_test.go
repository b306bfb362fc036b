package batchrun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
)

// tinyModel is a small random model of 28×28 grey images (Fashion-MNIST's).
func tinyModel(t testing.TB, seed uint64) *vit.Model {
	t.Helper()
	c := vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32,
		Classes: 10, Labels: data.FashionMNISTClasses, Mean: []float32{0.286}, Std: []float32{0.353}}
	m, err := vit.New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeImages writes the first n test images of the embedded Fashion-MNIST
// into dir as PNG files 000.png, 001.png, … and returns their paths.
func writeImages(t testing.TB, dir string, n int) []string {
	t.Helper()
	_, test := data.Embedded()
	if n > test.N {
		t.Fatalf("%d images asked for, %d in the embedded test set", n, test.N)
	}
	var files []string
	for i := range n {
		img := &image.Gray{Pix: slices.Clone(test.Image(i)), Stride: test.W, Rect: image.Rect(0, 0, test.W, test.H)}
		path := filepath.Join(dir, fmt.Sprintf("%03d.png", i))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return files
}

// writeBad writes files that are no images into dir: a text file named
// .png, a truncated PNG, and names a missing file; it returns the three.
func writeBad(t testing.TB, dir string, good string) []string {
	t.Helper()
	text := filepath.Join(dir, "text.png")
	os.WriteFile(text, []byte("not an image"), 0o644)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.png")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	return []string{text, cut, filepath.Join(dir, "missing.png")}
}

// shardsOf reads a folder of shards in JSON lines: every shard's records
// and failures, in shard order, as its manifests list them.
func shardsOf(t testing.TB, dir string) (recs []json.RawMessage, fails []Failure, mans []manifest) {
	t.Helper()
	for n := 0; ; n++ {
		b, err := os.ReadFile(filepath.Join(dir, manifestName(n)))
		if os.IsNotExist(err) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseManifest(b)
		if err != nil {
			t.Fatal(err)
		}
		mans = append(mans, *m)
		if strings.HasSuffix(m.Data, ".jsonl") {
			lines := readLines(t, filepath.Join(dir, m.Data))
			if len(lines) != len(m.Files) {
				t.Fatalf("%s: %d lines for the %d files of its manifest", m.Data, len(lines), len(m.Files))
			}
			recs = append(recs, lines...)
		}
		if m.Errors != "" {
			for _, l := range readLines(t, filepath.Join(dir, m.Errors)) {
				var f Failure
				if err := json.Unmarshal(l, &f); err != nil {
					t.Fatal(err)
				}
				fails = append(fails, f)
			}
		}
	}
}

// readLines returns the lines of a JSON lines file.
func readLines(t testing.TB, path string) []json.RawMessage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, json.RawMessage(slices.Clone(sc.Bytes())))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// embeddings decodes Embedding lines.
func embeddings(t testing.TB, lines []json.RawMessage) []Embedding {
	t.Helper()
	out := make([]Embedding, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal(l, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
