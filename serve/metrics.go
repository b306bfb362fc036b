package serve

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a Server's Prometheus collectors, in a registry of its own.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // model, route, status
	latency   *prometheus.HistogramVec // model, route
	wait      *prometheus.HistogramVec // model
	compute   *prometheus.HistogramVec // model
	batch     *prometheus.HistogramVec // model
	images    *prometheus.CounterVec   // model
	inFlight  prometheus.Gauge
	panics    prometheus.Counter
	loadTime  *prometheus.GaugeVec // model
	rateMu    sync.Mutex
	recent    map[string][]imagesAt // model: forward passes of the last rateWindow
	queueDesc *prometheus.Desc
	rateDesc  *prometheus.Desc
	server    *Server
}

type imagesAt struct {
	t time.Time
	n int
}

// rateWindow is the span over which vit_serve_images_per_second averages.
const rateWindow = 10 * time.Second

func newMetrics(s *Server) *metrics {
	seconds := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &metrics{
		reg:    prometheus.NewRegistry(),
		server: s,
		recent: map[string][]imagesAt{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vit_serve_requests_total",
			Help: "HTTP requests answered, by model, route and status code."}, []string{"model", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vit_serve_request_duration_seconds",
			Help: "Time from a request's arrival to its answer.", Buckets: seconds}, []string{"model", "route"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vit_serve_queue_wait_seconds",
			Help: "Time a request's images waited for their forward pass.", Buckets: seconds}, []string{"model"}),
		compute: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vit_serve_compute_seconds",
			Help: "Time of one forward pass (one batch).", Buckets: seconds}, []string{"model"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vit_serve_batch_size",
			Help: "Images per forward pass.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}}, []string{"model"}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vit_serve_images_total",
			Help: "Images run through the model."}, []string{"model"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vit_serve_in_flight_requests",
			Help: "Requests being answered now."}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "vit_serve_panics_total",
			Help: "Requests answered 500 after a panic recovered in their handler or forward pass."}),
		loadTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vit_serve_model_load_seconds",
			Help: "Time to load, pack and warm the model."}, []string{"model"}),
		queueDesc: prometheus.NewDesc("vit_serve_queue_depth", "Images waiting for a forward pass, counting one for each request admitted and still being read or decoded.", []string{"model"}, nil),
		rateDesc: prometheus.NewDesc("vit_serve_images_per_second",
			"Images run per second, averaged over the last 10 seconds.", []string{"model"}, nil),
	}
	m.reg.MustRegister(m.requests, m.latency, m.wait, m.compute, m.batch, m.images, m.inFlight, m.panics, m.loadTime, m)
	return m
}

// observeBatch records one forward pass of model.
func (m *metrics) observeBatch(model string, images int, compute time.Duration) {
	m.batch.WithLabelValues(model).Observe(float64(images))
	m.compute.WithLabelValues(model).Observe(compute.Seconds())
	m.images.WithLabelValues(model).Add(float64(images))
	m.rateMu.Lock()
	now := time.Now()
	r := append(m.recent[model], imagesAt{now, images})
	for len(r) > 0 && now.Sub(r[0].t) > rateWindow {
		r = r[1:]
	}
	m.recent[model] = r
	m.rateMu.Unlock()
}

// Describe and Collect make metrics a prometheus.Collector of the values
// read when scraped: queue depth and images per second.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.queueDesc
	ch <- m.rateDesc
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for name, b := range m.server.batchers() {
		ch <- prometheus.MustNewConstMetric(m.queueDesc, prometheus.GaugeValue, float64(b.Pending()), name)
		m.rateMu.Lock()
		n := 0
		for _, r := range m.recent[name] {
			if time.Since(r.t) <= rateWindow {
				n += r.n
			}
		}
		m.rateMu.Unlock()
		ch <- prometheus.MustNewConstMetric(m.rateDesc, prometheus.GaugeValue, float64(n)/rateWindow.Seconds(), name)
	}
}
