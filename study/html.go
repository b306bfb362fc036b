package study

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one family's result at one point of a study: the mean and
// extremes over the seeds of the selected recipe's runs.
type Point struct {
	Family, Point          string
	X                      float64 // training images (data-size) or training FLOPs (compute)
	Test, TestMin, TestMax float64
	Val                    float64
	Runs                   int
	Pareto                 bool // on its family's accuracy-compute Pareto front (compute)
}

// Points summarises the selected runs per family and point, in order of X
// within each family (families in the order vit, hybrid, resnet).
func (st *Study) Points() []Point {
	type key struct{ family, point string }
	idx := map[key]int{}
	var ps []Point
	for _, r := range st.Results {
		if !r.Selected {
			continue
		}
		k := key{r.Family, r.Point}
		i, ok := idx[k]
		if !ok {
			i = len(ps)
			idx[k] = i
			ps = append(ps, Point{Family: r.Family, Point: r.Point, TestMin: math.Inf(1), TestMax: math.Inf(-1)})
		}
		p := &ps[i]
		x := float64(r.Images)
		if st.Kind == "compute" {
			x = r.TrainFLOPs
		}
		p.X = x
		p.Test += r.TestAccuracy
		p.Val += r.ValAccuracy
		p.TestMin, p.TestMax = min(p.TestMin, r.TestAccuracy), max(p.TestMax, r.TestAccuracy)
		p.Runs++
	}
	for i := range ps {
		ps[i].Test /= float64(ps[i].Runs)
		ps[i].Val /= float64(ps[i].Runs)
	}
	order := map[string]int{"vit": 0, "hybrid": 1, "resnet": 2}
	slices.SortStableFunc(ps, func(a, b Point) int {
		return cmp.Or(cmp.Compare(order[a.Family], order[b.Family]), cmp.Compare(a.X, b.X))
	})
	// Pareto front: no cheaper point of the family is at least as accurate.
	for i := range ps {
		ps[i].Pareto = true
		for j := range ps {
			if j != i && ps[j].Family == ps[i].Family && ps[j].X <= ps[i].X && ps[j].Test >= ps[i].Test && (ps[j].X < ps[i].X || ps[j].Test > ps[i].Test) {
				ps[i].Pareto = false
			}
		}
	}
	return ps
}

var familyColor = map[string]color.Color{
	"vit":    color.RGBA{31, 119, 180, 255},
	"hybrid": color.RGBA{44, 160, 44, 255},
	"resnet": color.RGBA{214, 39, 40, 255},
}

var familyName = map[string]string{"vit": "ViT", "hybrid": "hybrid (conv stem + ViT)", "resnet": "ResNet (BiT)"}

// Plot draws the study's figure: test accuracy against training images
// (data-size) or training FLOPs (compute), log x, one line per family
// (seeds' range as error bars; the Pareto front per family for compute).
// pos-embed has no plot (see its table); Plot returns nil for it.
func (st *Study) Plot() (image.Image, error) {
	if st.Kind == "pos-embed" {
		return nil, nil
	}
	pts := st.Points()
	p := plot.New()
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Label.Text = "Test accuracy (%)"
	if st.Kind == "data-size" {
		p.Title.Text = "Accuracy against training set size (Figures 3–4)"
		p.X.Label.Text = "Training images"
	} else {
		p.Title.Text = "Accuracy against training compute (Figure 5)"
		p.X.Label.Text = "Training compute, TFLOPs (3 × forward × images seen)"
		p.X.Tick.Marker = teraTicks{}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false
	if st.Kind == "data-size" {
		var xs []float64
		for _, q := range pts {
			xs = append(xs, q.X)
		}
		p.X.Tick.Marker = valueTicks(xs)
	}
	for _, fam := range []string{"vit", "hybrid", "resnet"} {
		var xy, front plotter.XYs
		var bars plotter.YErrors
		for _, q := range pts {
			if q.Family != fam {
				continue
			}
			xy = append(xy, plotter.XY{X: q.X, Y: 100 * q.Test})
			bars = append(bars, struct{ Low, High float64 }{100 * (q.Test - q.TestMin), 100 * (q.TestMax - q.Test)})
			if q.Pareto {
				front = append(front, plotter.XY{X: q.X, Y: 100 * q.Test})
			}
		}
		if len(xy) == 0 {
			continue
		}
		c := familyColor[fam]
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		p.Add(s)
		if st.Kind == "data-size" {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = c, vg.Points(1.2)
			e, err := plotter.NewYErrorBars(struct {
				plotter.XYer
				plotter.YErrorer
			}{xy, bars})
			if err != nil {
				return nil, err
			}
			e.Color = c
			p.Add(l, e)
			p.Legend.Add(familyName[fam], l, s)
		} else {
			l, err := plotter.NewLine(front)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width, l.Dashes = c, vg.Points(1.2), []vg.Length{vg.Points(4), vg.Points(2)}
			var names []string
			for _, q := range pts {
				if q.Family == fam {
					names = append(names, pointLabel(q.Point))
				}
			}
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: names})
			if err != nil {
				return nil, err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Color = c
				lb.TextStyle[i].Font.Size = vg.Points(8)
			}
			lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(4)}
			p.Add(l, lb)
			p.Legend.Add(familyName[fam]+" (dashed: Pareto front)", s, l)
		}
	}
	if st.Kind == "compute" {
		// Room for the labels right of the last points, and for the
		// legend below the lowest ones.
		p.X.Min, p.X.Max = p.X.Min/1.3, p.X.Max*2.2
		p.Y.Min -= 0.3 * (p.Y.Max - p.Y.Min)
	}
	c := vgimg.NewWith(vgimg.UseWH(7*vg.Inch, 4.8*vg.Inch), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	p.Draw(draw.New(c))
	return c.Image(), nil
}

// pointLabel is a compute point's size without its family's name, as
// written next to it on the plot: "d64 L4", "R26 w8".
func pointLabel(point string) string {
	for _, pre := range []string{"ViT ", "hybrid "} {
		if rest, ok := strings.CutPrefix(point, pre); ok {
			return rest
		}
	}
	return strings.Replace(point, "ResNet-", "R", 1)
}

// teraTicks are log ticks labelled in units of 10¹² ("1", "10", "100").
type teraTicks struct{}

// Ticks implements plot.Ticker.
func (teraTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i, t := range ts {
		if t.Label != "" {
			ts[i].Label = strconv.FormatFloat(t.Value/1e12, 'g', -1, 64)
		}
	}
	return ts
}

// valueTicks labels the given values (the training-set sizes) on a log
// axis.
type valueTicks []float64

// Ticks implements plot.Ticker.
func (v valueTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, x := range v {
		if x >= lo && x <= hi && !slices.ContainsFunc(ts, func(t plot.Tick) bool { return t.Value == x }) {
			ts = append(ts, plot.Tick{Value: x, Label: fmt.Sprint(x)})
		}
	}
	return ts
}

var page = template.Must(template.New("study").Funcs(template.FuncMap{
	"pct":    func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"mflops": func(f int64) string { return fmt.Sprintf("%.1f", float64(f)/1e6) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>vit study {{.S.Kind}}: {{.S.Data}}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}
.sel{font-weight:bold}</style></head><body>
<h1>vit study {{.S.Kind}}</h1>
<p>Data: {{.S.Data}}; budget {{.S.Budget}}; {{len .S.Results}} of {{.S.Planned}} planned runs finished.
Every run is scored on {{.S.TestImages}} test images; recipes (the learning rate) are chosen on {{.S.Validation}}
validation images held out of the training set, never on the test set. Bold runs are the chosen recipe's.</p>
{{if .Plot}}<p><img src="{{.Plot}}" alt="study plot" width="672"></p>{{end}}
<h2>Results{{if eq .S.Kind "pos-embed"}} (the paper's Table 8){{end}}</h2>
<table><tr><th class="l">family</th><th class="l">point</th><th>runs</th><th>validation acc.</th><th>test acc. (mean)</th><th>min</th><th>max</th>{{if eq .S.Kind "compute"}}<th>Pareto</th>{{end}}</tr>
{{range .Points}}<tr><td class="l">{{.Family}}</td><td class="l">{{.Point}}</td><td>{{.Runs}}</td><td>{{pct .Val}}</td><td>{{pct .Test}}</td><td>{{pct .TestMin}}</td><td>{{pct .TestMax}}</td>{{if eq $.S.Kind "compute"}}<td>{{if .Pareto}}yes{{end}}</td>{{end}}</tr>
{{end}}</table>
<h2>Every run</h2>
<table><tr><th class="l">run</th><th>params</th><th>MFLOPs/image</th><th>training FLOPs</th><th>images</th><th>steps</th><th>lr</th><th>wall</th><th>train acc.</th><th>validation acc.</th><th>test acc.</th></tr>
{{range .S.Results}}<tr{{if .Selected}} class="sel"{{end}}><td class="l">{{.ID}}</td><td>{{.Params}}</td><td>{{mflops .FLOPs}}</td><td>{{printf "%.3g" .TrainFLOPs}}</td><td>{{.Images}}</td><td>{{.Steps}}</td><td>{{.Options.LR}}</td><td>{{printf "%.0f s" .WallS}}</td><td>{{pct .TrainAccuracy}}</td><td>{{pct .ValAccuracy}}</td><td>{{pct .TestAccuracy}}</td></tr>
{{end}}</table>
</body></html>
`))

// HTML renders study.html: the plot (data-size, compute), the table of
// points and every run.
func (st *Study) HTML() ([]byte, error) {
	img, err := st.Plot()
	if err != nil {
		return nil, err
	}
	var src template.URL
	if img != nil {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return nil, err
		}
		src = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
	}
	var out bytes.Buffer
	err = page.Execute(&out, struct {
		S      *Study
		Plot   template.URL
		Points []Point
	}{st, src, st.Points()})
	return out.Bytes(), err
}
