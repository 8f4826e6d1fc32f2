// Package httpapi is taxieta's REST API: trip-duration estimates for one trip
// or a batch, the home page, OpenAPI and interactive docs served from the
// binary, health probes and Prometheus metrics. It reads models through
// serving and knows nothing of how they were trained or where they came from.
package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// Config tunes the API.
type Config struct {
	Title       string
	Description string
	// Version is the app's build version, shown on the home page and in metrics.
	Version string
	// MaxBatch is the most trips one /predict/batch request may hold.
	MaxBatch int
	// MaxBodyBytes bounds a /predict/batch body; /predict bodies are bounded
	// at 64 KiB.
	MaxBodyBytes int64
	// LogRequests writes one log line per request.
	LogRequests bool
	// AdminToken protects /admin routes; empty turns them off.
	AdminToken string
	// Monitor answers GET /monitoring with the drift of recent traffic;
	// nil answers that monitoring is not running.
	Monitor *live.Monitor
}

// DefaultConfig is the configuration in code, before files, environment and flags.
func DefaultConfig() Config {
	return Config{
		Title:        "taxieta",
		Description:  "Estimates how long a New York City taxi trip will take, with a realistic range, from the pickup and dropoff zones and the passenger count.",
		MaxBatch:     10000,
		MaxBodyBytes: 8 << 20,
		LogRequests:  true,
	}
}

const maxSingleBody = 64 << 10

// Server is the API's http.Handler.
type Server struct {
	cfg      Config
	svc      *serving.Service
	log      *slog.Logger
	reqLog   requestLogger
	metrics  *metrics
	mux      *http.ServeMux
	ny       *time.Location
	draining atomic.Bool
	bufs     sync.Pool
	batches  sync.Pool
	// idPrefix and idSeq make request ids unique across restarts.
	idPrefix string
	idSeq    atomic.Uint64
	openapi  []byte
	// routes is the route table (routes.go) and the routes NewServer was
	// given; allow matches a path alone against theirs, for 405 answers.
	routes []Route
	allow  *http.ServeMux
}

// NewServer builds the API over the prediction seam svc. reg receives the
// API's metrics (use a fresh prometheus.Registry per server, the one svc
// reports to). extra are routes from other packages (other protocols),
// served, counted and documented like those of the table in routes.go.
func NewServer(cfg Config, svc *serving.Service, logger *slog.Logger, reg *prometheus.Registry, extra ...Route) (*Server, error) {
	if cfg.MaxBatch <= 0 || cfg.MaxBodyBytes <= 0 {
		return nil, fmt.Errorf("api config: MaxBatch %d and MaxBodyBytes %d must be positive", cfg.MaxBatch, cfg.MaxBodyBytes)
	}
	ny, err := trip.NYC()
	if err != nil {
		return nil, fmt.Errorf("api: load NYC time zone (import time/tzdata): %w", err)
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	s := &Server{
		cfg: cfg, svc: svc, log: logger, reqLog: requestLoggerFor(logger), ny: ny,
		mux:      http.NewServeMux(),
		metrics:  newMetrics(reg, cfg.Version),
		idPrefix: hex.EncodeToString(id[:]),
	}
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	s.batches.New = func() any { return &batchBuffers{} }
	if err := s.mount(append(s.routeTable(), extra...)); err != nil {
		return nil, err
	}
	if s.openapi, err = openAPIDocument(cfg, s.routes); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Drain turns readiness false, so that load balancers stop sending traffic
// before the server shuts down.
func (s *Server) Drain() { s.draining.Store(true) }

// Ready reports whether the server can take traffic: a model is loaded and
// it is not draining.
func (s *Server) Ready() bool { return !s.draining.Load() && s.svc.Current() != nil }

func (s *Server) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }
func (s *Server) putBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		s.bufs.Put(b)
	}
}
