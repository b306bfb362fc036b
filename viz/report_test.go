package viz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vitgo/vit"
)

// buildTestReport writes a report of a tiny model with a metrics log and a
// confusion matrix into a temporary folder.
func buildTestReport(t *testing.T) (string, *Report) {
	t.Helper()
	return buildReportOf(t, tinyConfig())
}

// buildReportOf is buildTestReport for a model of configuration c.
func buildReportOf(t *testing.T, c vit.Config) (string, *Report) {
	t.Helper()
	m, err := vit.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	run := t.TempDir()
	var log bytes.Buffer
	for s := 1; s <= 20; s++ {
		fmt.Fprintf(&log, `{"type":"step","step":%d,"epoch":%d,"loss":%g,"accuracy":%g,"lr":%g,"grad_norm":1,"images_per_s":100,"time":"x"}`+"\n",
			s, (s-1)/10, 2.0/float64(s), 0.3+0.03*float64(s), 0.001*float64(min(s, 5))/5)
		if s%10 == 0 {
			fmt.Fprintf(&log, `{"type":"epoch","epoch":%d,"step":%d,"train_loss":%g,"train_accuracy":%g,"test_loss":%g,"test_accuracy":%g}`+"\n",
				s/10-1, s, 1.0/float64(s), 0.5, 1.1/float64(s), 0.45)
		}
	}
	log.WriteString(`{"type":"step","step":5,"epoch":0,"loss":0.5,"accuracy":0.5,"lr":0.001}` + "\n{\"type\":\"st") // resumed, then cut short
	if err := os.WriteFile(filepath.Join(run, MetricsFile), log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rm, err := ReadMetrics(run)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Steps) != 20 || len(rm.Epochs) != 2 || rm.Steps[4].Loss != 0.5 {
		t.Fatalf("metrics: %d steps, %d epochs, step 5 loss %v", len(rm.Steps), len(rm.Epochs), rm.Steps[4].Loss)
	}
	const n = 4
	px := make([]uint8, n*3*16*12)
	for i := range px {
		px[i] = uint8(i * 7)
	}
	dir := filepath.Join(t.TempDir(), "report")
	rep, err := BuildReport(dir, ReportInput{Model: m, ModelName: "tiny", Images: px, N: n, Labels: []int{0, 1, 2, 0},
		DataName: "synthetic", Rollouts: 2, Metrics: rm, Confusion: [][]int{{5, 1, 0}, {2, 3, 1}, {0, 0, 6}}, TestName: "synthetic test"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, rep
}

func TestReport(t *testing.T) {
	dir, rep := buildTestReport(t)
	c := tinyConfig()
	if len(rep.MeanAttentionDistance) != c.Depth || len(rep.MeanAttentionDistance[0]) != c.Heads {
		t.Fatalf("mean attention distance shape")
	}
	if want := UniformDistance(GridOf(c)); rep.UniformAttentionDistance != want || want <= 0 {
		t.Fatalf("uniform attention distance %v, want %v", rep.UniformAttentionDistance, want)
	}
	if by := rep.AttentionDistanceByLayer; len(by) != c.Depth || by[0].Min > by[0].Mean || by[0].Mean > by[0].Max ||
		rep.AttentionDistanceGrowth != DistanceGrowth(rep.MeanAttentionDistance) {
		t.Fatalf("distance summaries %+v, growth %v", by, rep.AttentionDistanceGrowth)
	}
	if len(rep.PositionSimilarity) != 12 || len(rep.Rollout) != 2 || len(rep.Rollout[0].Rollout) != 4 || len(rep.Rollout[0].Rollout[0]) != 3 {
		t.Fatalf("report shapes: %d, %d", len(rep.PositionSimilarity), len(rep.Rollout))
	}
	for _, f := range []string{"rollout-00.png", "gradient-rollout-01.png", "raw-attention.png", "embedding-pca.png",
		"position-similarity.png", "attention-distance.png", "training-curves.png", "confusion.png", ReportJSON, ReportHTML} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"mean_attention_distance", "uniform_attention_distance", "attention_distance_by_layer", "attention_distance_growth", "position_similarity", "pca_explained_variance", "rollout", "config", "formulas"} {
		if j[k] == nil {
			t.Errorf("report.json lacks %s", k)
		}
	}
	if !strings.Contains(string(b), "re-normalised") {
		t.Error("report.json lacks the distance formula")
	}

	// report.html parses, and every image is inlined.
	page, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	imgs := 0
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case n.Data == "img" && a.Key == "src":
					imgs++
					if !strings.HasPrefix(a.Val, "data:image/png;base64,") {
						t.Errorf("img src %.40q is not a data: URI", a.Val)
					}
				case (a.Key == "src" || a.Key == "href") && !strings.HasPrefix(a.Val, "data:"):
					t.Errorf("<%s %s=%q> refers outside the page", n.Data, a.Key, a.Val)
				}
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
	// 2 images × 2 rollouts, raw attention, PCA, position, distance,
	// curves, confusion and the colour bar.
	if imgs != 11 {
		t.Fatalf("%d images in report.html, want 11", imgs)
	}
}

// TestReportHybrid builds the report of a hybrid: tokens cover 4×4 pixels
// through a stride-2 stem and 2×2 patches, and Figure 7 (left) shows the
// first convolution's 3×3 kernels.
func TestReportHybrid(t *testing.T) {
	c := tinyConfig()
	c.Stem = []vit.StemConv{{Channels: 6, Kernel: 3, Stride: 2}}
	c.Patch = 2
	dir, rep := buildReportOf(t, c)
	if g := GridOf(c); g.Patch != 4 || g.H != 4 || g.W != 3 {
		t.Fatalf("grid %+v, want 4×3 tokens of 4 pixels", g)
	}
	if len(rep.PositionSimilarity) != 12 || len(rep.MeanAttentionDistance) != c.Depth {
		t.Fatalf("report shapes: %d positions, %d layers", len(rep.PositionSimilarity), len(rep.MeanAttentionDistance))
	}
	// 6 kernels of 3·3·3 values: 6 components at most.
	if len(rep.PCAExplainedVariance) != 6 {
		t.Fatalf("%d principal components, want 6", len(rep.PCAExplainedVariance))
	}
	page, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "first stem convolution") {
		t.Error("report.html does not say whose filters Figure 7 (left) shows")
	}
}

// TestReportInBrowser opens report.html in headless Chromium and checks that
// every image decodes and nothing is logged to the console.
func TestReportInBrowser(t *testing.T) {
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no /usr/bin/chromium")
	}
	dir, _ := buildTestReport(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
		"file://"+filepath.Join(dir, ReportHTML))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	if !strings.Contains(dom, `data-images-ok="true"`) {
		i := strings.Index(dom, "<body")
		t.Fatalf("not every image loaded; body: %.200s\nstderr:\n%s", dom[max(i, 0):], stderr.String())
	}
	if !strings.Contains(dom, `data-images-loaded="11/11"`) {
		t.Fatal("image count in the browser differs")
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Uncaught") {
			t.Errorf("console: %s", l)
		}
	}
}

// ReadMetrics keeps the records of a log with garbage lines and counts the
// lines it skipped, from the first, so a report can say its curves leave
// them out.
func TestReadMetricsSkipped(t *testing.T) {
	log := `{"type":"step","step":1,"epoch":0,"loss":2}
garbage
{"type":"epoch","epoch":"x"}

{"type":"step","step":2,"epoch":0,"loss":1}
[1,2]
null
{"type":"step","step":1e400}
{"type":"final","step":2}
{"type":"st`
	path := filepath.Join(t.TempDir(), MetricsFile)
	os.WriteFile(path, []byte(log), 0o644)
	rm, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Steps) != 2 || rm.Skipped != 6 || rm.FirstSkipped != 2 {
		t.Fatalf("%d steps, %d lines skipped from line %d; want 2 steps, 6 lines skipped from line 2", len(rm.Steps), rm.Skipped, rm.FirstSkipped)
	}
}

// BuildReport refuses, before writing anything, inputs it would draw
// wrongly or crash on: no model, labels and names that do not match the
// images, labels outside the classes, a ragged confusion matrix.
func TestBuildReportRefusesBadInput(t *testing.T) {
	m, err := vit.New(tinyConfig(), 5)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	n := 2
	px := make([]uint8, n*c.Channels*c.ImageHeight*c.ImageWidth)
	square := make([][]int, c.Classes)
	for i := range square {
		square[i] = make([]int, c.Classes)
	}
	for name, in := range map[string]ReportInput{
		"no model":         {},
		"short images":     {Model: m, Images: px[:10], N: n},
		"negative N":       {Model: m, N: -1},
		"labels short":     {Model: m, Images: px, N: n, Labels: []int{0}},
		"names long":       {Model: m, Images: px, N: n, Names: []string{"a", "b", "c"}},
		"label past":       {Model: m, Images: px, N: n, Labels: []int{0, c.Classes}},
		"label below":      {Model: m, Images: px, N: n, Labels: []int{-2, 0}},
		"confusion rows":   {Model: m, Confusion: square[1:]},
		"confusion ragged": {Model: m, Confusion: append(square[1:], []int{1})},
	} {
		dir := filepath.Join(t.TempDir(), "report")
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic %v", name, p)
				}
			}()
			if _, err := BuildReport(dir, in); err == nil {
				t.Errorf("%s: a report was built", name)
			}
		}()
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: the refused report left %s", name, dir)
		}
	}
}
