// Command attnscale measures the cost of attention against the number of
// tokens, softmax against the Performer (FAVOR+): one attention layer and a
// whole ViT-Ti, on a 224×224 image cut into 16×16 patches down to 1×1
// patches (pixels). It prints a Markdown table, and writes the numbers as
// CSV and a log-log plot as PNG.
//
//	go run ./bench/attnscale -out bench
//
// Times are inference (batch 1). Memory is what one attention layer keeps
// for its backward pass in training: softmax the heads·tokens²
// probabilities, the Performer its features (2·heads·tokens·m) and
// K'ᵀ[V|1]. (At inference neither materialises anything quadratic: softmax
// runs in blocks of queries.) Whole-model softmax runs are skipped when
// their estimated time passes -max-seconds.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"image/color"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
)

type row struct {
	patch, tokens    int
	kind             string // "softmax" or "performer"
	layerMs, modelMs float64
	layerBytes       float64
	modelSkipped     bool
}

func main() {
	out := flag.String("out", "bench", "folder for attention_scaling.csv and .png")
	image := flag.Int("image", 224, "image side in pixels")
	maxSeconds := flag.Float64("max-seconds", 60, "skip whole-model runs estimated (at 100 GFLOP/s) to take longer than this")
	minTime := flag.Duration("min-time", time.Second, "repeat each measurement for at least this long")
	flag.Parse()

	const dim, heads = 192, 3 // ViT-Ti
	var rows []row
	for _, patch := range []int{16, 8, 4, 2, 1} {
		tokens := (*image/patch)*(*image/patch) + 1
		for _, kind := range []string{"softmax", "performer"} {
			r := row{patch: patch, tokens: tokens, kind: kind}
			qkv := random(tokens * 3 * dim)
			outBuf := make([]float32, tokens*dim)
			var layer func()
			if kind == "softmax" {
				r.layerBytes = float64(heads) * float64(tokens) * float64(tokens) * 4
				a := nn.Attention{Heads: heads, Dim: dim}
				layer = func() { a.Forward(outBuf, nil, nil, nil, qkv, 1, tokens) }
			} else {
				p := nn.NewPerformer("attn", heads, dim, 0, 1)
				m, dh := p.Features, dim/heads
				r.layerBytes = float64(heads) * (2*float64(tokens)*float64(m) + float64(m*(dh+1)) + float64(tokens*(dh+1))) * 4
				acts := p.NewActs(1, tokens)
				layer = func() { p.Forward(outBuf, acts, qkv, 1, tokens) }
			}
			r.layerMs = measure(layer, *minTime)
			cfg, err := vit.Preset(fmt.Sprintf("Ti/%d", patch), *image, 3, 1000)
			if err != nil {
				log.Fatal(err)
			}
			cfg.Attention = kind
			if float64(cfg.FLOPs())/100e9 > *maxSeconds {
				r.modelSkipped = true
			} else {
				model, err := vit.New(cfg, 1)
				if err != nil {
					log.Fatal(err)
				}
				x := random(3 * *image * *image)
				r.modelMs = measure(func() {
					if _, err := model.Predict(x, 1); err != nil {
						log.Fatal(err)
					}
				}, *minTime)
			}
			fmt.Fprintf(os.Stderr, "patch %2d, %6d tokens, %-9s layer %10.2f ms, model %10.1f ms, attention memory %s\n",
				patch, tokens, kind, r.layerMs, r.modelMs, gib(r.layerBytes))
			rows = append(rows, r)
		}
	}
	fmt.Println("| patch | tokens | attention | one layer (ms) | ViT-Ti (ms) | training memory of one layer's attention |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		l, m := fmt.Sprintf("%.2f", r.layerMs), fmt.Sprintf("%.1f", r.modelMs)
		if r.modelSkipped {
			m = "skipped (est. > max-seconds)"
		}
		fmt.Printf("| %d×%d | %d | %s | %s | %s | %s |\n", r.patch, r.patch, r.tokens, r.kind, l, m, gib(r.layerBytes))
	}
	if err := writeCSV(filepath.Join(*out, "attention_scaling.csv"), rows); err != nil {
		log.Fatal(err)
	}
	if err := writePlot(filepath.Join(*out, "attention_scaling.png"), rows); err != nil {
		log.Fatal(err)
	}
}

func random(n int) []float32 {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.5)
	}
	return x
}

// measure returns the median milliseconds of f over at least minTime (3
// runs minimum, after one warm-up run); a run longer than minTime is
// measured once, its warm-up counting.
func measure(f func(), minTime time.Duration) float64 {
	t0 := time.Now()
	f()
	if d := time.Since(t0); d > minTime {
		return float64(d.Microseconds()) / 1000
	}
	var ts []float64
	start := time.Now()
	for len(ts) < 3 || time.Since(start) < minTime {
		t0 := time.Now()
		f()
		ts = append(ts, float64(time.Since(t0).Microseconds())/1000)
	}
	for i := range ts { // insertion sort: few samples
		for j := i; j > 0 && ts[j] < ts[j-1]; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
	return ts[len(ts)/2]
}

func gib(b float64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}

func writeCSV(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"patch", "tokens", "attention", "layer_ms", "model_ms", "train_attention_bytes", "model_skipped"})
	for _, r := range rows {
		w.Write([]string{strconv.Itoa(r.patch), strconv.Itoa(r.tokens), r.kind,
			strconv.FormatFloat(r.layerMs, 'f', 3, 64), strconv.FormatFloat(r.modelMs, 'f', 2, 64),
			strconv.FormatFloat(r.layerBytes, 'f', 0, 64), strconv.FormatBool(r.modelSkipped)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writePlot(path string, rows []row) error {
	p := plot.New()
	p.Title.Text = "Attention cost against tokens (ViT-Ti, 224×224, patch 16 → 1)"
	p.X.Label.Text = "tokens"
	p.Y.Label.Text = "milliseconds (batch 1)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{}, plot.LogTicks{}
	p.Legend.Top, p.Legend.Left = true, true
	series := []struct {
		name  string
		kind  string
		model bool
		color color.RGBA
		dash  bool
	}{
		{"softmax, one layer", "softmax", false, color.RGBA{200, 60, 40, 255}, true},
		{"performer, one layer", "performer", false, color.RGBA{40, 90, 200, 255}, true},
		{"softmax, whole model", "softmax", true, color.RGBA{200, 60, 40, 255}, false},
		{"performer, whole model", "performer", true, color.RGBA{40, 90, 200, 255}, false},
	}
	for _, s := range series {
		var pts plotter.XYs
		for _, r := range rows {
			if r.kind != s.kind || (s.model && r.modelSkipped) {
				continue
			}
			y := r.layerMs
			if s.model {
				y = r.modelMs
			}
			pts = append(pts, plotter.XY{X: float64(r.tokens), Y: y})
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, sc.Color = s.color, s.color
		if s.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, sc)
		p.Legend.Add(s.name, l, sc)
	}
	return p.Save(7*vg.Inch, 5*vg.Inch, path)
}
