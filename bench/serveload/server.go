package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/serve"
)

// serverEnv, set to a serverConfig in JSON, makes this program the server
// process of another serveload.
const serverEnv = "VIT_SERVELOAD_SERVER"

// serverConfig is what the server needs: the flags of the model and of
// vit serve's batching.
type serverConfig struct {
	Model, Preset, DType string
	Classes              int
	MaxBatch, Queue      int
	MaxDelay             time.Duration
	// ComputeNice is serve.BatchOptions.ComputeNice.
	ComputeNice int
	// HTTPProcs > 0 raises the server's GOMAXPROCS to kernels.Workers
	// (the goroutines of a forward pass, one a core) plus HTTPProcs, so
	// that HTTP handling (accepting, answering 429s, decoding) always has
	// a P of its own while a batch computes; the kernel then shares the
	// cores. vit serve does not do this; the flag measures whether it
	// should.
	HTTPProcs int
	// CPUProfile, if set, is a file for a CPU profile of the server
	// process from when it is ready (after ForwardSeconds) to its end.
	CPUProfile string
	// ForwardSeconds > 0 first measures the model alone, as vit bench
	// does (Model.Predict on a batch of MaxBatch random images, two passes
	// of warm-up), in the server process, for that long.
	ForwardSeconds float64
}

// statsPath answers the server's side of a measurement (stats, as JSON);
// ?reset=1 starts the next one. It is served by serveload's server only.
const statsPath = "/serveload/stats"

// stats is what the server saw since the last reset.
type stats struct {
	Batches   []int     `json:"batches"`    // the images of each forward pass
	RefusedMS []float64 `json:"refused_ms"` // each 429's time in its handler, ms
	PeakRSS   int64     `json:"peak_rss"`   // the server process's, bytes
	CPU       float64   `json:"cpu"`        // the server process's CPU time (user and system) since the last reset, s
}

// server is the server under load.
type server struct {
	forward float64                          // images/s of the model alone at MaxBatch; 0 when not measured
	url     string                           // its predict route
	about   string                           // the model and options, for the report
	get     func(reset bool) (*stats, error) // nil when not known
	close   func()
}

func (s *server) stats(reset bool) (*stats, error) {
	if s.get == nil {
		return nil, nil
	}
	return s.get(reset)
}

// recorder keeps the server's side of a measurement: the batch sizes
// (from BatchOptions.Observe) and the time of each 429 (from the request
// log lines, whose "ms" is the time from the handler's start to its
// answer).
type recorder struct {
	mu    sync.Mutex
	st    stats
	since float64 // cpuSeconds at the last reset
}

func (r *recorder) observe(n int, _ time.Duration) {
	r.mu.Lock()
	r.st.Batches = append(r.st.Batches, n)
	r.mu.Unlock()
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "request" {
		return nil
	}
	var status int64
	var ms float64
	rec.Attrs(func(a slog.Attr) bool {
		switch {
		case a.Key == "status" && a.Value.Kind() == slog.KindInt64:
			status = a.Value.Int64()
		case a.Key == "ms" && a.Value.Kind() == slog.KindFloat64:
			ms = a.Value.Float64()
		}
		return true
	})
	if status == http.StatusTooManyRequests {
		r.mu.Lock()
		r.st.RefusedMS = append(r.st.RefusedMS, ms)
		r.mu.Unlock()
	}
	return nil
}

func (r *recorder) read(reset bool) *stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	cpu := cpuSeconds()
	st := stats{Batches: append([]int(nil), r.st.Batches...), RefusedMS: append([]float64(nil), r.st.RefusedMS...), PeakRSS: peakRSS(), CPU: cpu - r.since}
	if reset {
		r.st, r.since = stats{}, cpu
	}
	return &st
}

// startServer serves the model of c as vit serve does, under the name
// "m", on 127.0.0.1 at a free port, in this process.
func startServer(c serverConfig) (*server, error) {
	start := time.Now()
	m, err := loadModel(c)
	if err != nil {
		return nil, err
	}
	rec := &recorder{}
	opt := serve.BatchOptions{MaxBatch: c.MaxBatch, MaxDelay: c.MaxDelay, Queue: c.Queue, Observe: rec.observe, ComputeNice: c.ComputeNice}
	s := serve.New(serve.Options{BatchOptions: opt, Logger: slog.New(rec)})
	if err := s.Add("m", m, time.Since(start)); err != nil {
		s.Close()
		return nil, err
	}
	o := s.Options()
	var forward float64
	if c.ForwardSeconds > 0 {
		if forward, err = forwardRate(m, o.MaxBatch, c.ForwardSeconds); err != nil {
			s.Close()
			return nil, err
		}
	}
	stopProfile := func() {}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	if c.HTTPProcs > 0 { // after the model alone is measured, with GOMAXPROCS as vit bench has it
		runtime.GOMAXPROCS(kernels.Workers + c.HTTPProcs)
	}
	s.SetReady(true)
	mux := s.Handler()
	mux.HandleFunc("GET "+statsPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rec.read(r.URL.Query().Get("reset") == "1"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	if err != nil {
		s.Close()
		return nil, err
	}
	hs := serve.NewHTTPServer(mux, s.Options())
	go hs.Serve(ln)
	cfg := m.Config
	return &server{
		forward: forward,
		url:     "http://" + ln.Addr().String() + "/v1/models/m:predict",
		about: fmt.Sprintf("model %s (%dx%d, dim %d, depth %d), %s, --max-batch %d --max-delay %v --queue %d; server: GOMAXPROCS %d, %d compute workers",
			name(c), cfg.ImageHeight, cfg.ImageWidth, cfg.Dim, cfg.Depth, c.DType, o.MaxBatch, o.MaxDelay, o.Queue, runtime.GOMAXPROCS(0), kernels.Workers) +
			fmt.Sprintf(", compute nice %d", c.ComputeNice),
		get: func(reset bool) (*stats, error) { return rec.read(reset), nil },
		close: func() {
			stopProfile()
			hs.Close()
			s.Close()
		},
	}, nil
}

// forwardRate measures m alone as vit bench does: Predict on a batch of
// random images, after two passes of warm-up, for seconds (and at least
// three passes); it returns images per second.
func forwardRate(m *vit.Model, batch int, seconds float64) (float64, error) {
	c := m.Config
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, batch*c.Channels*c.ImageHeight*c.ImageWidth)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for range 2 {
		if _, err := m.Predict(x, batch); err != nil {
			return 0, err
		}
	}
	n := 0
	start := time.Now()
	for time.Since(start).Seconds() < seconds || n < 3 {
		if _, err := m.Predict(x, batch); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n*batch) / time.Since(start).Seconds(), nil
}

// hello is the server process's first line on its standard output.
type hello struct {
	Addr, About string
	Forward     float64
	Err         string
}

// serverMain is the server process: it serves the model of the
// serverConfig cfg, says where on its standard output, and exits when its
// standard input closes (when the serveload that started it ends).
func serverMain(cfg string) {
	var c serverConfig
	var h hello
	srv, err := func() (*server, error) {
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			return nil, fmt.Errorf("%s: %w", serverEnv, err)
		}
		return startServer(c)
	}()
	if err != nil {
		h.Err = err.Error()
	} else {
		h.Addr, h.About, h.Forward = strings.TrimSuffix(srv.url, "/v1/models/m:predict"), srv.about, srv.forward
	}
	json.NewEncoder(os.Stdout).Encode(h)
	if err != nil {
		os.Exit(1)
	}
	io.Copy(io.Discard, os.Stdin)
	srv.close()
}

// startProcess starts this program again as the server process.
func startProcess(c serverConfig) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serverEnv+"="+string(cfg))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	var h hello
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &h)
	}
	if err == nil && h.Err != "" {
		err = errors.New(h.Err)
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("the server process: %w", err)
	}
	base := h.Addr
	client := &http.Client{Timeout: 30 * time.Second}
	return &server{
		forward: h.Forward,
		url:     base + "/v1/models/m:predict",
		about:   fmt.Sprintf("%s, in its own process (pid %d)", h.About, cmd.Process.Pid),
		get: func(reset bool) (*stats, error) {
			u := base + statsPath
			if reset {
				u += "?reset=1"
			}
			resp, err := client.Get(u)
			if err != nil {
				return nil, fmt.Errorf("the server process's stats: %w", err)
			}
			defer resp.Body.Close()
			var st stats
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				return nil, fmt.Errorf("the server process's stats: %w", err)
			}
			return &st, nil
		},
		close: stop,
	}, nil
}
