package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// Options are a Server's limits. The zero value of a field means its
// default.
type Options struct {
	BatchOptions
	// Timeout bounds a request from its arrival to its answer; past it
	// the request is answered 504 (default 30s).
	Timeout time.Duration
	// MaxBody is the largest request body, in bytes (default 32 MiB).
	MaxBody int64
	// MaxPixels is the largest width×height of an image, checked from its
	// header before it is decoded (default 50,000,000).
	MaxPixels int64
	// Logger receives one line per request (default slog.Default()).
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxBody   = 32 << 20
	DefaultMaxPixels = 50_000_000
)

func (o Options) withDefaults() Options {
	o.BatchOptions = o.BatchOptions.withDefaults()
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	return o
}

// A Server answers classification and embedding requests for its models
// over HTTP: its own JSON API under /v1, the Open Inference Protocol (KServe
// v2) under /v2, and Prometheus metrics at /metrics. Mount it in a mux with
// Register, or serve Handler. Requests name models, never files.
type Server struct {
	opt      Options
	log      *slog.Logger
	met      *metrics
	mu       sync.RWMutex
	models   map[string]*model
	ready    atomic.Bool
	draining atomic.Bool
	inFlight atomic.Int64
}

// model is one served model.
type model struct {
	name string
	b    *Batcher
}

// New returns a Server with no models, not ready: Add the models, then
// SetReady(true).
func New(opt Options) *Server {
	opt = opt.withDefaults()
	s := &Server{opt: opt, log: opt.Logger, models: map[string]*model{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.met = newMetrics(s)
	return s
}

// Options returns the server's limits, defaults filled in.
func (s *Server) Options() Options { return s.opt }

// Add serves m as name: it warms m with forward passes of one image and of
// MaxBatch images, starts its batcher, and records load (the time taken
// to load and pack it; the warm-up is added) in the model load time
// metric. Names are what the URLs hold: letters, digits, '.', '-' and '_'.
func (s *Server) Add(name string, m *vit.Model, load time.Duration) error {
	if !ValidName(name) {
		return fmt.Errorf("serve: model name %q: use letters, digits, '.', '-' and '_'", name)
	}
	s.mu.RLock()
	_, dup := s.models[name]
	s.mu.RUnlock()
	if dup {
		return fmt.Errorf("serve: model %q added twice", name)
	}
	start := time.Now()
	c := m.Config
	if err := c.CheckMemory(s.opt.MaxBatch, false); err != nil {
		return fmt.Errorf("serve: model %q at --max-batch %d: %w", name, s.opt.MaxBatch, err)
	}
	for _, n := range []int{1, s.opt.MaxBatch} {
		if _, _, err := m.Outputs(make([]float32, n*c.Channels*c.ImageHeight*c.ImageWidth), n); err != nil {
			return fmt.Errorf("serve: warming model %q: %w", name, err)
		}
	}
	bo := s.opt.BatchOptions
	bo.Logger = s.log
	observe := bo.Observe
	bo.Observe = func(n int, d time.Duration) {
		s.met.observeBatch(name, n, d)
		if observe != nil {
			observe(n, d)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.models[name]; dup {
		return fmt.Errorf("serve: model %q added twice", name)
	}
	s.models[name] = &model{name: name, b: NewBatcher(m, bo)}
	s.met.loadTime.WithLabelValues(name).Set((load + time.Since(start)).Seconds())
	return nil
}

// ValidName reports whether name may name a model: 1 to 128 letters,
// digits, '.', '-' and '_'.
func ValidName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// Models returns the names of the served models, sorted.
func (s *Server) Models() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Batcher returns the batcher of model name, or nil.
func (s *Server) Batcher(name string) *Batcher {
	if m := s.model(name); m != nil {
		return m.b
	}
	return nil
}

func (s *Server) model(name string) *model {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.models[name]
}

func (s *Server) batchers() map[string]*Batcher {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]*Batcher, len(s.models))
	for n, m := range s.models {
		out[n] = m.b
	}
	return out
}

// SetReady sets whether the server reports ready (GET /v2/health/ready).
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Ready reports whether the server is ready: SetReady(true) was called, it
// has models and it is not draining.
func (s *Server) Ready() bool {
	return s.ready.Load() && !s.draining.Load() && len(s.Models()) > 0
}

// Drain turns readiness false and answers every new request but health
// checks and metrics 503, while the requests in flight go on. Wait for
// them with Idle, then shut the http.Server down.
func (s *Server) Drain() { s.draining.Store(true) }

// InFlight returns how many requests are being answered.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// Idle waits until no request is in flight or ctx ends, and returns
// ctx's error in the second case.
func (s *Server) Idle(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.InFlight() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Close stops the models' batchers, after the images they hold have run.
func (s *Server) Close() {
	for _, b := range s.batchers() {
		b.Close()
	}
}

// Register adds the server's routes to mux:
//
//	GET  /v1/models                  the names of the models
//	POST /v1/models/{name}:predict   top classes of images
//	POST /v1/models/{name}:embed     pre-head features of images
//	GET  /v2/health/live, /v2/health/ready
//	GET  /v2/models/{name}, /v2/models/{name}/ready
//	POST /v2/models/{name}/infer
//	GET  /metrics
//
// A route asked with the wrong method is answered 405, in JSON.
func (s *Server) Register(mux *http.ServeMux) {
	s.route(mux, "GET", "/v1/models", "models", s.list)
	s.route(mux, "POST", "/v1/models/{spec}", "v1", s.v1)
	s.route(mux, "GET", "/v2/health/live", "live", s.live)
	s.route(mux, "GET", "/v2/health/ready", "ready", s.readyz)
	s.route(mux, "GET", "/v2/models/{name}", "v2_metadata", s.v2Metadata)
	s.route(mux, "GET", "/v2/models/{name}/ready", "v2_model_ready", s.v2ModelReady)
	s.route(mux, "POST", "/v2/models/{name}/infer", "v2_infer", s.v2Infer)
	metrics := promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{})
	s.route(mux, "GET", "/metrics", "metrics", func(w http.ResponseWriter, r *http.Request) error {
		metrics.ServeHTTP(w, r)
		return nil
	})
}

// Handler returns a mux of the server's routes (see Register) that answers
// every other path 404, in JSON. More routes may be added to it.
func (s *Server) Handler() *http.ServeMux {
	mux := http.NewServeMux()
	s.Register(mux)
	mux.Handle("/", s.wrap("unknown", func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no such path %q: see the API in the README (/v1/models/NAME:predict, /v2/...)", r.URL.Path)
	}))
	return mux
}

// NewHTTPServer returns an http.Server for h with timeouts that keep slow
// or idle clients from holding connections: 10 s to send the headers, the
// request's Timeout to send the body, Timeout + 10 s to take the answer, 2
// minutes idle between requests.
func NewHTTPServer(h http.Handler, opt Options) *http.Server {
	opt = opt.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       opt.Timeout,
		WriteTimeout:      opt.Timeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// HandleFunc registers h for method and path on mux, with the server's
// handling of every route: its timeout, refusal while draining, panic
// recovery, log line and metrics, and a 405 for the other methods. An
// error h returns is answered as {"error": ...} with its status (see
// Errorf); route names the route in logs and metrics.
func (s *Server) HandleFunc(mux *http.ServeMux, method, path, route string, h func(http.ResponseWriter, *http.Request) error) {
	s.route(mux, method, path, route, h)
}

// Errorf returns an error answered with status.
func Errorf(status int, format string, args ...any) error { return errorf(status, format, args...) }

// route registers h for method and path, and a 405 for the other methods.
func (s *Server) route(mux *http.ServeMux, method, path, name string, h func(http.ResponseWriter, *http.Request) error) {
	mux.Handle(method+" "+path, s.wrap(name, h))
	mux.Handle(path, s.wrap(name, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", method)
		return errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s: use %s", r.Method, r.URL.Path, method)
	}))
}

// info is what a request's log line and metrics say, filled in by its
// handler.
type info struct {
	model         string
	images, batch int
	wait, compute time.Duration
}

type infoKey struct{}

func requestInfo(r *http.Request) *info {
	if i, ok := r.Context().Value(infoKey{}).(*info); ok {
		return i
	}
	return &info{}
}

// statusWriter records the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap is every route's middleware: draining, the deadline, panics, the
// error answer, the log line and the metrics.
func (s *Server) wrap(route string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	probe := route == "live" || route == "ready" || route == "metrics"
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		in := &info{}
		if !probe {
			s.inFlight.Add(1)
			s.met.inFlight.Inc()
			defer func() {
				s.met.inFlight.Dec()
				s.inFlight.Add(-1)
			}()
		}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), infoKey{}, in), s.opt.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		err := s.serve(w, r, route, probe, h)
		if err != nil {
			s.writeError(w, r, err)
		}
		status := w.status
		if status == 0 {
			status = http.StatusOK
		}
		if r.Context().Err() == context.Canceled && status != http.StatusOK {
			status = 499 // the client went away
		}
		s.met.requests.WithLabelValues(in.model, route, strconv.Itoa(status)).Inc()
		if !probe {
			s.met.latency.WithLabelValues(in.model, route).Observe(time.Since(start).Seconds())
		}
		if in.images > 0 {
			s.met.wait.WithLabelValues(in.model).Observe(in.wait.Seconds())
		}
		level := slog.LevelInfo
		if probe {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", status), slog.Float64("ms", ms(time.Since(start))),
		}
		if in.model != "" {
			attrs = append(attrs, slog.String("model", in.model), slog.Int("images", in.images), slog.Int("batch", in.batch),
				slog.Float64("queue_ms", ms(in.wait)), slog.Float64("compute_ms", ms(in.compute)))
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// serve runs h, refusing requests while draining and turning a panic into
// an error.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, route string, probe bool, h func(http.ResponseWriter, *http.Request) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			pe := &PanicError{Value: p, Stack: debug.Stack()}
			s.log.Error("panic in a handler", "route", route, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(pe.Stack))
			err = pe
		}
	}()
	if s.draining.Load() && !probe {
		w.Header().Set("Connection", "close")
		return errorf(http.StatusServiceUnavailable, "the server is shutting down; retry on another replica")
	}
	return h(w, r)
}

// httpError is an error with its HTTP status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status, fmt.Sprintf(format, args...)}
}

// statusOf returns the HTTP status that answers err.
func statusOf(err error) int {
	var he *httpError
	var tooLarge *imageio.TooLargeError
	var maxBytes *http.MaxBytesError
	var tooMany *TooManyImagesError
	var pe *PanicError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, ErrQueueFull):
		return http.StatusTooManyRequests
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.As(err, &tooLarge), errors.As(err, &maxBytes), errors.As(err, &tooMany), errors.Is(err, imageio.ErrTooManyBytes):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &pe):
		return http.StatusInternalServerError
	}
	return http.StatusInternalServerError
}

// writeError answers err as {"error": "..."} with its status.
func (s *Server) writeError(w *statusWriter, r *http.Request, err error) {
	status := statusOf(err)
	var pe *PanicError
	if errors.As(err, &pe) {
		s.met.panics.Inc()
	}
	if w.status != 0 {
		return // the answer has started; nothing more can be said
	}
	msg := err.Error()
	var maxBytes *http.MaxBytesError
	switch {
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	case status == http.StatusGatewayTimeout:
		msg = fmt.Sprintf("the request took longer than the server's timeout of %v", s.opt.Timeout)
	case errors.As(err, &maxBytes):
		msg = fmt.Sprintf("the request body is over the server's limit of %d bytes (--max-body)", maxBytes.Limit)
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) live(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	status := http.StatusOK
	if !s.Ready() {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]bool{"ready": status == http.StatusOK})
	return nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string][]string{"models": s.Models()})
	return nil
}

// Lookup returns the model a request names, as a route's handler sees it:
// its batcher, or an error answered 404.
func (s *Server) Lookup(r *http.Request, name string) (*Batcher, error) {
	m, err := s.lookup(r, name)
	if err != nil {
		return nil, err
	}
	return m.b, nil
}

// lookup returns the model a request names, or a 404 error.
func (s *Server) lookup(r *http.Request, name string) (*model, error) {
	m := s.model(name)
	if m == nil {
		return nil, errorf(http.StatusNotFound, "no model %q: this server has %q", name, s.Models())
	}
	requestInfo(r).model = name
	return m, nil
}

// admit refuses at once a request to a model whose queue is full, before
// its body is read or decoded, so that an overloaded server spends
// nothing on what it refuses; else it reserves the room of one image in
// the queue for the request (Batcher.Reserve) while its body is read and
// decoded. Requests being decoded thus count in the queue: the server
// never admits more than the queue can take, so a request admitted is not
// refused after the work of decoding it (only the images of a multi-image
// request beyond its first can be), and at most Queue request bodies are
// held in memory at once. A client that sends its body slowly holds its
// room for at most the read timeout (Options.Timeout). The caller
// releases the reservation (deferred), which s.run takes over.
func admit(w http.ResponseWriter, m *model) (*Reservation, error) {
	res, err := m.b.Reserve(1)
	if err != nil {
		// The body stays unread: the connection closes after the answer
		// instead of draining whatever the client is still sending.
		w.Header().Set("Connection", "close")
		return nil, err
	}
	return res, nil
}

// run runs x: [n, channels, height, width] through m's batcher, with the
// room res reserved for it, noting the batch, waits and images in the
// request's info.
func (s *Server) run(r *http.Request, m *model, res *Reservation, x []float32, n int) (Output, error) {
	in := requestInfo(r)
	in.images = n
	out, err := m.b.RunReserved(r.Context(), res, x, n)
	in.batch, in.wait, in.compute = out.Batch, out.Wait, out.Compute
	return out, err
}
