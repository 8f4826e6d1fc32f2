package stream

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the consumer's Prometheus metrics. All are prefixed
// taxieta_stream_.
type Metrics struct {
	in          prometheus.Counter
	out         prometheus.Counter
	dead        *prometheus.CounterVec
	failed      prometheus.Counter
	duplicates  prometheus.Counter
	redelivered prometheus.Counter
	latency     prometheus.Histogram
	inFlight    prometheus.Gauge
	pending     prometheus.Gauge
	ackPending  prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	for _, c := range []prometheus.Collector{m.in, m.out, m.dead, m.failed, m.duplicates, m.redelivered, m.latency, m.inFlight, m.pending, m.ackPending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("stream metrics: %w", err)
		}
	}
	return m, nil
}

// newMetrics creates the metrics, unregistered.
func newMetrics() *Metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "taxieta_stream_" + name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "taxieta_stream_" + name, Help: help})
	}
	m := &Metrics{
		in:  counter("events_in_total", "Trip-request events received from the input stream (redeliveries included)."),
		out: counter("events_out_total", "Estimate events stored by JetStream and whose request was then acknowledged."),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taxieta_stream_events_dead_lettered_total",
			Help: "Events stored on the dead-letter subject and acknowledged, by class: malformed (not a JSON object of the right shape) or invalid (a field breaks a rule).",
		}, []string{"class"}),
		failed:      counter("publish_failures_total", "Events whose output publish failed; the request was negatively acknowledged and will be redelivered."),
		duplicates:  counter("duplicates_total", "Outputs JetStream had already stored (the event was redelivered after its output was stored); the duplicate was dropped."),
		redelivered: counter("events_redelivered_total", "Events received that JetStream had delivered before (after a crash, a timeout or a failure)."),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "taxieta_stream_processing_seconds",
			Help:    "Time from receiving an event to acknowledging it, its output stored.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 0.1 ms .. 3.3 s
		}),
		inFlight:   gauge("in_flight", "Events whose output publish awaits JetStream's acknowledgement."),
		pending:    gauge("consumer_lag", "Messages in the input stream not yet delivered to the durable consumer (its num_pending), polled."),
		ackPending: gauge("consumer_ack_pending", "Messages delivered by the durable consumer, to any process, and not yet acknowledged, polled."),
	}
	// Both classes show from the start, at zero.
	m.dead.WithLabelValues("malformed")
	m.dead.WithLabelValues("invalid")
	return m
}
