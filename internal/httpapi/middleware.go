package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/logging"
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
	// The canonical key, read directly: Header.Get would canonicalise
	// "X-Request-ID" into a new string on every request.
	if v := r.Header["X-Request-Id"]; len(v) > 0 && v[0] != "" && len(v[0]) <= 128 {
		id := v[0]
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
	var b [32]byte
	id := strconv.AppendUint(append(append(b[:0], s.idPrefix...), '-'), s.idSeq.Add(1), 36)
	return string(id)
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
			end := time.Now()
			took := end.Sub(start)
			latency.Observe(took.Seconds())
			counters.inc(r.Method, sw.code)
			if s.cfg.LogRequests {
				level := slog.LevelInfo
				if sw.code >= 500 {
					level = slog.LevelError
				}
				s.reqLog.LogRequest(r.Context(), level, end, logging.Request{
					ID: id, Method: r.Method, Path: r.URL.Path, Status: sw.code, Bytes: sw.bytes, Duration: took})
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// requestLogger writes the line of one served request. logging.Handler
// writes it without slog's per-line costs; slogRequests is the same line
// through any other handler.
type requestLogger interface {
	LogRequest(ctx context.Context, level slog.Level, at time.Time, r logging.Request)
}

// slogRequests logs request lines through a logger whose handler has no fast path.
type slogRequests struct{ log *slog.Logger }

func (l slogRequests) LogRequest(ctx context.Context, level slog.Level, _ time.Time, r logging.Request) {
	l.log.LogAttrs(ctx, level, logging.RequestMessage, r.Attrs()...)
}

// requestLoggerFor picks the fast path when the logger's handler has one.
func requestLoggerFor(log *slog.Logger) requestLogger {
	if rl, ok := log.Handler().(requestLogger); ok {
		return rl
	}
	return slogRequests{log}
}
