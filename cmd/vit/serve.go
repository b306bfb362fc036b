package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/serve"
	"github.com/vitgo/vit/serve/web"
)

// serveFlags are vit serve's flags.
type serveFlags struct {
	models                   modelsValue
	addr, dtype              string
	maxBatch, queue          int
	computeNice              int
	maxDelay, timeout, drain time.Duration
	maxBody, maxPixels       int64
}

func serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --model NAME=PATH [--model NAME=PATH ...] [--addr :8080]",
		Short: "classify and embed images over HTTP, with dynamic batching and metrics",
		Long: `Serves each model under its NAME:
  POST /v1/models/NAME:predict  (an image as the body, or multipart "image" parts; ?top=5, ?logits=true)
  POST /v1/models/NAME:embed    (the same inputs; pre-head features)
  the Open Inference Protocol under /v2 (KServe v2, Triton), Prometheus metrics at /metrics, and at /
  a web page: drop an image, see its top-5 labels and its attention rollout.
Requests for a model are run in batches of up to --max-batch images. One JSON log line per request goes
to stderr. SIGTERM or interrupt: readiness turns false, new requests get 503, those in flight finish
within --drain, and vit exits 0.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	f.models = modelsValue{}
	fs.Var(&f.models, "model", "a model to serve, as `NAME=PATH` (PATH: a model folder, .safetensors or .npz file, run folder, or anything vit predict reads); repeat for more models")
	fl.parsed(&f.addr, "addr", ":8080", parseAddr, []string{"8080", "localhost:http2", ":70000", ""}, "the address to listen on, HOST:PORT (port 0 picks a free one)")
	fl.enum(&f.dtype, "dtype", "fp32", dtypes, "number format of the matrix products: fp32 or bf16")
	fl.count(&f.maxBatch, "max-batch", 16, 1, "the most images run in one forward pass")
	fs.Var(newDuration(&f.maxDelay, 5*time.Millisecond, time.Minute), "max-delay", "how long the first image of a batch waits for others")
	fl.count(&f.queue, "queue", 256, 1, "the most images waiting per model; more are refused with 429")
	fs.Var(newDuration(&f.timeout, 30*time.Second, 24*time.Hour), "timeout", "the longest a request may take; past it, 504")
	fs.Var(newQuantity(&f.maxBody, 32<<20, 1<<30, binaryUnits, "a size such as 32MiB, 500KB or 1048576"), "max-body", "the largest request body; larger ones get 413")
	fs.Var(newQuantity(&f.maxPixels, 50_000_000, 1<<40, decimalUnits, "a count such as 50M, 500K or 1000000"), "max-pixels", "the most pixels (width×height) of an image, checked before decoding; more get 413")
	fs.Var(newDuration(&f.drain, 30*time.Second, 24*time.Hour), "drain", "on SIGTERM, how long requests in flight may take to finish")
	f.computeNice = 0
	fs.Var(&intValue{p: &f.computeNice, min: 0, max: 19}, "compute-nice", "Linux: run forward passes at this nice value (1 to 19; 10 is a good choice), below request handling, which gets a processor of its own: requests are read and 429s answered at once while a batch computes, for some throughput (BENCHMARKS.md); 0: off")
	return cmd
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	if len(f.models.order) == 0 {
		return usageErrorf("--model NAME=PATH is required: the models to serve (repeat --model for more)")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stderr := cmd.ErrOrStderr()
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if f.computeNice > 0 {
		// One P more than the forward pass's workers, for the goroutines
		// that handle requests.
		runtime.GOMAXPROCS(kernels.Workers + 1)
	}
	s := serve.New(serve.Options{
		BatchOptions: serve.BatchOptions{MaxBatch: f.maxBatch, MaxDelay: f.maxDelay, Queue: f.queue, ComputeNice: f.computeNice},
		Timeout:      f.timeout, MaxBody: f.maxBody, MaxPixels: f.maxPixels, Logger: log,
	})
	defer s.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", f.addr, err)
	}
	mux := s.Handler()
	web.Register(mux, s)
	hs := serve.NewHTTPServer(mux, s.Options())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening; loading the models", "addr", ln.Addr().String())

	// Live from here; ready once every model is loaded, packed and warmed.
	for _, name := range f.models.order {
		start := time.Now()
		m, err := loadModel(ctx, f.models.paths[name], "", 0)
		if err == nil {
			err = packWeights(m, f.dtype, stderr)
		}
		if err == nil {
			err = s.Add(name, m, time.Since(start))
		}
		if err != nil && ctx.Err() != nil {
			hs.Close()
			log.Info("stopped while loading the models")
			return nil
		}
		if err != nil {
			hs.Close()
			return fmt.Errorf("--model %s=%s: %w", name, f.models.paths[name], err)
		}
		c := m.Config
		log.Info("model ready", "model", name, "path", f.models.paths[name], "seconds", time.Since(start).Seconds(),
			"input", fmt.Sprintf("%dx%dx%d", c.Channels, c.ImageHeight, c.ImageWidth), "classes", c.Classes, "dim", c.FeatureDim())
	}
	s.SetReady(true)
	log.Info("ready", "addr", ln.Addr().String(), "models", s.Models())

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	log.Info("draining: readiness false, new requests get 503", "drain", f.drain.String(), "in_flight", s.InFlight())
	s.Drain()
	dctx, cancel := context.WithTimeout(context.Background(), f.drain)
	defer cancel()
	if err := s.Idle(dctx); err != nil {
		log.Warn("drain time over; closing the requests still in flight", "in_flight", s.InFlight())
	}
	if err := hs.Shutdown(dctx); err != nil {
		hs.Close()
	}
	log.Info("stopped")
	return nil
}

// parseAddr checks a HOST:PORT listening address.
func parseAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		if p, perr := strconv.Atoi(port); perr == nil && p >= 0 && p <= 65535 {
			return nil
		}
	}
	return errors.New("must be HOST:PORT or :PORT with a port from 0 to 65535 (e.g. :8080, 127.0.0.1:0)")
}

// modelsValue is the repeatable --model NAME=PATH flag.
type modelsValue struct {
	order []string
	paths map[string]string
}

func (v *modelsValue) String() string {
	parts := make([]string, len(v.order))
	for i, n := range v.order {
		parts[i] = n + "=" + v.paths[n]
	}
	return strings.Join(parts, ",")
}
func (v *modelsValue) Type() string { return "NAME=PATH" }
func (v *modelsValue) Set(s string) error {
	name, path, ok := strings.Cut(s, "=")
	if !ok || path == "" || !serve.ValidName(name) {
		return errors.New("must be NAME=PATH, NAME of letters, digits, '.', '-' and '_' (e.g. --model vit=runs/fashion)")
	}
	if _, dup := v.paths[name]; dup {
		return fmt.Errorf("model name %s given twice: give each model its own name", name)
	}
	if v.paths == nil {
		v.paths = map[string]string{}
	}
	v.order = append(v.order, name)
	v.paths[name] = path
	return nil
}
func (v *modelsValue) bad() []string {
	return []string{"runs/fashion", "=runs/fashion", "a/b=m", "name="}
}

// durationValue is a duration flag in (0, max].
type durationValue struct {
	p   *time.Duration
	max time.Duration
}

func newDuration(p *time.Duration, def, max time.Duration) *durationValue {
	*p = def
	return &durationValue{p, max}
}

func (v *durationValue) String() string { return v.p.String() }
func (v *durationValue) Type() string   { return "duration" }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 || d > v.max {
		return fmt.Errorf("must be a positive duration up to %v, with a unit (e.g. 5ms, 30s, 2m)", v.max)
	}
	*v.p = d
	return nil
}
func (v *durationValue) bad() []string {
	return []string{"0", "-1s", "5", "x", (v.max + time.Second).String()}
}

// Units of quantityValue.
var (
	binaryUnits  = map[string]float64{"": 1, "B": 1, "K": 1 << 10, "KB": 1e3, "KIB": 1 << 10, "M": 1 << 20, "MB": 1e6, "MIB": 1 << 20, "G": 1 << 30, "GB": 1e9, "GIB": 1 << 30}
	decimalUnits = map[string]float64{"": 1, "K": 1e3, "M": 1e6, "G": 1e9}
)

// quantityValue is a positive integer flag with unit suffixes (32MiB,
// 50M), at most max.
type quantityValue struct {
	p     *int64
	text  string
	max   int64
	units map[string]float64
	what  string
}

func newQuantity(p *int64, def, max int64, units map[string]float64, what string) *quantityValue {
	*p = def
	text := strconv.FormatInt(def, 10)
	switch {
	case units["MIB"] != 0 && def%(1<<20) == 0:
		text = strconv.FormatInt(def>>20, 10) + "MiB"
	case units["MIB"] == 0 && def%1_000_000 == 0:
		text = strconv.FormatInt(def/1_000_000, 10) + "M"
	}
	return &quantityValue{p: p, text: text, max: max, units: units, what: what}
}

func (v *quantityValue) String() string { return v.text }
func (v *quantityValue) Type() string   { return "quantity" }
func (v *quantityValue) Set(s string) error {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, err := strconv.ParseFloat(t[:i], 64)
	unit, ok := v.units[strings.ToUpper(strings.TrimSpace(t[i:]))]
	n := num * unit
	if err != nil || !ok || n < 1 || n > float64(v.max) || math.IsNaN(n) || n != math.Trunc(n) {
		return fmt.Errorf("must be %s, from 1 to %d", v.what, v.max)
	}
	*v.p, v.text = int64(n), s
	return nil
}
func (v *quantityValue) bad() []string { return []string{"0", "-1", "x", "12XB", "1.5", "3T"} }
