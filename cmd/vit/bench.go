package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

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

// benchFlags are vit bench's own flags.
type benchFlags struct {
	model               modelFlags
	training            trainingFlags
	train, noPack, json bool
	batch, replicas     int
	dtype, cpuProfile   string
	seconds             float64
}

func benchCommand() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--train] [model flags] [--batch N] [--dtype fp32|bf16] [--json]",
		Short: "measure training or inference throughput",
		Long: `Measures training or inference throughput of a model given by the model flags (a preset such
as --model B/16, or --dim, --depth, ...), or of a saved model: --model PATH takes anything vit
predict reads (a run folder, a model folder, .safetensors, .npz) and measures it as loaded.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.BoolVar(&f.train, "train", false, "measure training steps (forward, backward, AdamW) instead of inference")
	fl.count(&f.batch, "batch", 0, 1, "batch size (default: 128 training, 16 inference)")
	fl.enum(&f.dtype, "dtype", "fp32", dtypes, "number format of the inference matrix products: fp32 or bf16")
	fl.positive(&f.seconds, "seconds", 10, "how long to measure, after warm-up")
	fs.BoolVar(&f.noPack, "no-pack", false, "inference without weights packed at load (for comparison)")
	fl.count(&f.replicas, "replicas", 0, 1, "training: model replicas sharing each batch (default: as vit train)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured steps to `FILE` (go tool pprof)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object")
	f.model.savedOK = true
	f.model.register(fs)
	f.training.register(fs)
	return cmd
}

func runBench(cmd *cobra.Command, f *benchFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var c vit.Config
	saved, err := f.model.saved(cmd.Context(), "measured")
	if err != nil {
		return err
	}
	if saved != nil {
		c = saved.Config
	} else if c, err = f.model.standalone(&f.training); err != nil {
		return err
	}
	dt, err := kernels.ParseDType(f.dtype)
	if err != nil {
		return usageErrorf("--dtype: %v", err)
	}
	if f.train && dt != kernels.F32 {
		return usageErrorf("--dtype %s: training runs in fp32; bf16 is for inference", dt)
	}
	if !cmd.Flags().Changed("batch") {
		f.batch = map[bool]int{true: 128, false: 16}[f.train]
	}
	if err := c.CheckMemory(f.batch, f.train); err != nil {
		return fmt.Errorf("%s: %w (--batch)", describe(c), err)
	}
	fmt.Fprintf(stderr, "measuring the peak %s multiply-add rate on %d workers...\n", dt, kernels.Workers)
	peak, peakHow := kernels.Peak(dt, kernels.Workers, 300*time.Millisecond)

	var m vit.Network = saved
	if saved == nil {
		if m, err = vit.NewNetwork(c, 1); err != nil {
			return err
		}
	}
	weightBytes := func() int64 { return 4 * m.NumParams() }
	if vm, ok := m.(*vit.Model); ok {
		if !f.train && !f.noPack {
			vm.PackWeights(dt)
		}
		weightBytes = vm.WeightBytes
	}
	if dt == kernels.BF16 && !kernels.NativeBF16() {
		fmt.Fprintln(stderr, "bf16: this CPU has no AVX512_BF16; products use bf16-rounded values on the fp32 kernel (bf16 numbers, fp32 speed)")
	}
	b := f.batch
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
	if f.train {
		grads := train.NewGradients(m, b, f.replicas)
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
	if f.cpuProfile != "" {
		f, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stderr, "measuring %s, batch %d, %s, for %.0f s...\n", describe(c), b, dt, f.seconds)
	n := 0
	start := time.Now()
	for time.Since(start).Seconds() < f.seconds || n < 3 {
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
	flops, computed := float64(c.FLOPs()), float64(c.FLOPs()-c.SkippedFLOPs(f.train))
	if f.train {
		flops, computed = 3*flops, 3*computed
	}
	res := benchResult{
		Mode:                  map[bool]string{true: "train", false: "inference"}[f.train],
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
		WeightsMiB:            float64(weightBytes()) / (1 << 20),
	}
	res.PeakFraction = res.GFLOPs / res.PeakGFLOPs
	if f.json {
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
