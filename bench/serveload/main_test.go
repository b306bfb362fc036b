package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/offline"
	"github.com/vitgo/vit/serve"
)

// TestMain is also the server process the tests start (serverEnv).
func TestMain(m *testing.M) {
	if cfg := os.Getenv(serverEnv); cfg != "" {
		serverMain(cfg)
		return
	}
	offline.Main(m)
}

// TestRun runs the load generator briefly on a tiny model, served in this
// process: every request is answered and the table has a row per
// concurrency, with batches of more than one image at 8 clients.
func TestRun(t *testing.T) {
	dir := tinyModelDir(t)
	var out strings.Builder
	err := run(config{model: dir, image: "../../imageio/testdata/in/small.gif", dtype: "fp32", concurrency: []int{1, 8},
		seconds: 0.5, requests: 200, server: "inproc", forwardSeconds: 0.1, opt: serve.BatchOptions{MaxBatch: 8, MaxDelay: 2 * time.Millisecond}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(rows) != 7 || !strings.Contains(rows[1], "the model alone at --max-batch") {
		t.Fatalf("want a header line, the model's speed alone, a blank line, a table header and 2 rows:\n%s", out.String())
	}
	for _, r := range rows[5:] {
		f := strings.Split(r, "|")
		if len(f) != 17 || f[4] != " 0 " || f[5] != " 0 " || f[3] == " 0 " || !strings.HasSuffix(f[7], "% ") {
			t.Errorf("row %s: want every request answered 200, and the share of the model's speed alone", r)
		}
	}
	if f := strings.Split(rows[6], "|"); f[12] == " 1 " {
		t.Errorf("8 clients formed no batch of more than one image: %s", rows[5])
	}
	t.Log("\n" + out.String())
}

// TestOverload runs the overload check briefly on a tiny model with a
// queue of one image and a rate far past the capacity: some requests are
// refused 429, none fail otherwise, and the report gives the accepted p99,
// the 429 latencies and the peak RSS.
func TestOverload(t *testing.T) {
	dir := tinyModelDir(t)
	var out strings.Builder
	err := run(config{model: dir, image: "../../imageio/testdata/in/small.gif", dtype: "fp32", concurrency: []int{2},
		seconds: 0.5, requests: 400, overload: true, rate: 2000,
		opt: serve.BatchOptions{MaxBatch: 1, MaxDelay: time.Millisecond, Queue: 1}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	t.Log("\n" + report)
	for _, want := range []string{"overload: 2000.0 requests/s offered open-loop", "accepted: p50", "× the p99 at capacity", "429s at the clients (request sent to answer read): p50",
		"429s in the server (handler entered to answer written)", "in its own process", "the server's peak RSS"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	var sent, ok, refused, other, skipped int
	i := strings.Index(report, "  sent ")
	if i < 0 {
		t.Fatal("no sent line")
	}
	if _, err := fmt.Sscanf(report[i:], "  sent %d: %d answered 200", &sent, &ok); err != nil {
		t.Fatal(err)
	}
	j := strings.Index(report[i:], "images/s), ")
	if _, err := fmt.Sscanf(report[i+j:], "images/s), %d refused 429, %d other, %d not sent", &refused, &other, &skipped); err != nil {
		t.Fatal(err)
	}
	if ok == 0 || refused == 0 || other != 0 || ok+refused != sent {
		t.Errorf("sent %d: %d answered, %d refused, %d other: want some answered, some refused and nothing else", sent, ok, refused, other)
	}
}

// TestURL measures a server already running, given by its URL: every
// request is answered; the batches and RSS, not known, are shown as "-".
func TestURL(t *testing.T) {
	srv, err := startServer(serverConfig{Preset: "", Model: tinyModelDir(t), DType: "fp32", MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	var out strings.Builder
	err = run(config{url: srv.url, image: "../../imageio/testdata/in/small.gif", concurrency: []int{2}, seconds: 0.3, requests: 50}, &out)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	f := strings.Split(rows[len(rows)-1], "|")
	if len(f) != 17 || f[3] == " 0 " || f[4] != " 0 " || f[5] != " 0 " || f[7] != " - " || f[11] != " - " || f[13] != " - " || f[14] != " - " || f[15] == " - " {
		t.Errorf("want every request answered and no batch or RSS:\n%s", out.String())
	}
}

func tinyModelDir(t *testing.T) string {
	c := vit.Config{ImageHeight: 32, ImageWidth: 32, Channels: 3, Patch: 8, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 3}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := checkpoint.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFashionImage: -image fashion-mnist:N posts a test image of
// Fashion-MNIST as a 28×28 PNG (skipped where the data set is absent).
func TestFashionImage(t *testing.T) {
	b, err := readImage("fashion-mnist:3")
	if err != nil {
		t.Skipf("no Fashion-MNIST here: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 28 || cfg.Height != 28 {
		t.Errorf("fashion-mnist:3: %v, %dx%d", err, cfg.Width, cfg.Height)
	}
	if _, err := readImage("fashion-mnist:x"); err == nil {
		t.Error("fashion-mnist:x was taken")
	}
}
