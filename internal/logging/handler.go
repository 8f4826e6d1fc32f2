package logging

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/taxieta/taxieta/internal/tripjson"
)

// Handler is the JSON log handler of every command: slog's own
// JSONHandler, and beside it a fast path for the one line a server writes
// per request. Through slog, that line cost a server more CPU than the
// request's prediction (slog records the caller's program counter for
// every line and formats floats with encoding/json); LogRequest writes the
// same bytes directly. Loggers derived with With or WithGroup get slog's
// handler alone, so their attributes are never lost.
type Handler struct {
	*slog.JSONHandler
	w     io.Writer
	level slog.Leveler
	bufs  sync.Pool
}

// NewHandler returns a handler writing JSON lines at level and above to w.
// Each line reaches w in one Write call; w must keep concurrent lines whole
// (BufferedWriter does; so does LockedWriter).
func NewHandler(w io.Writer, level slog.Leveler) *Handler {
	h := &Handler{JSONHandler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), w: w, level: level}
	h.bufs.New = func() any { b := make([]byte, 0, 256); return &b }
	return h
}

// Request is what the line for one served request says. A server that has
// no Handler logs the same fields through slog (see Attrs).
type Request struct {
	ID       string
	Method   string
	Path     string
	Status   int
	Bytes    int
	Duration time.Duration
}

// Attrs are r's fields as slog attributes, in the order LogRequest writes them.
func (r Request) Attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("request_id", r.ID), slog.String("method", r.Method), slog.String("path", r.Path),
		slog.Int("status", r.Status), slog.Int("bytes", r.Bytes), slog.Float64("duration_ms", r.durationMS()),
	}
}

// durationMS is the duration in milliseconds to the microsecond.
func (r Request) durationMS() float64 { return float64(r.Duration.Microseconds()) / 1000 }

// RequestMessage is the message of every request line.
const RequestMessage = "request"

// LogRequest writes r's line at level, stamped at, if level is enabled:
// byte for byte what slog's JSONHandler writes for
// LogAttrs(ctx, level, RequestMessage, r.Attrs()...) at that time.
func (h *Handler) LogRequest(_ context.Context, level slog.Level, at time.Time, r Request) {
	if level < h.level.Level() {
		return
	}
	bp := h.bufs.Get().(*[]byte)
	b := appendRequest((*bp)[:0], level, at, r)
	_, _ = h.w.Write(b)
	if cap(b) <= 4<<10 {
		*bp = b[:0]
		h.bufs.Put(bp)
	}
}

func appendRequest(b []byte, level slog.Level, at time.Time, r Request) []byte {
	b = append(b, `{"time":"`...)
	b = at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, level.String()...)
	b = append(b, `","msg":"`+RequestMessage+`","request_id":`...)
	b = tripjson.AppendLogString(b, r.ID)
	b = append(b, `,"method":`...)
	b = tripjson.AppendLogString(b, r.Method)
	b = append(b, `,"path":`...)
	b = tripjson.AppendLogString(b, r.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(r.Bytes), 10)
	b = append(b, `,"duration_ms":`...)
	// encoding/json writes floats in this range as the shortest 'f' form.
	b = strconv.AppendFloat(b, r.durationMS(), 'f', -1, 64)
	return append(b, "}\n"...)
}

// LockedWriter serialises writes to an unbuffered writer, so that lines
// written concurrently by slog and by LogRequest stay whole.
type LockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLockedWriter returns w behind a mutex.
func NewLockedWriter(w io.Writer) *LockedWriter { return &LockedWriter{w: w} }

// Write writes p to the underlying writer while holding the lock.
func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
