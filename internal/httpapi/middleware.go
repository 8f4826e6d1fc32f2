package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/apierr"
)

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID takes a sane X-Request-ID from the client or makes one.
func (s *Server) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); id != "" && len(id) <= 128 {
		ok := true
		for i := 0; i < len(id); i++ {
			if id[i] < 0x21 || id[i] > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return id
		}
	}
	return s.idPrefix + "-" + strconv.FormatUint(s.idSeq.Add(1), 36)
}

// codeCounters caches a route's request counters by status code for its
// usual method, sparing a label lookup per request.
type codeCounters struct {
	method string
	vec    *prometheus.CounterVec
	route  string
	by     [600]atomic.Pointer[prometheus.Counter]
}

func (c *codeCounters) inc(method string, code int) {
	if method != c.method || code < 0 || code >= len(c.by) {
		c.vec.WithLabelValues(c.route, method, statusLabel(code)).Inc()
		return
	}
	p := c.by[code].Load()
	if p == nil {
		ctr := c.vec.WithLabelValues(c.route, method, statusLabel(code))
		p = &ctr
		c.by[code].Store(p)
	}
	(*p).Inc()
}

// instrument wraps a route: request id, panic safety, metrics and the access log.
func (s *Server) instrument(method, route string, h http.Handler) http.Handler {
	latency := s.metrics.latency.WithLabelValues(route)
	counters := &codeCounters{method: method, vec: s.metrics.requests, route: route}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := s.requestID(r)
		w.Header()["X-Request-Id"] = []string{id}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "handler panic", slog.String("request_id", id), slog.Any("panic", p))
				if sw.code == 0 {
					s.fail(sw, r, apierr.New(apierr.Internal, "internal error; the request id is "+id))
				}
			}
			if sw.code == 0 {
				sw.code = http.StatusOK
			}
			took := time.Since(start)
			latency.Observe(took.Seconds())
			counters.inc(r.Method, sw.code)
			if s.cfg.LogRequests {
				level := slog.LevelInfo
				if sw.code >= 500 {
					level = slog.LevelError
				}
				s.log.LogAttrs(r.Context(), level, "request",
					slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", sw.code), slog.Int("bytes", sw.bytes), slog.Float64("duration_ms", float64(took.Microseconds())/1000))
			}
		}()
		h.ServeHTTP(sw, r)
	})
}
