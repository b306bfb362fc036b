package viz

import (
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot colours.
var (
	blue   = color.RGBA{31, 119, 180, 255}
	orange = color.RGBA{255, 127, 14, 255}
	green  = color.RGBA{44, 160, 44, 255}
)

// render draws a grid of plots (nil entries left blank) on a white canvas
// of w×h points at 96 dots per inch.
func render(plots [][]*plot.Plot, w, h vg.Length) image.Image {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	t := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	return c.Image()
}

// DistancePlot draws the mean attention distance dist: [layer][head] in
// pixels as one dot per head at x = layer (1-based), as in the paper's
// Figure 7 (right). imageSide, if positive, is drawn as the y limit;
// uniform, if positive, as a dashed line: the distance of attention spread
// evenly over the patches (UniformDistance).
func DistancePlot(dist [][]float64, imageSide int, uniform float64) (image.Image, error) {
	p := plot.New()
	p.Title.Text = "Mean attention distance per head"
	p.X.Label.Text = "Network depth (layer)"
	p.Y.Label.Text = "Mean attention distance (pixels)"
	var pts plotter.XYs
	top := 0.0
	for l, heads := range dist {
		for _, d := range heads {
			pts = append(pts, plotter.XY{X: float64(l + 1), Y: d})
			top = max(top, d)
		}
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: blue, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
	p.Add(s, plotter.NewGrid())
	if uniform > 0 {
		u, err := plotter.NewLine(plotter.XYs{{X: 0.5, Y: uniform}, {X: float64(len(dist)) + 0.5, Y: uniform}})
		if err != nil {
			return nil, err
		}
		u.Color, u.Width, u.Dashes = color.Gray{Y: 110}, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(u)
		p.Legend.Add("uniform attention", u)
		p.Legend.Top = true
		top = max(top, uniform)
	}
	p.X.Min, p.X.Max = 0.5, float64(len(dist))+0.5
	p.X.Tick.Marker = intTicks{}
	p.Y.Min = 0
	if imageSide > 0 {
		p.Y.Max = max(top*1.05, float64(imageSide)/2)
	}
	return render([][]*plot.Plot{{p}}, 6*vg.Inch, 4.5*vg.Inch), nil
}

// intTicks labels every integer of the range (every few when there are
// many).
type intTicks struct{}

// Ticks implements plot.Ticker.
func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	step := max(1, int(hi-lo)/16)
	var ts []plot.Tick
	for v := int(lo + 0.999); float64(v) <= hi; v++ {
		t := plot.Tick{Value: float64(v)}
		if v%step == 0 || step == 1 {
			t.Label = strconv.Itoa(v)
		}
		ts = append(ts, t)
	}
	return ts
}

// line adds a line to p and a legend entry.
func line(p *plot.Plot, name string, pts plotter.XYs, c color.Color, dots bool) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.2)
	p.Add(l)
	if dots {
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		p.Add(s)
		p.Legend.Add(name, l, s)
	} else {
		p.Legend.Add(name, l)
	}
	return nil
}

// TrainingCurves draws a run's metrics in four panels: loss, accuracy and
// learning rate against the optimizer step (per-step training values, with
// the per-epoch averages as dots), and the accuracy per epoch on the
// validation split (on the test set for logs older than validation splits).
func TrainingCurves(m *RunMetrics) (image.Image, error) {
	if len(m.Steps) == 0 && len(m.Epochs) == 0 {
		return nil, fmt.Errorf("viz: the metrics log is empty")
	}
	var loss, acc, lr, eLoss, eTestLoss, eAcc, eTestAcc, testByEpoch plotter.XYs
	heldOut := "validation"
	for _, r := range m.Steps {
		x := float64(r.Step)
		loss = append(loss, plotter.XY{X: x, Y: r.Loss})
		acc = append(acc, plotter.XY{X: x, Y: 100 * r.Accuracy})
		lr = append(lr, plotter.XY{X: x, Y: r.LR})
	}
	for _, r := range m.Epochs {
		x := float64(r.Step)
		eLoss = append(eLoss, plotter.XY{X: x, Y: r.TrainLoss})
		hLoss, hAcc, name := r.HeldOut()
		heldOut = name
		eTestLoss = append(eTestLoss, plotter.XY{X: x, Y: hLoss})
		eAcc = append(eAcc, plotter.XY{X: x, Y: 100 * r.TrainAccuracy})
		eTestAcc = append(eTestAcc, plotter.XY{X: x, Y: 100 * hAcc})
		testByEpoch = append(testByEpoch, plotter.XY{X: float64(r.Epoch + 1), Y: 100 * hAcc})
	}
	newPlot := func(title, x, y string) *plot.Plot {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		return p
	}
	pl := newPlot("Loss", "step", "cross-entropy")
	pa := newPlot("Accuracy", "step", "accuracy (%)")
	pr := newPlot("Learning rate", "step", "learning rate")
	pt := newPlot(strings.ToUpper(heldOut[:1])+heldOut[1:]+" accuracy per epoch", "epoch", heldOut+" accuracy (%)")
	pt.X.Tick.Marker = intTicks{}
	for _, e := range []error{
		line(pl, "train (step)", loss, blue, false),
		line(pl, "train (epoch)", eLoss, orange, true),
		line(pl, heldOut, eTestLoss, green, true),
		line(pa, "train (step)", acc, blue, false),
		line(pa, "train (epoch)", eAcc, orange, true),
		line(pa, heldOut, eTestAcc, green, true),
		line(pr, "lr", lr, blue, false),
		line(pt, heldOut, testByEpoch, green, true),
	} {
		if e != nil {
			return nil, e
		}
	}
	pl.Legend.Top = true
	pa.Legend.Left, pa.Legend.Top = false, false
	pt.Legend.Top = false
	if len(testByEpoch) > 0 {
		pt.X.Min, pt.X.Max = 0.5, float64(testByEpoch[len(testByEpoch)-1].X)+0.5
	}
	return render([][]*plot.Plot{{pl, pa}, {pr, pt}}, 10*vg.Inch, 7*vg.Inch), nil
}

// matrixPlotter draws a confusion matrix: cell (i, j) at x = j, y = n−1−i,
// coloured by the row fraction, labelled with the count.
type matrixPlotter struct {
	counts [][]int
	style  draw.TextStyle
}

// Plot implements plot.Plotter.
func (m matrixPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	n := len(m.counts)
	for i, row := range m.counts {
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			f := 0.0
			if total > 0 {
				f = float64(v) / float64(total)
			}
			x0, x1 := tx(float64(j)-0.5), tx(float64(j)+0.5)
			y0, y1 := ty(float64(n-1-i)-0.5), ty(float64(n-1-i)+0.5)
			col := Viridis(f)
			c.FillPolygon(col, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			st := m.style
			st.Color = color.White
			if f > 0.6 {
				st.Color = color.Black
			}
			if n <= 30 {
				c.FillText(st, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, strconv.Itoa(v))
			}
		}
	}
}

// DataRange implements plot.DataRanger.
func (m matrixPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	n := float64(len(m.counts))
	return -0.5, n - 0.5, -0.5, n - 0.5
}

// ConfusionImage draws a confusion matrix counts: [true][predicted], each
// cell coloured by its fraction of the row (the recall of the true class on
// the diagonal) and labelled with its count. classes names the classes; nil
// numbers them.
func ConfusionImage(counts [][]int, classes []string) (image.Image, error) {
	n := len(counts)
	if n == 0 {
		return nil, fmt.Errorf("viz: empty confusion matrix")
	}
	names := make([]string, n)
	rev := make([]string, n)
	for i := range names {
		names[i] = strconv.Itoa(i)
		if i < len(classes) {
			names[i] = classes[i]
		}
	}
	for i := range rev {
		rev[i] = names[n-1-i]
	}
	p := plot.New()
	p.Title.Text = "Confusion matrix (colour: fraction of the true class)"
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class"
	st := p.X.Tick.Label
	st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
	st.Font.Size = vg.Points(max(6, min(10, 120/float64(n))))
	p.Add(matrixPlotter{counts: counts, style: st})
	p.NominalX(names...)
	p.NominalY(rev...)
	p.X.Tick.Label.Rotation = 0.6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	side := vg.Length(max(5, min(12, float64(n)*0.6))) * vg.Inch
	return render([][]*plot.Plot{{p}}, side+vg.Inch, side), nil
}
