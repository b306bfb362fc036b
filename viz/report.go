package viz

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vitgo/vit"
)

// Formulas of the report's numbers, stored in report.json.
const (
	RolloutFormula = "F_l = fuse over heads (mean, max or min) of layer l's attention; " +
		"in each row the ⌊discard·n⌋ smallest of the n patch columns are set to 0 (the class-token column is kept); " +
		"Â_l = rownorm(F_l + I); J = Â_L·…·Â_1; map_j = J[cls, patch j] (models without a class token: mean over the rows of J[·, j])"
	GradientRolloutFormula = "Ā_l = mean over heads of max(∂logit_k/∂A_l,h ⊙ A_l,h, 0); Â_l = rownorm(Ā_l + I); " +
		"J = Â_L·…·Â_1; map read from J as for rollout"
	PCAFormula = "principal components of the patch-embedding filters (rows of E, each channels·patch·patch values): " +
		"eigenvectors of (1/D)·Σ_r (e_r − μ)(e_r − μ)ᵀ by decreasing eigenvalue; explained variance = eigenvalue / trace"
	SimilarityFormula = "position_similarity[i][j] = cos(E_pos[i], E_pos[j]) over the patch tokens (class token excluded), " +
		"patches in row-major grid order"
)

// ReportInput is what BuildReport draws.
type ReportInput struct {
	Model     *vit.Model
	ModelName string // how the report names the model, e.g. its path

	// Images are the images for the data-dependent figures, planar bytes
	// [N, channels, height, width] at the model's input size. With N = 0
	// those figures are left out.
	Images   []uint8
	N        int
	Names    []string // optional, a name per image (a file, "test #3")
	Labels   []int    // optional, the true class per image, −1 unknown
	DataName string   // where the images come from

	// Rollouts is the number of images, from the first, drawn with their
	// rollout maps; 0 means 8.
	Rollouts int
	Rollout  RolloutOptions

	Metrics   *RunMetrics // optional training log
	Confusion [][]int     // optional, [true][predicted] counts on a test set
	TestName  string      // the test set the confusion matrix comes from

	// Progress, if not nil, is called as the mean attention distance (the
	// longest part) advances: done of total images. The other stages are
	// logged through log/slog at info level.
	Progress func(done, total int)
}

// check refuses an input the report would draw wrongly or crash on: no
// model, images, names or labels that do not match N, labels outside
// [−1, classes), a confusion matrix that is not classes × classes.
func (in ReportInput) check() error {
	if in.Model == nil {
		return errors.New("viz: report: no model (nil)")
	}
	if err := in.Rollout.Validate(); err != nil {
		return err
	}
	c := in.Model.Config
	size := c.Channels * c.ImageHeight * c.ImageWidth
	if in.N < 0 || len(in.Images) != in.N*size {
		return fmt.Errorf("viz: %d pixel values for %d images of %d×%d×%d", len(in.Images), in.N, c.Channels, c.ImageHeight, c.ImageWidth)
	}
	if in.Names != nil && len(in.Names) != in.N || in.Labels != nil && len(in.Labels) != in.N {
		return fmt.Errorf("viz: report: %d names and %d labels for %d images: give none or one per image", len(in.Names), len(in.Labels), in.N)
	}
	for i, l := range in.Labels {
		if l < -1 || l >= c.Classes {
			return fmt.Errorf("viz: report: image %d has label %d; the model has classes 0 to %d (−1: unknown)", i, l, c.Classes-1)
		}
	}
	if in.Confusion != nil {
		if len(in.Confusion) != c.Classes {
			return fmt.Errorf("viz: report: a confusion matrix of %d rows for %d classes", len(in.Confusion), c.Classes)
		}
		for i, row := range in.Confusion {
			if len(row) != c.Classes {
				return fmt.Errorf("viz: report: row %d of the confusion matrix has %d counts for %d classes", i, len(row), c.Classes)
			}
		}
	}
	return nil
}

// ImageReport is the rollout of one image in report.json.
type ImageReport struct {
	Name           string      `json:"name"`
	Label          int         `json:"label"` // −1 unknown
	Predicted      int         `json:"predicted"`
	PredictedLabel string      `json:"predicted_label"`
	Probability    float64     `json:"probability"`
	Rollout        [][]float64 `json:"rollout"`        // [GridH][GridW]
	GradientClass  int         `json:"gradient_class"` // the class explained, the predicted one
	Gradient       [][]float64 `json:"gradient_rollout"`
	Files          []string    `json:"files"` // rollout and gradient rollout PNGs
}

// Report is the content of report.json.
type Report struct {
	Model                 string            `json:"model"`
	Config                vit.Config        `json:"config"`
	Dataset               string            `json:"dataset,omitempty"`
	Images                int               `json:"images"` // images averaged in mean_attention_distance
	Formulas              map[string]string `json:"formulas"`
	MeanAttentionDistance [][]float64       `json:"mean_attention_distance"` // [layer][head], pixels
	// UniformAttentionDistance is the distance attention spread evenly
	// over the patches would give, in pixels (UniformDistance).
	UniformAttentionDistance float64 `json:"uniform_attention_distance"`
	// AttentionDistanceByLayer summarises MeanAttentionDistance per layer
	// (DistanceByLayer); AttentionDistanceGrowth is its slope against
	// depth, in pixels per layer (DistanceGrowth).
	AttentionDistanceByLayer []LayerDistance   `json:"attention_distance_by_layer"`
	AttentionDistanceGrowth  float64           `json:"attention_distance_growth"`
	PositionSimilarity       [][]float64       `json:"position_similarity"` // [patch][patch]
	PCAExplainedVariance     []float64         `json:"pca_explained_variance"`
	RolloutOptions           RolloutOptions    `json:"rollout_options"`
	Rollout                  []ImageReport     `json:"rollout"`
	Epochs                   []EpochRecord     `json:"training_epochs,omitempty"`
	Confusion                [][]int           `json:"confusion,omitempty"` // [true][predicted]
	TestSet                  string            `json:"test_set,omitempty"`
	Figures                  map[string]string `json:"figures"` // figure name → PNG file
}

// Report file names.
const (
	ReportHTML = "report.html"
	ReportJSON = "report.json"
)

// figure is one image of the HTML report.
type figure struct {
	Title   string
	Caption string
	File    string
	Src     template.URL
	Width   int
}

// section is a group of figures under one heading.
type section struct {
	Title   string
	Text    string
	Figures []figure
	Grid    bool // small figures side by side
}

// BuildReport computes every figure of the paper that in allows, writes
// them into dir (created if needed) as PNG files, with report.json and a
// self-contained report.html (images inlined as data: URIs), and returns
// the report.
func BuildReport(dir string, in ReportInput) (*Report, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	m := in.Model
	c := m.Config
	g := GridOf(c)
	size := c.Channels * c.ImageHeight * c.ImageWidth
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	progress := func(format string, args ...any) { slog.Info(fmt.Sprintf(format, args...)) }
	rep := &Report{Model: in.ModelName, Config: c, Dataset: in.DataName, Images: in.N, RolloutOptions: in.Rollout,
		Figures: map[string]string{}, TestSet: in.TestName, Confusion: in.Confusion,
		Formulas: map[string]string{
			"mean_attention_distance": DistanceFormula,
			"rollout":                 RolloutFormula,
			"gradient_rollout":        GradientRolloutFormula,
			"pca":                     PCAFormula,
			"position_similarity":     SimilarityFormula,
		}}
	var sections []section
	save := func(name string, img image.Image, title, caption string) (figure, error) {
		b, err := EncodePNG(img)
		if err != nil {
			return figure{}, err
		}
		if err := writeFile(filepath.Join(dir, name), b); err != nil {
			return figure{}, err
		}
		rep.Figures[name[:len(name)-len(filepath.Ext(name))]] = name
		return figure{Title: title, Caption: caption, File: name, Width: img.Bounds().Dx(),
			Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))}, nil
	}
	label := func(k int) string {
		if k >= 0 && k < len(c.Labels) {
			return c.Labels[k]
		}
		return fmt.Sprint(k)
	}

	// Figure 6: rollout.
	if in.N > 0 {
		n := in.Rollouts
		if n <= 0 {
			n = 8
		}
		n = min(n, in.N)
		progress("attention rollout of %d images", n)
		x := c.Input().Normalize(in.Images[:n*size])
		ex, err := Explain(m, x, n, nil, in.Rollout)
		if err != nil {
			return nil, err
		}
		s := section{Title: "Attention rollout (Figure 6)", Grid: true, Text: "Each panel shows the input, the input weighted by the " +
			"rollout map (as in the paper's Figure 6) and the map as a heat map over the input (viridis, scaled by its maximum). " +
			"Rollout multiplies the head-fused attention matrices of all layers, each with the identity added for the residual " +
			"connection and rows re-normalised, and reads the class token's row over the patches (the mean of the rows for models without a class token). The paper shows that ViT attends " +
			"to image regions that are semantically relevant for classification. Gradient-weighted rollout keeps only the attention " +
			"whose gradient for the predicted class is positive."}
		for i, e := range ex {
			name := fmt.Sprintf("image %d", i)
			if i < len(in.Names) && in.Names[i] != "" {
				name = in.Names[i]
			}
			truth := -1
			if i < len(in.Labels) {
				truth = in.Labels[i]
			}
			img := ToImage(in.Images[i*size:(i+1)*size], c.Channels, c.ImageHeight, c.ImageWidth)
			caption := fmt.Sprintf("%s: predicted %s (%.1f%%)", name, label(e.Predicted), 100*e.Probability)
			if truth >= 0 {
				caption += ", true " + label(truth)
			}
			fr, err := save(fmt.Sprintf("rollout-%02d.png", i), Overlay(img, e.Rollout, g.H, g.W), "Rollout", caption)
			if err != nil {
				return nil, err
			}
			fg, err := save(fmt.Sprintf("gradient-rollout-%02d.png", i), Overlay(img, e.Gradient, g.H, g.W), "Gradient-weighted rollout",
				fmt.Sprintf("%s: gradient-weighted rollout for class %s", name, label(e.Class)))
			if err != nil {
				return nil, err
			}
			s.Figures = append(s.Figures, fr, fg)
			rep.Rollout = append(rep.Rollout, ImageReport{Name: name, Label: truth, Predicted: e.Predicted,
				PredictedLabel: label(e.Predicted), Probability: e.Probability, Rollout: grid2D(e.Rollout, g),
				GradientClass: e.Class, Gradient: grid2D(e.Gradient, g), Files: []string{fr.File, fg.File}})
		}
		sections = append(sections, s)

		// Raw attention of every head of every layer from the centre patch.
		layers := make([]int, c.Depth)
		for l := range layers {
			layers[l] = l
		}
		probs, _, err := m.Attention(x[:size], 1, layers)
		if err != nil {
			return nil, err
		}
		q := (g.H/2)*g.W + g.W/2
		var maps [][]float64
		for l := range c.Depth {
			for h := range c.Heads {
				a, err := AttentionMap(probs[l], g, c.Heads, 0, h, q)
				if err != nil {
					return nil, err
				}
				maps = append(maps, a)
			}
		}
		f, err := save("raw-attention.png", MapGrid(maps, g.H, g.W, c.Heads, 64), "Raw attention from the centre patch",
			fmt.Sprintf("Row l, column h: the attention of head h of layer l from the query patch at row %d, column %d "+
				"(0-based) to every patch, for %s; each tile scaled by its maximum.", q/g.W, q%g.W, rep.Rollout[0].Name))
		if err != nil {
			return nil, err
		}
		sections = append(sections, section{Title: "Raw attention", Figures: []figure{f}})
	}

	// Figure 7.
	s7 := section{Title: "Inside the Vision Transformer (Figure 7)"}
	_, nFilters, side := PixelFilters(m)
	what := "patch-embedding filters"
	if len(m.Stem) > 0 {
		what = "kernels of the first stem convolution (the hybrid's filters that see pixels)"
	}
	k := min(28, c.Channels*side*side, nFilters)
	progress("principal components of the patch embedding")
	pca, err := EmbeddingPCA(m, k)
	if err != nil {
		return nil, err
	}
	rep.PCAExplainedVariance = pca.Explained
	total := 0.0
	for _, e := range pca.Explained {
		total += e
	}
	kind := "RGB"
	if c.Channels == 1 {
		kind = "grey"
	}
	f, err := save("embedding-pca.png", FilterImage(pca.Components, c.Channels, side, 7), "Embedding filters (Figure 7, left)",
		fmt.Sprintf("The first %d principal components of the %d %s, each a %d×%d %s patch min-max scaled on its own, "+
			"in reading order; together they explain %.1f%% of the filters' variance (first: %.1f%%). The paper finds that they "+
			"resemble plausible basis functions for a low-dimensional representation of the fine structure within each patch.",
			k, nFilters, what, side, side, kind, 100*total, 100*pca.Explained[0]))
	if err != nil {
		return nil, err
	}
	s7.Figures = append(s7.Figures, f)

	rep.PositionSimilarity = PositionSimilarity(m)
	posKind := map[string]string{"sincos": "fixed sine-cosine", "learned-2d": "learned 2-D (row and column)"}[c.PosEmbed]
	if posKind == "" {
		posKind = "learned"
	}
	if rep.PositionSimilarity != nil {
		f, err := save("position-similarity.png", SimilarityImage(rep.PositionSimilarity, g.H, g.W), "Position embedding similarity (Figure 7, centre)",
			fmt.Sprintf("Tile (r, c) shows the cosine similarity of the %s position embedding of the patch at row r, column c with those of all "+
				"%d×%d patches (dark purple −1, yellow 1). The paper finds that closer patches have more similar embeddings and that "+
				"a row-column structure appears: patches in the same row or column have similar embeddings.", posKind, g.H, g.W))
		if err != nil {
			return nil, err
		}
		s7.Figures = append(s7.Figures, f)
	}

	if in.N > 0 {
		progress("mean attention distance over %d images", in.N)
		x := c.Input().Normalize(in.Images)
		rep.MeanAttentionDistance, err = MeanAttentionDistance(m, x, in.N, func(done int) {
			if in.Progress != nil {
				in.Progress(done, in.N)
			}
		})
		if err != nil {
			return nil, err
		}
		rep.UniformAttentionDistance = UniformDistance(GridOf(c))
		rep.AttentionDistanceByLayer = DistanceByLayer(rep.MeanAttentionDistance)
		rep.AttentionDistanceGrowth = DistanceGrowth(rep.MeanAttentionDistance)
		byLayer := rep.AttentionDistanceByLayer
		first, last := byLayer[0], byLayer[len(byLayer)-1]
		img, err := DistancePlot(rep.MeanAttentionDistance, max(c.ImageHeight, c.ImageWidth), rep.UniformAttentionDistance)
		if err != nil {
			return nil, err
		}
		f, err = save("attention-distance.png", img, "Mean attention distance (Figure 7, right)",
			fmt.Sprintf("One dot per head and layer: the mean distance in pixels between a query patch and the patches it attends to, "+
				"weighted by the attention, averaged over %d images of %s (images %d×%d, patches %d×%d). The dashed line, %.1f pixels, is what "+
				"attention spread evenly over the patches gives. The paper finds that some heads attend "+
				"to most of the image already in the lowest layers while others stay local, and that the distance grows with depth. "+
				"Here the heads of layer 1 reach %.1f–%.1f pixels (mean %.1f), those of layer %d %.1f–%.1f (mean %.1f); "+
				"a least-squares line through all heads rises %+.2f pixels per layer.",
				in.N, in.DataName, c.ImageHeight, c.ImageWidth, c.PixelPatch(), c.PixelPatch(), rep.UniformAttentionDistance,
				first.Min, first.Max, first.Mean, len(byLayer), last.Min, last.Max, last.Mean, rep.AttentionDistanceGrowth))
		if err != nil {
			return nil, err
		}
		s7.Figures = append(s7.Figures, f)
	}
	sections = append(sections, s7)

	// Training.
	st := section{Title: "Training"}
	if in.Metrics != nil && (len(in.Metrics.Steps) > 0 || len(in.Metrics.Epochs) > 0) {
		rep.Epochs = in.Metrics.Epochs
		img, err := TrainingCurves(in.Metrics)
		if err != nil {
			return nil, err
		}
		f, err := save("training-curves.png", img, "Training curves", "Training loss, accuracy and learning rate per optimizer step "+
			"(lines), the averages of each epoch and the held-out scores after each epoch (dots: the validation split, or the test set in older logs), and that accuracy per epoch.")
		if err != nil {
			return nil, err
		}
		st.Figures = append(st.Figures, f)
	}
	if len(in.Confusion) > 0 {
		classes := c.Labels
		img, err := ConfusionImage(in.Confusion, classes)
		if err != nil {
			return nil, err
		}
		f, err := save("confusion.png", img, "Confusion matrix", fmt.Sprintf("Rows: true class, columns: predicted class, on %s; "+
			"the colour is the fraction of the row, so the diagonal shows each class's recall.", in.TestName))
		if err != nil {
			return nil, err
		}
		st.Figures = append(st.Figures, f)
	}
	if len(st.Figures) > 0 {
		sections = append(sections, st)
	}

	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, ReportJSON), append(b, '\n')); err != nil {
		return nil, err
	}
	bar, err := EncodePNG(ColorBar(256, 12))
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	err = reportTemplate.Execute(&page, map[string]any{
		"Report":   rep,
		"Sections": sections,
		"Bar":      template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(bar)),
		"Distance": DistanceFormula,
		"Rollout":  RolloutFormula,
		"Gradient": GradientRolloutFormula,
		"PCA":      PCAFormula,
		"Params":   m.NumParams(),
	})
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, ReportHTML), page.Bytes()); err != nil {
		return nil, err
	}
	return rep, nil
}

// grid2D reshapes a map [g.H·g.W] into [g.H][g.W].
func grid2D(m []float64, g Grid) [][]float64 {
	out := make([][]float64, g.H)
	for i := range out {
		out[i] = m[i*g.W : (i+1)*g.W]
	}
	return out
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vision Transformer report: {{.Report.Model}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
figure { margin: 1.2em 0; } figcaption { font-size: .92em; color: #444; max-width: 900px; }
img { max-width: 100%; height: auto; image-rendering: pixelated; border: 1px solid #eee; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 1em; }
.grid figure { margin: 0; }
table { border-collapse: collapse; font-size: .92em; } td, th { padding: .15em .8em .15em 0; text-align: left; }
code { background: #f4f4f4; padding: 0 .2em; } .formula { font-size: .9em; background: #f8f8f8; padding: .5em; }
.bar { vertical-align: middle; width: 256px; height: 12px; }
</style>
</head>
<body>
<h1>Vision Transformer report</h1>
<table>
<tr><th>model</th><td><code>{{.Report.Model}}</code></td></tr>
<tr><th>input</th><td>{{.Report.Config.ImageHeight}}×{{.Report.Config.ImageWidth}}, {{.Report.Config.Channels}} channel(s), patch {{.Report.Config.Patch}}</td></tr>
<tr><th>encoder</th><td>dim {{.Report.Config.Dim}}, depth {{.Report.Config.Depth}}, {{.Report.Config.Heads}} heads, MLP {{.Report.Config.MLPDim}}, {{.Params}} parameters</td></tr>
<tr><th>classes</th><td>{{.Report.Config.Classes}}</td></tr>
{{if .Report.Dataset}}<tr><th>images</th><td>{{.Report.Images}} from {{.Report.Dataset}}</td></tr>{{end}}
<tr><th>rollout</th><td>heads fused by {{or .Report.RolloutOptions.Fuse "mean"}}, discard {{.Report.RolloutOptions.Discard}}</td></tr>
</table>
<p>Heat maps use the viridis colour map: <img class="bar" src="{{.Bar}}" alt="viridis colour bar"> from low (left) to high (right).
The numbers behind every figure are in <code>report.json</code>.</p>
{{range .Sections}}
<h2>{{.Title}}</h2>
{{if .Text}}<p>{{.Text}}</p>{{end}}
<div{{if .Grid}} class="grid"{{end}}>
{{range .Figures}}<figure>
<img src="{{.Src}}" alt="{{.Title}}" width="{{.Width}}" data-file="{{.File}}">
<figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption>
</figure>
{{end}}</div>
{{end}}
<h2>Formulas</h2>
<p class="formula"><b>Mean attention distance.</b> {{.Distance}}.</p>
<p class="formula"><b>Attention rollout.</b> {{.Rollout}}.</p>
<p class="formula"><b>Gradient-weighted rollout.</b> {{.Gradient}}.</p>
<p class="formula"><b>Embedding PCA.</b> {{.PCA}}.</p>
<script>
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
  }
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
  document.body.setAttribute("data-images-ok", ok === imgs.length ? "true" : "false");
});
</script>
</body>
</html>
`))
