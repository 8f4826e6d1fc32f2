package httpapi

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taxieta/taxieta/internal/serving"
)

// metrics are the API's Prometheus series.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec   // route, method, code
	latency     *prometheus.HistogramVec // route
	predictions *prometheus.CounterVec   // model name, version
	byModel     sync.Map                 // *serving.Model → prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, version string, models Models) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taxieta_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "taxieta_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taxieta_predictions_total",
			Help: "Trip estimates served, by model name and version.",
		}, []string{"model", "version"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "taxieta_build_info",
		Help: "Always 1; labels say which taxieta build is running.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	modelInfo := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "taxieta_model_loaded",
		Help: "1 when a default model is loaded, else 0.",
	}, func() float64 {
		if models.Default() != nil {
			return 1
		}
		return 0
	})
	reg.MustRegister(m.requests, m.latency, m.predictions, build, modelInfo, &modelInfoCollector{models: models},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// predicted returns the predictions counter of a served model.
func (m *metrics) predicted(model *serving.Model) prometheus.Counter {
	if c, ok := m.byModel.Load(model); ok {
		return c.(prometheus.Counter)
	}
	c := m.predictions.WithLabelValues(model.Name, model.Version)
	m.byModel.Store(model, c)
	return c
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// modelInfoCollector reports the served model as a labelled gauge, read
// at scrape time so that a swap shows at once.
type modelInfoCollector struct{ models Models }

var modelInfoDesc = prometheus.NewDesc("taxieta_model_info",
	"Always 1; labels name the model served by default.", []string{"name", "version", "kind", "sha256"}, nil)

func (c *modelInfoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- modelInfoDesc }

func (c *modelInfoCollector) Collect(ch chan<- prometheus.Metric) {
	if m := c.models.Default(); m != nil {
		ch <- prometheus.MustNewConstMetric(modelInfoDesc, prometheus.GaugeValue, 1, m.Name, m.Version, m.Artifact.Kind, m.Artifact.Checksum)
	}
}

// statusLabel renders a status code as a label value, without allocating for the common ones.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 404:
		return "404"
	case 413:
		return "413"
	case 415:
		return "415"
	case 422:
		return "422"
	}
	return strconv.Itoa(code)
}
