// Command serveload measures vit serve under load: it serves a model with
// package serve (the code of vit serve) on 127.0.0.1 at a free port and
// runs closed-loop clients against it, each posting an image to
// /v1/models/m:predict and posting again as soon as it is answered. For
// each concurrency it prints throughput, p50/p95/p99 latency, the batch
// sizes formed and the server's peak RSS, as a Markdown table.
//
//	go run ./bench/serveload -model runs/fashion -image shirt.png
//	go run ./bench/serveload -preset Ti/16 -image imageio/testdata/in/chelsea.png -max-batch 1
//
// The server runs in a process of its own (this program started again),
// so that the clients' goroutines do not share the server's Go scheduler
// and the latencies are those an outside client sees (-server inproc puts
// it in this process instead). -url measures a server already running,
// such as vit serve, instead of starting one; the batch sizes and RSS are
// then not known. Everything stays on the loopback interface. Each
// concurrency runs for at most -seconds and -requests requests, whichever
// ends first.
//
// -images-per-request N posts N copies of the image in each request, as
// multipart/form-data parts (what a client with a batch of its own sends);
// throughputs and CPU times then count images, not requests.
//
// With -overload, it then checks the server at twice its capacity: the
// capacity is the highest throughput the closed-loop levels measured, and
// requests are sent open-loop (at a fixed rate, whether or not earlier ones
// were answered) at twice that rate, or at -rate images/s, for -seconds.
// Give a short -queue so that the excess is refused. It prints the p99 of
// the accepted requests against the p99 at capacity, how fast the 429s
// were answered (p50, p99, max) as the clients saw it (request sent to
// answer read) and inside the server (handler entered to answer written),
// and the peak RSS:
//
//	go run ./bench/serveload -preset Ti/16 -image imageio/testdata/in/chelsea.png -concurrency 32 -queue 32 -overload
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/serve"
)

// config is the command line.
type config struct {
	model, preset, image, dtype string
	classes                     int
	concurrency                 []int
	seconds                     float64
	requests                    int
	overload                    bool    // then run open-loop at twice the capacity (or rate)
	rate                        float64 // images/s of the overload run; 0: twice the capacity measured
	opt                         serve.BatchOptions
	server                      string  // "process" or "inproc"
	httpProcs                   int     // serverConfig.HTTPProcs
	forwardSeconds              float64 // serverConfig.ForwardSeconds
	url                         string  // a running server's predict URL instead
	cpuProfile                  string  // serverConfig.CPUProfile
	computeNice                 int     // serverConfig.ComputeNice
	perRequest                  int     // images in each request (multipart when more than 1)
}

// payload is the body every request posts: one image, or a multipart form
// of images parts.
type payload struct {
	body   []byte
	ctype  string
	images int
}

// newPayload returns the body of one image, or of n copies of it as
// multipart/form-data "image" parts.
func newPayload(img []byte, n int) payload {
	if n <= 1 {
		return payload{img, "application/octet-stream", 1}
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := range n {
		w, _ := mw.CreateFormFile("image", fmt.Sprintf("%d.png", i))
		w.Write(img)
	}
	mw.Close()
	return payload{b.Bytes(), mw.FormDataContentType(), n}
}

func main() {
	if cfg := os.Getenv(serverEnv); cfg != "" {
		serverMain(cfg)
		return
	}
	var c config
	var conc string
	flag.StringVar(&c.model, "model", "", "the model to serve: anything vit predict reads")
	flag.StringVar(&c.preset, "preset", "", "instead of -model, a random model of this preset at 224×224 (Ti/16, S/16, B/16)")
	flag.IntVar(&c.classes, "classes", 1000, "classes of the -preset model")
	flag.StringVar(&c.image, "image", "", "the image every request posts: a file, or fashion-mnist:N for test image N of Fashion-MNIST as a PNG")
	flag.StringVar(&c.dtype, "dtype", "fp32", "fp32 or bf16")
	flag.StringVar(&conc, "concurrency", "1,8,32,128", "the numbers of clients, comma separated")
	flag.Float64Var(&c.seconds, "seconds", 20, "the longest each concurrency runs")
	flag.IntVar(&c.requests, "requests", 100000, "the most requests at each concurrency")
	flag.IntVar(&c.opt.MaxBatch, "max-batch", 16, "vit serve --max-batch")
	flag.DurationVar(&c.opt.MaxDelay, "max-delay", 5*time.Millisecond, "vit serve --max-delay")
	flag.IntVar(&c.opt.Queue, "queue", 256, "vit serve --queue")
	flag.BoolVar(&c.overload, "overload", false, "after the closed-loop levels, send requests open-loop at twice the best throughput measured (or -rate) for -seconds")
	flag.Float64Var(&c.rate, "rate", 0, "with -overload, the rate in requests per second instead of twice the capacity")
	flag.StringVar(&c.server, "server", "process", "where the server runs: process (its own) or inproc (this one)")
	flag.StringVar(&c.url, "url", "", "instead of starting a server, measure this one: its predict URL, e.g. http://127.0.0.1:8080/v1/models/NAME:predict")
	flag.IntVar(&c.httpProcs, "http-procs", 0, "raise the server's GOMAXPROCS to its compute workers plus this many, for HTTP handling (0: as vit serve, GOMAXPROCS = the cores)")
	flag.Float64Var(&c.forwardSeconds, "forward-seconds", 10, "first measure the model alone at batch -max-batch for this long, as vit bench does, in the server process (0: not)")
	flag.IntVar(&c.computeNice, "compute-nice", 0, "vit serve --compute-nice: the nice value of the forward passes' threads (0: the process's)")
	flag.IntVar(&c.perRequest, "images-per-request", 1, "images in each request: more than 1 posts them as multipart/form-data parts, and the throughput counts images")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the server (from when it is ready to its end) to this file")
	flag.Parse()
	var err error
	if c.concurrency, err = parseInts(conc); err != nil {
		fail(fmt.Errorf("-concurrency %s: %w", conc, err))
	}
	if c.server != "process" && c.server != "inproc" {
		fail(fmt.Errorf("-server %s: want process or inproc", c.server))
	}
	if c.httpProcs < 0 || c.httpProcs > 64 {
		fail(fmt.Errorf("-http-procs %d: want 0 to 64", c.httpProcs))
	}
	if c.computeNice < 0 || c.computeNice > 19 {
		fail(fmt.Errorf("-compute-nice %d: want 0 (the process's priority) to 19", c.computeNice))
	}
	if c.perRequest < 1 || c.perRequest > 256 {
		fail(fmt.Errorf("-images-per-request %d: want 1 to 256", c.perRequest))
	}
	if c.rate < 0 || c.rate > 1e5 {
		fail(fmt.Errorf("-rate %g: want 0 (twice the capacity) or a rate up to 100000 requests per second", c.rate))
	}
	if err := run(c, os.Stdout); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "serveload:", err)
	os.Exit(1)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, errors.New("want positive integers up to 4096, comma separated")
		}
		out = append(out, n)
	}
	return out, nil
}

// loadModel loads -model or makes the -preset model.
func loadModel(c serverConfig) (*vit.Model, error) {
	var m *vit.Model
	var err error
	switch {
	case c.Model != "" && c.Preset != "":
		return nil, errors.New("give -model or -preset, not both")
	case c.Model != "":
		m, err = checkpoint.LoadContext(context.Background(), c.Model)
	case c.Preset != "":
		var cfg vit.Config
		if cfg, err = vit.Preset(c.Preset, 224, 3, c.Classes); err == nil {
			m, err = vit.New(cfg, 1)
		}
	default:
		return nil, errors.New("give -model PATH or -preset Ti/16")
	}
	if err != nil {
		return nil, err
	}
	dt, err := kernels.ParseDType(c.DType)
	if err != nil {
		return nil, err
	}
	m.PackWeights(dt)
	return m, nil
}

// level is what one concurrency measured.
type level struct {
	clients, requests, ok, refused, failed int
	skipped                                int // open-loop requests not sent: too many outstanding
	seconds                                float64
	latency                                []time.Duration // of the answered requests
	refusedLatency                         []time.Duration // of the 429s
	server                                 *stats          // nil when not known
	clientCPU                              float64         // this process's CPU time during the level, s
	perRequest                             int             // images in each request
}

func run(c config, out io.Writer) error {
	if c.image == "" {
		return errors.New("give -image FILE: the image each request posts")
	}
	img, err := readImage(c.image)
	if err != nil {
		return err
	}
	pl := newPayload(img, c.perRequest)
	sc := serverConfig{Model: c.model, Preset: c.preset, Classes: c.classes, DType: c.dtype,
		MaxBatch: c.opt.MaxBatch, MaxDelay: c.opt.MaxDelay, Queue: c.opt.Queue, HTTPProcs: c.httpProcs,
		ForwardSeconds: c.forwardSeconds, CPUProfile: c.cpuProfile, ComputeNice: c.computeNice}
	var srv *server
	switch {
	case c.url != "":
		srv = &server{url: c.url, about: "the server at " + c.url, close: func() {}}
	case c.server == "inproc":
		srv, err = startServer(sc)
		if srv != nil {
			srv.about += ", in this process"
		}
	default:
		srv, err = startProcess(sc)
	}
	if err != nil {
		return err
	}
	defer srv.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, Proxy: nil}, Timeout: time.Minute}

	fmt.Fprintf(out, "%s; clients: GOMAXPROCS %d\n", srv.about, runtime.GOMAXPROCS(0))
	if srv.forward > 0 {
		fmt.Fprintf(out, "the model alone at --max-batch (as vit bench measures it, in the server process): %.1f images/s\n", srv.forward)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| clients | requests | 200 | 429 | other | images/s | % of the model alone | p50 ms | p95 ms | p99 ms | mean batch | max batch | peak RSS MiB | server CPU ms/image | clients' CPU ms/image |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	d := time.Duration(c.seconds * float64(time.Second))
	var best level
	for _, n := range c.concurrency {
		if _, err := srv.stats(true); err != nil {
			return err
		}
		cpu := cpuSeconds()
		l := load(client, srv.url, pl, n, c.requests, d)
		l.clientCPU = cpuSeconds() - cpu
		st, err := srv.stats(true)
		if err != nil {
			return err
		}
		if st != nil && c.server == "inproc" && c.url == "" {
			st.CPU = 0 // the clients' CPU time is the server's too
		}
		l.server = st
		fmt.Fprintln(out, l.row(srv.forward))
		if l.throughput() > best.throughput() {
			best = l
		}
	}
	if !c.overload {
		return nil
	}
	rate := c.rate
	if rate == 0 {
		rate = 2 * best.throughput() / float64(pl.images)
	}
	if rate <= 0 {
		return errors.New("-overload: no request was answered at any concurrency, so there is no capacity to double")
	}
	if _, err := srv.stats(true); err != nil {
		return err
	}
	o := openLoop(client, srv.url, pl, rate, c.requests, d)
	if o.server, err = srv.stats(true); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, o.overloadReport(best, rate))
	return nil
}

func (l level) throughput() float64 {
	if l.seconds == 0 {
		return 0
	}
	return float64(l.ok*max(l.perRequest, 1)) / l.seconds
}

// post sends p and returns the status (0 when no answer came) and the
// time to the whole answer.
func post(client *http.Client, url string, p payload) (int, time.Duration) {
	t := time.Now()
	resp, err := client.Post(url, p.ctype, bytes.NewReader(p.body))
	if err != nil {
		return 0, time.Since(t)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(t)
}

// record counts one answer.
func (l *level) record(code int, lat time.Duration) {
	l.requests++
	switch code {
	case http.StatusOK:
		l.ok++
		l.latency = append(l.latency, lat)
	case http.StatusTooManyRequests:
		l.refused++
		l.refusedLatency = append(l.refusedLatency, lat)
	default:
		l.failed++
	}
}

// maxOutstanding bounds the open-loop requests awaiting an answer; a
// request due when that many are outstanding is not sent (and counted).
const maxOutstanding = 4096

// openLoop sends requests at rate per second, each on its own goroutine
// whether or not the earlier ones were answered, until requests are sent
// or d has passed, then waits for the answers.
func openLoop(client *http.Client, url string, p payload, rate float64, requests int, d time.Duration) level {
	l := level{perRequest: p.images}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxOutstanding)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; i < requests; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(due))
		select {
		case sem <- struct{}{}:
		default:
			l.skipped++
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, lat := post(client, url, p)
			<-sem
			mu.Lock()
			l.record(code, lat)
			mu.Unlock()
		}()
	}
	wg.Wait()
	l.seconds = time.Since(start).Seconds()
	return l
}

// quantile returns the p-quantile of sorted durations in milliseconds (0
// when there are none).
func quantile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Microseconds()) / 1000
}

// overloadReport describes the open-loop run l at rate requests/s against
// the capacity level capacity, in the terms of the overload check.
func (l level) overloadReport(capacity level, rate float64) string {
	slices.Sort(l.latency)
	slices.Sort(l.refusedLatency)
	slices.Sort(capacity.latency)
	var b strings.Builder
	fmt.Fprintf(&b, "overload: %.1f requests/s offered open-loop (capacity %.1f images/s at %d clients, p99 %.2f ms) for %.1f s\n",
		rate, capacity.throughput(), capacity.clients, quantile(capacity.latency, 0.99), l.seconds)
	fmt.Fprintf(&b, "  sent %d: %d answered 200 (%.1f images/s), %d refused 429, %d other, %d not sent (at most %d outstanding)\n",
		l.requests, l.ok, l.throughput(), l.refused, l.failed, l.skipped, maxOutstanding)
	ratio := 0.0
	if p := quantile(capacity.latency, 0.99); p > 0 {
		ratio = quantile(l.latency, 0.99) / p
	}
	fmt.Fprintf(&b, "  accepted: p50 %.2f ms, p99 %.2f ms (%.2f× the p99 at capacity)\n", quantile(l.latency, 0.5), quantile(l.latency, 0.99), ratio)
	fmt.Fprintf(&b, "  429s at the clients (request sent to answer read): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		quantile(l.refusedLatency, 0.5), quantile(l.refusedLatency, 0.99), quantile(l.refusedLatency, 1))
	if st := l.server; st != nil {
		in := make([]time.Duration, len(st.RefusedMS))
		for i, v := range st.RefusedMS {
			in[i] = time.Duration(v * float64(time.Millisecond))
		}
		slices.Sort(in)
		fmt.Fprintf(&b, "  429s in the server (handler entered to answer written), %d: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			len(in), quantile(in, 0.5), quantile(in, 0.99), quantile(in, 1))
		fmt.Fprintf(&b, "  the server's peak RSS %.0f MiB", float64(st.PeakRSS)/(1<<20))
	} else {
		b.WriteString("  the server's 429 times and RSS are not known (-url)")
	}
	return b.String()
}

func name(c serverConfig) string {
	if c.Preset != "" {
		return "ViT-" + c.Preset + " (random weights)"
	}
	return c.Model
}

// load runs clients closed-loop clients until requests are sent or d has
// passed.
func load(client *http.Client, url string, p payload, clients, requests int, d time.Duration) level {
	l := level{clients: clients, perRequest: p.images}
	var mu sync.Mutex
	var sent int
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if sent >= requests || time.Now().After(deadline) {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				code, lat := post(client, url, p)
				mu.Lock()
				l.record(code, lat)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	l.seconds = time.Since(start).Seconds()
	return l
}

// row is the table row of l; forward is the model's images/s alone (0:
// not known).
func (l level) row(forward float64) string {
	slices.Sort(l.latency)
	q := func(p float64) float64 { return quantile(l.latency, p) }
	mean, mx, rss, scpu, ccpu := "-", "-", "-", "-", "-"
	if l.ok > 0 {
		ccpu = fmt.Sprintf("%.2f", 1e3*l.clientCPU/float64(l.ok*max(l.perRequest, 1)))
	}
	if st := l.server; st != nil {
		if l.ok > 0 && st.CPU > 0 {
			scpu = fmt.Sprintf("%.2f", 1e3*st.CPU/float64(l.ok*max(l.perRequest, 1)))
		}
		sum, m := 0, 0
		for _, b := range st.Batches {
			sum += b
			m = max(m, b)
		}
		if len(st.Batches) > 0 {
			mean = fmt.Sprintf("%.2f", float64(sum)/float64(len(st.Batches)))
		}
		mx, rss = strconv.Itoa(m), fmt.Sprintf("%.0f", float64(st.PeakRSS)/(1<<20))
	}
	share := "-"
	if forward > 0 {
		share = fmt.Sprintf("%.0f%%", 100*l.throughput()/forward)
	}
	return fmt.Sprintf("| %d | %d | %d | %d | %d | %.1f | %s | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s |",
		l.clients, l.requests, l.ok, l.refused, l.failed, l.throughput(), share, q(0.50), q(0.95), q(0.99), mean, mx, rss, scpu, ccpu)
}

// cpuSeconds is the process's CPU time so far, user and system, in
// seconds (0 if unknown).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS is the process's peak resident memory in bytes (0 if unknown).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}

// readImage reads the image file every request posts, or, for
// "fashion-mnist:N", encodes test image N of Fashion-MNIST (found where vit
// train finds it) as a 28×28 grey PNG.
func readImage(spec string) ([]byte, error) {
	rest, ok := strings.CutPrefix(spec, "fashion-mnist:")
	if !ok {
		return os.ReadFile(spec)
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 {
		return nil, fmt.Errorf("-image %s: want fashion-mnist:N with N a test image's index", spec)
	}
	_, test, err := data.FashionMNIST("")
	if err != nil {
		return nil, err
	}
	if i >= test.N || test.C != 1 {
		return nil, fmt.Errorf("-image %s: the test set has %d images", spec, test.N)
	}
	m := image.NewGray(image.Rect(0, 0, test.W, test.H))
	copy(m.Pix, test.Image(i))
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
