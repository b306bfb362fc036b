package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/viz"
)

func TestReportCommand(t *testing.T) {
	model := tinyModel(t, 3)
	imgs := t.TempDir()
	for _, n := range []string{"x.png", "y.png", "z.png"} {
		writeImage(t, filepath.Join(imgs, n), 20, 20)
	}
	run := t.TempDir()
	log := `{"type":"step","step":10,"epoch":0,"loss":2,"accuracy":0.3,"lr":0.001}
{"type":"step","step":20,"epoch":0,"loss":1.5,"accuracy":0.5,"lr":0.0005}
{"type":"epoch","epoch":0,"step":20,"train_loss":1.7,"train_accuracy":0.4,"test_loss":1.6,"test_accuracy":0.45}
`
	if err := os.WriteFile(filepath.Join(run, viz.MetricsFile), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report")
	var stdout, stderr strings.Builder
	err := runCmd("report", []string{"--model", model, "--run", run, "--data", imgs, "--images", "2", "--rollouts", "1", "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != filepath.Join(out, viz.ReportHTML) {
		t.Fatalf("stdout %q", got)
	}
	b, err := os.ReadFile(filepath.Join(out, viz.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var rep viz.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Images != 2 || len(rep.Rollout) != 1 || rep.Rollout[0].Name != "x.png" || len(rep.MeanAttentionDistance) != 2 {
		t.Fatalf("report: %d images, %d rollouts, %d layers", rep.Images, len(rep.Rollout), len(rep.MeanAttentionDistance))
	}
	if _, ok := rep.Figures["training-curves"]; !ok {
		t.Fatalf("figures %v", rep.Figures)
	}

	// A dataset whose images do not fit the model is refused.
	if err := runCmd("report", []string{"--model", model, "--data", "embedded", "--out", out}, &stdout, &stderr); err == nil {
		t.Fatal("mismatched dataset accepted")
	}
	if err := runCmd("report", []string{"--model", model}, &stdout, &stderr); err == nil {
		t.Fatal("missing --out accepted")
	}
}
