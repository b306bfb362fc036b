package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/optim"
	"github.com/vitgo/vit/train"
)

// benchResult is what `vit bench --json` prints.
type benchResult struct {
	Mode          string  `json:"mode"` // "inference" or "train"
	Model         string  `json:"model"`
	DType         string  `json:"dtype"`
	Batch         int     `json:"batch"`
	Workers       int     `json:"workers"`
	Replicas      int     `json:"replicas,omitempty"` // training: data-parallel replicas
	ImagesPerS    float64 `json:"images_per_s"`
	MsPerBatch    float64 `json:"ms_per_batch"`
	FlopsPerImage float64 `json:"flops_per_image"` // the model's, forward; training counts 3×
	// ComputedFlopsPerImage is what ran: FlopsPerImage less the work the
	// last block skips (vit.Config.SkippedFLOPs). GFLOPs and PeakFraction
	// count it.
	ComputedFlopsPerImage float64 `json:"computed_flops_per_image"`
	GFLOPs                float64 `json:"gflops"`
	PeakGFLOPs            float64 `json:"peak_gflops"` // measured with an FMA loop at start
	PeakHow               string  `json:"peak_how"`
	PeakFraction          float64 `json:"peak_fraction"`
	NativeBF16            bool    `json:"native_bf16"`
	PeakRSSMiB            float64 `json:"peak_rss_mib"` // whole process, including the input batch
	WeightsMiB            float64 `json:"weights_mib"`  // parameters plus packed copies
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "[--train] [model flags] [--batch N] [--dtype fp32|bf16] [--json]", stderr)
	var mf modelFlags
	mf.register(fs)
	trainMode := fs.Bool("train", false, "measure training steps (forward, backward, AdamW) instead of inference")
	batch := fs.Int("batch", 0, "batch size (default: 128 training, 16 inference)")
	dtypeFlag := fs.String("dtype", "fp32", "number format of the inference matrix products: fp32 or bf16")
	seconds := fs.Float64("seconds", 10, "how long to measure, after warm-up")
	noPack := fs.Bool("no-pack", false, "inference without weights packed at load (for comparison)")
	replicas := fs.Int("replicas", 0, "training: model replicas sharing each batch (default: as vit train)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured steps to `FILE` (go tool pprof)")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := mf.standalone()
	if err != nil {
		return err
	}
	dt, err := kernels.ParseDType(*dtypeFlag)
	if err != nil {
		return fmt.Errorf("--dtype: %w", err)
	}
	if *trainMode && dt != kernels.F32 {
		return fmt.Errorf("--dtype %s: training runs in fp32; bf16 is for inference", dt)
	}
	if *batch <= 0 {
		*batch = map[bool]int{true: 128, false: 16}[*trainMode]
	}
	if *replicas < 0 {
		return fmt.Errorf("--replicas must be 0 (one per core) or more, got %d", *replicas)
	}
	fmt.Fprintf(stderr, "measuring the peak %s multiply-add rate on %d workers...\n", dt, kernels.Workers)
	peak, peakHow := kernels.Peak(dt, kernels.Workers, 300*time.Millisecond)

	m, err := vit.New(c, 1)
	if err != nil {
		return err
	}
	if !*trainMode && !*noPack {
		m.PackWeights(dt)
	}
	if dt == kernels.BF16 && !kernels.NativeBF16() {
		fmt.Fprintln(stderr, "bf16: this CPU has no AVX512_BF16; products use bf16-rounded values on the fp32 kernel (bf16 numbers, fp32 speed)")
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
	reps := 0
	if *trainMode {
		grads := train.NewGradients(m, b, *replicas)
		reps = grads.Replicas()
		opt := optim.NewAdamW(0.05)
		params := m.Params()
		step = func() error {
			if _, _, err := grads.Compute(x, train.Targets{Labels: labels, Smoothing: 0.1}, 1, 0); err != nil {
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
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stderr, "measuring %s, batch %d, %s, for %.0f s...\n", describe(c), b, dt, *seconds)
	n := 0
	start := time.Now()
	for time.Since(start).Seconds() < *seconds || n < 3 {
		if err := step(); err != nil {
			return err
		}
		n++
	}
	elapsed := time.Since(start).Seconds()
	// The machine may have been slowed by others during the first peak
	// measurement: measure again and keep the higher.
	if again, how := kernels.Peak(dt, kernels.Workers, 300*time.Millisecond); again > peak {
		peak, peakHow = again, how
	}
	ips := float64(n*b) / elapsed
	flops, computed := float64(c.FLOPs()), float64(c.FLOPs()-c.SkippedFLOPs(*trainMode))
	if *trainMode {
		flops, computed = 3*flops, 3*computed
	}
	res := benchResult{
		Mode:                  map[bool]string{true: "train", false: "inference"}[*trainMode],
		Model:                 describe(c),
		DType:                 dt.String(),
		Batch:                 b,
		Workers:               kernels.Workers,
		Replicas:              reps,
		ImagesPerS:            ips,
		MsPerBatch:            1000 * elapsed / float64(n),
		FlopsPerImage:         flops,
		ComputedFlopsPerImage: computed,
		GFLOPs:                ips * computed / 1e9,
		PeakGFLOPs:            peak / 1e9,
		PeakHow:               peakHow,
		NativeBF16:            kernels.NativeBF16(),
		PeakRSSMiB:            float64(peakRSS()) / (1 << 20),
		WeightsMiB:            float64(m.WeightBytes()) / (1 << 20),
	}
	res.PeakFraction = res.GFLOPs / res.PeakGFLOPs
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	how := fmt.Sprintf("%d workers", res.Workers)
	if reps > 1 {
		how += fmt.Sprintf(", %d replicas", reps)
	}
	fmt.Fprintf(stdout, "%s %s: %.2f images/s, %.1f ms per batch of %d, %.1f GFLOP/s computed = %.0f%% of the measured peak %.0f GFLOP/s (%s, %s); %.1f GFLOP/s of the model's FLOPs; peak RSS %.0f MiB, weights %.0f MiB\n",
		res.Mode, res.DType, res.ImagesPerS, res.MsPerBatch, b, res.GFLOPs, 100*res.PeakFraction, res.PeakGFLOPs, peakHow, how, res.ImagesPerS*res.FlopsPerImage/1e9, res.PeakRSSMiB, res.WeightsMiB)
	return nil
}
