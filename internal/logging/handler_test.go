package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// slogLine is what slog's own JSONHandler writes for r at level and time at.
func slogLine(t testing.TB, level slog.Level, at time.Time, r Request) []byte {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Time(slog.TimeKey, at)
		}
		return a
	}})
	slog.New(h).LogAttrs(context.Background(), level, RequestMessage, r.Attrs()...)
	return buf.Bytes()
}

func fastLine(level slog.Level, at time.Time, r Request) []byte {
	var buf bytes.Buffer
	NewHandler(&buf, slog.LevelDebug).LogRequest(context.Background(), level, at, r)
	return buf.Bytes()
}

func TestLogRequestWritesWhatSlogWrites(t *testing.T) {
	at := time.Date(2026, 12, 4, 2, 18, 44, 215366067, time.UTC)
	for _, tc := range []struct {
		name  string
		level slog.Level
		at    time.Time
		r     Request
	}{
		{"typical", slog.LevelInfo, at, Request{ID: "54dc3b65-9plk", Method: "POST", Path: "/predict", Status: 200, Bytes: 128, Duration: 117 * time.Microsecond}},
		{"whole milliseconds", slog.LevelError, at.Truncate(time.Second), Request{ID: "x", Method: "GET", Path: "/", Status: 503, Bytes: 0, Duration: 2 * time.Second}},
		{"zero duration", slog.LevelInfo, at, Request{Status: 404}},
		{"sub-microsecond", slog.LevelInfo, at, Request{Duration: 999}},
		{"escapes", slog.LevelWarn, at.In(time.FixedZone("EST", -5*3600)), Request{ID: `a"b\c`, Method: "P\tO\nS\rT", Path: "/\x00\x1f\x7f<>&\u2028\u2029é\xff/", Status: 400}},
		{"long", slog.LevelInfo, at, Request{ID: string(bytes.Repeat([]byte("z"), 128)), Path: string(bytes.Repeat([]byte("/ab"), 2000)), Duration: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := fastLine(tc.level, tc.at, tc.r), slogLine(t, tc.level, tc.at, tc.r)
			if !bytes.Equal(got, want) {
				t.Fatalf("LogRequest wrote\n%s\nslog writes\n%s", got, want)
			}
		})
	}
}

func TestLogRequestHonoursLevel(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, slog.LevelWarn)
	h.LogRequest(context.Background(), slog.LevelInfo, time.Now(), Request{Status: 200})
	if buf.Len() != 0 {
		t.Fatalf("info line written at level warn: %s", buf.Bytes())
	}
	h.LogRequest(context.Background(), slog.LevelError, time.Now(), Request{Status: 500})
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["level"] != "ERROR" || line["status"] != 500.0 {
		t.Fatalf("error line %q (%v)", buf.Bytes(), err)
	}
}

func TestHandlerIsSlogsForOtherLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, slog.LevelInfo)).With("component", "api")
	log.Info("serving", "addr", ":8000", "startup_ms", 12.5)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["msg"] != "serving" || line["component"] != "api" || line["startup_ms"] != 12.5 {
		t.Fatalf("line %s", buf.Bytes())
	}
	if _, fast := log.Handler().(*Handler); fast {
		t.Fatal("a derived logger kept the request fast path, which would drop its attributes")
	}
}

func FuzzLogRequest(f *testing.F) {
	f.Add("54dc3b65-9plk", "POST", "/predict", 200, 128, int64(117000), int64(1764814724215366067))
	f.Add("a\"b", "GET", "/\xff\u2028", 500, 0, int64(-5), int64(0))
	f.Fuzz(func(t *testing.T, id, method, path string, status, n int, d, unixNano int64) {
		at := time.Unix(0, unixNano).UTC()
		if y := at.Year(); y < 0 || y >= 10000 {
			return // slog writes an error for these; servers never see them
		}
		r := Request{ID: id, Method: method, Path: path, Status: status, Bytes: n, Duration: time.Duration(d)}
		got, want := fastLine(slog.LevelInfo, at, r), slogLine(t, slog.LevelInfo, at, r)
		if !bytes.Equal(got, want) {
			t.Fatalf("LogRequest wrote\n%q\nslog writes\n%q", got, want)
		}
	})
}

func BenchmarkRequestLine(b *testing.B) {
	r := Request{ID: "54dc3b65-9plk", Method: "POST", Path: "/predict", Status: 200, Bytes: 128, Duration: 117 * time.Microsecond}
	ctx := context.Background()
	b.Run("LogRequest", func(b *testing.B) {
		h := NewHandler(discard{}, slog.LevelInfo)
		b.ReportAllocs()
		for b.Loop() {
			h.LogRequest(ctx, slog.LevelInfo, time.Now(), r)
		}
	})
	b.Run("slog", func(b *testing.B) {
		log := slog.New(slog.NewJSONHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
		b.ReportAllocs()
		for b.Loop() {
			log.LogAttrs(ctx, slog.LevelInfo, RequestMessage, r.Attrs()...)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
