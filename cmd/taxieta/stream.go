package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/stream"
)

// runStream consumes trip-request events from NATS JetStream and publishes an
// estimate for each (see internal/stream). It runs until ctx is cancelled
// (SIGTERM, Ctrl-C), then drains and exits 0.
func runStream(ctx context.Context, env environment, args []string) (err error) {
	fs := newFlagSet(env, "stream", "stream [--nats URL] [flags]")
	cfg := stream.DefaultConfig()
	t := &cfg.Topology
	var (
		config, natsURL, listen, store, metricsAddr, logLevel string
		mf                                                    modelFlags
	)
	fs.StringVar(&config, "config", "", "file of name = value lines setting any of these flags")
	mf.register(fs, true)
	var pl predictionLogFlags
	pl.register(fs)
	var df driftFlags
	df.register(fs)
	fs.StringVar(&natsURL, "nats", "", "NATS server URL, e.g. nats://127.0.0.1:4222 (default: start an embedded server with JetStream)")
	fs.StringVar(&listen, "nats-listen", "127.0.0.1:4222", "embedded server only: host:port it listens on (port 0: any free port)")
	fs.StringVar(&store, "nats-store", filepath.Join(defaultCacheDir(), "nats"), "embedded server only: JetStream data directory")
	fs.StringVar(&t.Stream, "stream", t.Stream, "input stream")
	fs.StringVar(&t.Subject, "subject", t.Subject, "input subject (trip-request events)")
	fs.StringVar(&t.Durable, "durable", t.Durable, "durable consumer name, shared by every process of a deployment")
	fs.StringVar(&t.OutStream, "out-stream", t.OutStream, "stream that stores the estimate and dead-letter subjects (created if missing)")
	fs.StringVar(&t.OutSubject, "out-subject", t.OutSubject, "subject of the estimate events")
	fs.StringVar(&t.DeadLetterSubject, "dead-letter-subject", t.DeadLetterSubject, "subject of rejected events, with the reason in headers")
	fs.DurationVar(&t.AckWait, "ack-wait", t.AckWait, "consumer ack wait: an unacknowledged event is redelivered after it")
	fs.IntVar(&t.MaxAckPending, "max-ack-pending", t.MaxAckPending, "consumer limit of delivered, unacknowledged events across all processes")
	fs.DurationVar(&t.DedupWindow, "dedup-window", t.DedupWindow, "duplicate window of streams this command creates; at least twice --ack-wait")
	fs.BoolVar(&cfg.Setup, "setup", cfg.Setup, "create missing streams and the durable consumer (and update the consumer's settings)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "events asked for per fetch")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "outputs published and awaiting JetStream's acknowledgement, at most")
	fs.DurationVar(&cfg.FetchWait, "fetch-wait", cfg.FetchWait, "longest wait for a fetch to fill; also bounds the wait for the last fetch when draining")
	fs.DurationVar(&cfg.PublishTimeout, "publish-timeout", cfg.PublishTimeout, "wait for JetStream to store an output before the event is handed back for redelivery")
	fs.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this host:port at /metrics, e.g. 127.0.0.1:9091 (default: off)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("stream: unexpected argument %q", fs.Arg(0))}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return usageError{fmt.Errorf("stream: --log-level: %w", err)}
	}
	log := newLogger(env.stderr, level)
	if err := cfg.Topology.Validate(); err != nil {
		return usageError{err}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	plog, err := pl.open(log, reg)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer func() { err = errors.Join(err, closePredictionLog(plog, 10*time.Second)) }()
	var svc *serving.Service
	mon, err := df.monitor(&svc, log, reg)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	svc, follow, err := mf.openService(ctx, env, log, reg, serving.Observers(observer(plog), mon))
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	m := svc.Current()
	cfg.Models, cfg.Logger = svc, log
	if cfg.Metrics, err = stream.NewMetrics(reg); err != nil {
		return err
	}
	if follow != nil {
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		go follow(fctx)
	}
	if metricsAddr != "" {
		stop, err := serveMetrics(metricsAddr, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	if natsURL == "" {
		srv, err := stream.StartEmbedded(ctx, stream.EmbeddedConfig{Listen: listen, StoreDir: store, Logger: log})
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		defer srv.Shutdown()
		natsURL = srv.URL()
		log.Info("embedded NATS server with JetStream started", "url", natsURL, "store", store)
	}
	// Two connections: events in and acknowledgements on one, estimates
	// out on the other, which lets the server work on both at once.
	var conns [2]*nats.Conn
	for i, role := range []string{"in", "out"} {
		nc, err := nats.Connect(natsURL,
			nats.Name("taxieta stream "+role+" "+buildinfo.Version()),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(500*time.Millisecond))
		if err != nil {
			return fmt.Errorf("stream: connect to %s: %w", natsURL, err)
		}
		defer nc.Close()
		conns[i] = nc
	}

	log.Info("consuming", "nats", natsURL, "stream", t.Stream, "subject", t.Subject, "durable", t.Durable,
		"out_subject", t.OutSubject, "dead_letter_subject", t.DeadLetterSubject,
		"model", m.Name, "model_version", m.Version, "model_source", m.Source)
	stats, err := stream.Run(ctx, conns[0], conns[1], cfg)
	log.Info("stopped", "in", stats.In, "estimates", stats.Out, "dead_letters", stats.Dead,
		"duplicates", stats.Duplicates, "redelivered", stats.Redelivered, "failed", stats.Failed)
	return err
}

// serveMetrics serves reg at http://addr/metrics until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stream: metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
