package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
	"github.com/vitgo/vit/optim"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "[--train] [model flags] [--batch N] [--json]", stderr)
	var mf modelFlags
	mf.register(fs)
	trainMode := fs.Bool("train", false, "measure training steps (forward, backward, AdamW) instead of inference")
	batch := fs.Int("batch", 0, "batch size (default: 128 training, 16 inference)")
	seconds := fs.Float64("seconds", 10, "how long to measure, after warm-up")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := mf.standalone()
	if err != nil {
		return err
	}
	if *batch <= 0 {
		*batch = map[bool]int{true: 128, false: 16}[*trainMode]
	}
	m, err := vit.New(c, 1)
	if err != nil {
		return err
	}
	b := *batch
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, b*c.Channels*c.ImageHeight*c.ImageWidth)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, b)
	for i := range labels {
		labels[i] = rng.IntN(c.Classes)
	}
	var step func() error
	if *trainMode {
		ws := m.NewWorkspace(b, true)
		opt := optim.NewAdamW(0.05)
		params := m.Params()
		dlogits := make([]float32, b*c.Classes)
		step = func() error {
			logits, err := m.Forward(ws, x, b)
			if err != nil {
				return err
			}
			nn.CrossEntropy(dlogits, logits, labels, c.Classes, 0.1)
			m.ZeroGrad()
			if err := m.Backward(ws, dlogits, b); err != nil {
				return err
			}
			optim.ClipGradNorm(params, 1)
			opt.Step(params, 1e-4)
			return nil
		}
	} else {
		step = func() error { _, err := m.Predict(x, b); return err }
	}
	// Warm up, then measure for the requested time.
	for range 2 {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "measuring %s, batch %d, for %.0f s...\n", describe(c), b, *seconds)
	n := 0
	start := time.Now()
	for time.Since(start).Seconds() < *seconds || n < 3 {
		if err := step(); err != nil {
			return err
		}
		n++
	}
	elapsed := time.Since(start).Seconds()
	ips := float64(n*b) / elapsed
	flops := float64(c.FLOPs())
	if *trainMode {
		flops *= 3
	}
	res := struct {
		Mode       string  `json:"mode"`
		Batch      int     `json:"batch"`
		ImagesPerS float64 `json:"images_per_s"`
		MsPerBatch float64 `json:"ms_per_batch"`
		GFLOPs     float64 `json:"gflops"`
	}{map[bool]string{true: "train", false: "inference"}[*trainMode], b, ips, 1000 * elapsed / float64(n), ips * flops / 1e9}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%s: %.1f images/s, %.1f ms per batch of %d, %.1f GFLOP/s\n", res.Mode, res.ImagesPerS, res.MsPerBatch, b, res.GFLOPs)
	return nil
}
