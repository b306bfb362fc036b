package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/xitongsys/parquet-go-source/buffer"
	"github.com/xitongsys/parquet-go/reader"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/imageio"
)

func TestMain(m *testing.M) { ptest.MainWithDefault(m, "prism") }

const fashionDir = "/usr/share/datasets/fashion-mnist"

// tinyModel saves a random ViT for 28×28 grey images with Fashion-MNIST's
// labels, in vit's format, and returns its folder.
func tinyModel(t *testing.T) string {
	t.Helper()
	c := vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 16, Depth: 2, Heads: 2, MLPDim: 32,
		Classes: 10, Labels: data.FashionMNISTClasses, Mean: []float32{0.286}, Std: []float32{0.353}}
	m, err := vit.New(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Head.W.Data { // a head that tells the classes apart
		m.Head.W.Data[i] = float32(i%7)*0.3 - 0.9
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := checkpoint.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

// imageFolder writes the first n test images of Fashion-MNIST as PNG files
// into a new folder, with a few corrupt .png files among them, and returns
// the folder, the good files and the corrupt ones.
func imageFolder(t *testing.T, n int) (dir string, good, bad []string) {
	t.Helper()
	d, err := data.ReadIDX(filepath.Join(fashionDir, "t10k-images-idx3-ubyte.gz"), filepath.Join(fashionDir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Skipf("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	dir = t.TempDir()
	for i := range n {
		img := &image.Gray{Pix: d.Image(i), Stride: d.W, Rect: image.Rect(0, 0, d.W, d.H)}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, fmt.Sprintf("%s-%05d.png", d.Classes[d.Labels[i]][:1], i))
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		good = append(good, name)
		if i == 3 { // a PNG cut short
			bad = append(bad, writeFile(t, filepath.Join(dir, "truncated.png"), b.Bytes()[:b.Len()/2]))
		}
	}
	bad = append(bad,
		writeFile(t, filepath.Join(dir, "empty.png"), nil),
		writeFile(t, filepath.Join(dir, "text.png"), []byte("not an image\n")),
		writeFile(t, filepath.Join(dir, "bomb.png"), pngHeader(100_000, 100_000)))
	slices.Sort(good)
	return dir, good, bad
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// pngHeader is the start of a PNG claiming w×h pixels: refused from its
// header, before any pixel is decoded.
func pngHeader(w, h int) []byte {
	var b bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	png.Encode(&b, img)
	p := b.Bytes()
	p[16], p[17], p[18], p[19] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	p[20], p[21], p[22], p[23] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	return p[:40]
}

// cliOutputs computes what vit embed and vit predict give for files: the
// steps of their imageBatches (imageio.Load, Config.Input().Tensor, batches
// of vit.Batch in file order) with the library's Features and Predict.
func cliOutputs(t *testing.T, model string, files []string, top int) (emb map[string][]float32, pred map[string][]vit.Class) {
	t.Helper()
	m, err := checkpoint.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	p, err := c.Input().Preprocessor()
	if err != nil {
		t.Fatal(err)
	}
	emb, pred = map[string][]float32{}, map[string][]vit.Class{}
	for start := 0; start < len(files); start += vit.Batch {
		batch := files[start:min(start+vit.Batch, len(files))]
		var x []float32
		for _, f := range batch {
			img, err := imageio.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			px, err := c.Input().Tensor(img, p)
			if err != nil {
				t.Fatal(err)
			}
			x = append(x, px...)
		}
		feats, err := m.Features(x, len(batch))
		if err != nil {
			t.Fatal(err)
		}
		logits, err := m.Predict(x, len(batch))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range batch {
			emb[f] = feats[i*c.Dim : (i+1)*c.Dim]
			pred[f] = c.TopK(logits[i*c.Classes:(i+1)*c.Classes], top)
		}
	}
	return emb, pred
}

// runPipeline runs the pipeline on Prism and returns its summary.
func runPipeline(t *testing.T, o Options) Summary {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	if err := Build(s, o); err != nil {
		t.Fatal(err)
	}
	res, err := prism.Execute(context.Background(), p)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	return Summarize(res.Metrics())
}

// readLines reads every line of the files matching pattern, checking that
// they are the shards 0..n-1 of n.
func readLines(t *testing.T, prefix, ext string) [][]byte {
	t.Helper()
	names, _ := filepath.Glob(ShardPattern(prefix, ext))
	if len(names) == 0 {
		t.Fatalf("no %s", ShardPattern(prefix, ext))
	}
	var lines [][]byte
	for i, name := range names {
		if want := ShardName(prefix, i, len(names), ext); name != want {
			t.Fatalf("shards %v: want %s", names, want)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, slices.Clone(sc.Bytes()))
		}
	}
	return lines
}

func failures(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range readLines(t, prefix+"-errors", "jsonl") {
		var f batchrun.Failure
		if err := json.Unmarshal(l, &f); err != nil || f.File == "" || f.Error == "" {
			t.Fatalf("dead-letter line %s: %v", l, err)
		}
		out[f.File] = f.Error
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6 }

// The pipeline on Prism over 1,000 Fashion-MNIST PNG files and a few
// corrupt ones gives every good file the vector vit embed gives it, puts
// every corrupt file (and a pattern that matches nothing) in the
// dead-letter output, and a second run over the same output gives the same
// records, leaving no file of the first.
func TestEmbedFashionMNIST(t *testing.T) {
	model := tinyModel(t)
	dir, good, bad := imageFolder(t, 1000)
	want, _ := cliOutputs(t, model, good, 5)
	out := filepath.Join(t.TempDir(), "out", "emb")
	o := Defaults()
	o.Model, o.Task, o.Output = model, "embed", out
	o.Inputs = []string{filepath.Join(dir, "*.png"), filepath.Join(dir, "*.jpg")}
	o.ShardRecords = 300 // several shards per bundle

	var goodBytes int64
	for _, f := range good {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		goodBytes += st.Size()
	}
	var first []string
	for run := range 2 {
		sum := runPipeline(t, o)
		if sum.Images != int64(len(good)) || sum.Failures != int64(len(bad)+1) || sum.Bytes < goodBytes {
			t.Errorf("run %d: metrics say %d images, %d failures, %d bytes; want %d, %d, at least %d", run, sum.Images, sum.Failures, sum.Bytes, len(good), len(bad)+1, goodBytes)
		}
		lines := readLines(t, out, "jsonl")
		seen := map[string]bool{}
		for _, l := range lines {
			var e batchrun.Embedding
			if err := json.Unmarshal(l, &e); err != nil {
				t.Fatalf("line %s: %v", l, err)
			}
			w, ok := want[e.File]
			if !ok || seen[e.File] {
				t.Fatalf("unexpected or repeated file %q", e.File)
			}
			seen[e.File] = true
			if len(e.Features) != len(w) {
				t.Fatalf("%s: %d features, want %d", e.File, len(e.Features), len(w))
			}
			for i := range w {
				if !near(float64(e.Features[i]), float64(w[i])) {
					t.Fatalf("%s: feature %d is %v, vit embed gives %v", e.File, i, e.Features[i], w[i])
				}
			}
			// The line is the one vit embed writes for the same numbers.
			if cli := cliLine(t, batchrun.Embedding{File: e.File, Features: e.Features}); !bytes.Equal(cli, append(l, '\n')) {
				t.Fatalf("line %s differs from vit embed's %s", l, cli)
			}
		}
		if len(seen) != len(good) {
			t.Errorf("run %d: %d records, want %d", run, len(seen), len(good))
		}
		fails := failures(t, out)
		for _, f := range bad {
			if fails[f] == "" {
				t.Errorf("run %d: %s is not in the dead-letter output %v", run, f, fails)
			}
		}
		if fails[o.Inputs[1]] != "no file matches the pattern" {
			t.Errorf("run %d: the pattern matching nothing: %q", run, fails[o.Inputs[1]])
		}
		if len(fails) != len(bad)+1 {
			t.Errorf("run %d: %d failures, want %d: %v", run, len(fails), len(bad)+1, fails)
		}
		slices.SortFunc(lines, bytes.Compare)
		var got []string
		for _, l := range lines {
			got = append(got, string(l))
		}
		if run == 0 {
			first = got
		} else if !slices.Equal(first, got) {
			t.Errorf("the second run's records differ from the first's")
		}
	}
	// Only the second run's shards and errors are left.
	all, _ := filepath.Glob(out + "*")
	shards, _ := filepath.Glob(ShardPattern(out, "jsonl"))
	errs, _ := filepath.Glob(ShardPattern(out+"-errors", "jsonl"))
	if len(all) != len(shards)+len(errs) {
		t.Errorf("left in the output folder: %v", all)
	}
}

func cliLine(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Predictions, read from a list of paths, are vit predict's top k; a path
// that does not exist is a failure.
func TestPredictList(t *testing.T) {
	model := tinyModel(t)
	_, good, bad := imageFolder(t, 40)
	const top = 3
	_, want := cliOutputs(t, model, good, top)
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "missing.png")
	list := writeFile(t, filepath.Join(tmp, "list.txt"),
		[]byte("# images\n"+strings.Join(append(append(slices.Clone(good), bad...), missing, ""), "\n")))
	out := filepath.Join(tmp, "pred")
	o := Defaults()
	o.Model, o.Task, o.Output, o.InputList, o.Top, o.Batch = model, "predict", out, list, top, 7
	runPipeline(t, o)
	lines := readLines(t, out, "jsonl")
	if len(lines) != len(good) {
		t.Fatalf("%d predictions, want %d", len(lines), len(good))
	}
	for _, l := range lines {
		var p batchrun.Prediction
		if err := json.Unmarshal(l, &p); err != nil {
			t.Fatal(err)
		}
		w := want[p.File]
		if len(p.Top) != top || len(w) != top {
			t.Fatalf("%s: top %v, vit predict gives %v", p.File, p.Top, w)
		}
		for i := range w {
			if p.Top[i].Index != w[i].Index || p.Top[i].Label != w[i].Label || !near(p.Top[i].Prob, w[i].Prob) {
				t.Fatalf("%s: top %v, vit predict gives %v", p.File, p.Top, w)
			}
		}
	}
	fails := failures(t, out)
	for _, f := range append(bad, missing) {
		if fails[f] == "" {
			t.Errorf("%s is not in the dead-letter output %v", f, fails)
		}
	}
}

// Parquet files hold the records of the JSON lines, and the model is read
// from a Beam file system (memfs:// here, as gs:// on Dataflow).
func TestParquetAndRemoteModel(t *testing.T) {
	model := tinyModel(t)
	dir, good, _ := imageFolder(t, 20)
	ctx := context.Background()
	remote := "memfs://models/tiny"
	for _, name := range []string{checkpoint.ConfigFile, checkpoint.WeightsFile} {
		b, err := os.ReadFile(filepath.Join(model, name))
		if err != nil {
			t.Fatal(err)
		}
		fs, err := filesystem.New(ctx, remote)
		if err != nil {
			t.Fatal(err)
		}
		if err := filesystem.Write(ctx, fs, remote+"/"+name, b); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := cliOutputs(t, model, good, 5)
	for _, task := range []string{"embed", "predict"} {
		out := filepath.Join(t.TempDir(), task)
		o := Defaults()
		o.Model, o.Task, o.Output, o.Format = remote, task, out, "parquet"
		o.Inputs = []string{filepath.Join(dir, "[0-9]-*.png")}
		runPipeline(t, o)
		names, _ := filepath.Glob(ShardPattern(out, "parquet"))
		rows := 0
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if task == "embed" {
				for _, r := range readParquet[EmbeddingRow](t, b) {
					w := want[r.File]
					if r.Model != remote || len(r.Features) != len(w) {
						t.Fatalf("row %+v", r)
					}
					for i := range w {
						if !near(float64(r.Features[i]), float64(w[i])) {
							t.Fatalf("%s: feature %d is %v, want %v", r.File, i, r.Features[i], w[i])
						}
					}
					rows++
				}
			} else {
				for _, r := range readParquet[PredictionRow](t, b) {
					if len(r.TopIndex) != 5 || len(r.TopLabel) != 5 || len(r.TopProb) != 5 || r.TopLabel[0] != data.FashionMNISTClasses[r.TopIndex[0]] {
						t.Fatalf("row %+v", r)
					}
					rows++
				}
			}
		}
		if rows != len(good) {
			t.Errorf("%s: %d Parquet rows, want %d", task, rows, len(good))
		}
	}
}

func readParquet[T any](t *testing.T, b []byte) []T {
	t.Helper()
	pr, err := reader.NewParquetReader(buffer.NewBufferFileFromBytes(b), new(T), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.ReadStop()
	rows := make([]T, pr.GetNumRows())
	if err := pr.Read(&rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestCheck(t *testing.T) {
	ok := Defaults()
	ok.Model, ok.Inputs, ok.Output = "m", []string{"*.png"}, "out/x"
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set  func(*Options)
		flag string
	}{
		{func(o *Options) { o.Model = "" }, "--model"},
		{func(o *Options) { o.Task = "train" }, "--task"},
		{func(o *Options) { o.Inputs = nil }, "--input"},
		{func(o *Options) { o.Inputs = []string{" "} }, "--input"},
		{func(o *Options) { o.Output = "" }, "--output"},
		{func(o *Options) { o.Output = "out/" }, "--output"},
		{func(o *Options) { o.Format = "csv" }, "--format"},
		{func(o *Options) { o.Top = 0 }, "--top"},
		{func(o *Options) { o.Logits = true }, "--logits"},
		{func(o *Options) { o.Batch = 0 }, "--batch"},
		{func(o *Options) { o.DType = "fp16" }, "--dtype"},
		{func(o *Options) { o.ShardRecords = 0 }, "--shard-records"},
	} {
		o := ok
		c.set(&o)
		err := o.Check()
		if err == nil || !strings.HasPrefix(err.Error(), c.flag+" ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line starting with the flag", c.flag, err)
		}
	}
}

// The pipeline's lines match what vit embed and vit predict --json --logits
// --top 3 printed for three photos (PNG, paletted PNG, 4:2:0 JPEG) with
// three models that resize as Hugging Face does, as timm does (crop), and
// to 28×28 grey: the goldens of testdata/classify.
func TestCLIGoldens(t *testing.T) {
	var photos []string
	for _, f := range []string{"chelsea.png", "small_pal.png", "small420.jpg"} {
		photos = append(photos, filepath.Join("..", "..", "imageio", "testdata", "in", f))
	}
	for _, model := range []string{"hf", "timm", "grey"} {
		dir := filepath.Join("..", "..", "testdata", "classify", model)
		for _, task := range []string{"embed", "predict"} {
			out := filepath.Join(t.TempDir(), task)
			o := Defaults()
			o.Model, o.Task, o.Output, o.Inputs = filepath.Join(dir, "model.safetensors"), task, out, photos
			if task == "predict" {
				o.Top, o.Logits = 3, true
			}
			if sum := runPipeline(t, o); sum.Images != 3 || sum.Failures != 0 {
				t.Fatalf("%s %s: %+v", model, task, sum)
			}
			want := map[string]map[string]any{}
			b, err := os.ReadFile(filepath.Join(dir, task+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
				var r map[string]any
				if err := json.Unmarshal(l, &r); err != nil {
					t.Fatal(err)
				}
				want[r["file"].(string)] = r
			}
			lines := readLines(t, out, "jsonl")
			if len(lines) != 3 {
				t.Fatalf("%s %s: %d lines", model, task, len(lines))
			}
			for _, l := range lines {
				var got map[string]any
				if err := json.Unmarshal(l, &got); err != nil {
					t.Fatal(err)
				}
				name := filepath.Base(got["file"].(string))
				got["file"] = name
				if !sameJSON(got, want[name]) {
					t.Errorf("%s %s %s:\n got %s\nwant %v", model, task, name, l, want[name])
				}
			}
		}
	}
}

// sameJSON compares decoded JSON values, numbers to 1e-6.
func sameJSON(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if !sameJSON(v, b[k]) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	case float64:
		b, ok := b.(float64)
		return ok && near(a, b)
	default:
		return a == b
	}
}

// TestCheckModelHeadless: --task predict with an encoder that has no
// classifier (a CLIP image tower) is refused before the pipeline runs, in
// one line starting with the flag; --task embed takes it.
func TestCheckModelHeadless(t *testing.T) {
	o := Defaults()
	o.Model, o.Inputs, o.Output = filepath.Join("..", "..", "testdata", "encoders", "hf_clip"), []string{"*.png"}, "out/x"
	o.Task = "predict"
	err := CheckModel(context.Background(), o)
	if err == nil || !strings.HasPrefix(err.Error(), "--task predict: ") || !strings.Contains(err.Error(), "no classifier head") || strings.Contains(err.Error(), "\n") {
		t.Errorf("predict with a headless encoder: %v; want one line naming --task and the missing head", err)
	}
	o.Task = "embed"
	if err := CheckModel(context.Background(), o); err != nil {
		t.Errorf("embed with a headless encoder: %v", err)
	}
}
