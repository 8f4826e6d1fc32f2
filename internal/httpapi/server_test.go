package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/logging"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

func newTestServer(t testing.TB, models serving.Models, mut func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Version = "test"
	cfg.LogRequests = false
	if mut != nil {
		mut(&cfg)
	}
	reg := prometheus.NewRegistry()
	svc, err := serving.New(models, serving.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg, svc, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func defaultModels(t testing.TB) *serving.Static {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	return serving.NewStatic(&serving.ModelVersion{Artifact: a, Name: "taxi-duration", Version: "3", Source: "embedded"})
}

type emptyModels struct{}

func (emptyModels) Default() *serving.ModelVersion { return nil }
func (emptyModels) Version(context.Context, string) (*serving.ModelVersion, error) {
	return nil, serving.ErrUnknownVersion
}
func (emptyModels) List(context.Context) ([]serving.Info, error) { return nil, nil }

func do(h http.Handler, method, path, ctype, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestStatuses(t *testing.T) {
	s := newTestServer(t, defaultModels(t), func(c *Config) { c.MaxBatch = 3; c.MaxBodyBytes = 2048 })
	empty := newTestServer(t, emptyModels{}, nil)
	const js = "application/json"
	big := `[` + strings.Repeat(`{"PULocationID":1,"DOLocationID":2},`, 100) + `{"PULocationID":1,"DOLocationID":2}]`
	tests := []struct {
		name       string
		h          http.Handler
		method     string
		path       string
		ctype      string
		body       string
		wantStatus int
		wantInBody string
	}{
		{"predict ok", s, "POST", "/predict", js, `{"PULocationID": 264, "DOLocationID": 264, "passenger_count": 1}`, 200, `"version":"3"`},
		{"predict with time", s, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75, "pickup_datetime": "2024-03-04T08:15:00"}`, 200, `trip_duration_prediction`},
		{"predict passenger null", s, "POST", "/predict", "application/json; charset=utf-8", `{"PULocationID": 74, "DOLocationID": 75, "passenger_count": null}`, 200, `interval`},
		{"predict version pinned", s, "POST", "/predict?model_version=3", js, `{"PULocationID": 74, "DOLocationID": 75}`, 200, `"version":"3"`},
		{"unknown version", s, "POST", "/predict?model_version=99", js, `{"PULocationID": 74, "DOLocationID": 75}`, 404, `model version`},
		{"malformed", s, "POST", "/predict", js, `{"PULocationID": 74,`, 400, `malformed JSON`},
		{"empty body", s, "POST", "/predict", js, ``, 400, `malformed JSON`},
		{"trailing garbage", s, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75} x`, 400, `malformed`},
		{"wrong content type", s, "POST", "/predict", "text/plain", `{"PULocationID": 74, "DOLocationID": 75}`, 415, `application/json`},
		{"no content type", s, "POST", "/predict", "", `{"PULocationID": 74, "DOLocationID": 75}`, 415, `application/json`},
		{"body too large", s, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75, "x": "` + strings.Repeat("a", 70<<10) + `"}`, 413, `limit`},
		{"zone out of range", s, "POST", "/predict", js, `{"PULocationID": 0, "DOLocationID": 266}`, 422, `body.DOLocationID`},
		{"wrong types", s, "POST", "/predict", js, `{"PULocationID": "74", "DOLocationID": 7.5, "passenger_count": true}`, 422, `body.passenger_count`},
		{"missing field", s, "POST", "/predict", js, `{"PULocationID": 74}`, 422, `body.DOLocationID: is missing`},
		{"unknown field", s, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75, "trip_distance": 3}`, 422, `body.trip_distance`},
		{"duplicate field", s, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75, "DOLocationID": 75}`, 422, `is given more than once`},
		{"passengers out of range", s, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 10}`, 422, `must be from 0 to 9, got 10`},
		{"bad datetime", s, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75, "pickup_datetime": "yesterday"}`, 422, `ISO 8601`},
		{"not an object", s, "POST", "/predict", js, `[1,2]`, 422, `JSON object`},
		{"batch ok", s, "POST", "/predict/batch", js, `[{"PULocationID": 74, "DOLocationID": 75}, {"PULocationID": 1, "DOLocationID": 1, "passenger_count": 2}]`, 200, `"predictions":[`},
		{"batch names index", s, "POST", "/predict/batch", js, `[{"PULocationID": 74, "DOLocationID": 75}, {"PULocationID": 999, "DOLocationID": 1}]`, 422, `body[1].PULocationID`},
		{"batch too many", s, "POST", "/predict/batch", js, `[{"PULocationID":1,"DOLocationID":2},{"PULocationID":1,"DOLocationID":2},{"PULocationID":1,"DOLocationID":2},{"PULocationID":1,"DOLocationID":2}]`, 422, `at most 3`},
		{"batch empty", s, "POST", "/predict/batch", js, `[]`, 422, `at least one`},
		{"batch not array", s, "POST", "/predict/batch", js, `{"PULocationID": 74, "DOLocationID": 75}`, 422, `JSON array`},
		{"batch body too large", s, "POST", "/predict/batch", js, big, 413, `limit`},
		{"batch malformed", s, "POST", "/predict/batch", js, `[{"PULocationID": 74, "DOLocationID": 75}`, 400, `malformed`},
		{"wrong method", s, "GET", "/predict", "", ``, 405, `use POST`},
		{"no such route", s, "GET", "/nope", "", ``, 404, `no such route`},
		{"healthz", s, "GET", "/healthz", "", ``, 200, `ok`},
		{"readyz", s, "GET", "/readyz", "", ``, 200, `ok`},
		{"readyz without model", empty, "GET", "/readyz", "", ``, 503, `no model`},
		{"predict without model", empty, "POST", "/predict", js, `{"PULocationID": 74, "DOLocationID": 75}`, 503, `no model`},
		{"info", s, "GET", "/info", "", ``, 200, `"validation_metrics"`},
		{"zones", s, "GET", "/zones", "", ``, 200, `JFK Airport`},
		{"models", s, "GET", "/models", "", ``, 200, `"default":{"name":"taxi-duration","version":"3"}`},
		{"admin off", s, "POST", "/admin/reload", "", ``, 404, `admin routes are off`},
		{"openapi", s, "GET", "/openapi.json", "", ``, 200, `"openapi": "3.1.0"`},
		{"docs", s, "GET", "/docs", "", ``, 200, `/docs/assets/swagger-ui-bundle.js`},
		{"docs asset", s, "GET", "/docs/assets/swagger-ui.css", "", ``, 200, `swagger-ui`},
		{"docs asset missing", s, "GET", "/docs/assets/nope.js", "", ``, 404, `no such asset`},
		{"metrics", s, "GET", "/metrics", "", ``, 200, `taxieta_build_info`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(tt.h, tt.method, tt.path, tt.ctype, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d; want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.wantInBody) {
				t.Errorf("body %q does not contain %q", truncate(w.Body.String()), tt.wantInBody)
			}
			ct := w.Header().Get("Content-Type")
			switch {
			case tt.path == "/readyz": // probes answer Health, not problems
			case w.Code >= 400 && !strings.HasPrefix(ct, "application/problem+json"):
				t.Errorf("error content type %q; want application/problem+json", ct)
			case w.Code >= 400:
				var p Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Title == "" {
					t.Errorf("problem body %s: %v", w.Body, err)
				}
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id header")
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// The single and batch answers agree with the model itself.
func TestPredictMatchesModel(t *testing.T) {
	models := defaultModels(t)
	s := newTestServer(t, models, nil)
	m := models.Default().Artifact.Model
	w := do(s, "POST", "/predict", "application/json", `{"PULocationID": 132, "DOLocationID": 230, "passenger_count": 2, "pickup_datetime": "2024-03-08T17:30:00"}`)
	var got PredictionResponse
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	want := m.Predict(trip.Trip{PULocationID: 132, DOLocationID: 230, Passengers: 2, Pickup: time.Date(2024, 3, 8, 17, 30, 0, 0, time.UTC)})
	if d := got.TripDurationPrediction - float64(want.Minutes); d > 0.0051 || d < -0.0051 {
		t.Errorf("got %v; model says %+v", got, want)
	}
	if got.Interval.Low >= got.TripDurationPrediction || got.Interval.High <= got.TripDurationPrediction {
		t.Errorf("interval %+v around %v", got.Interval, got.TripDurationPrediction)
	}
	var body strings.Builder
	body.WriteString("[")
	for i := 1; i <= 265; i++ {
		if i > 1 {
			body.WriteString(",")
		}
		fmt.Fprintf(&body, `{"PULocationID": %d, "DOLocationID": %d}`, i, 266-i)
	}
	body.WriteString("]")
	w = do(s, "POST", "/predict/batch", "application/json", body.String())
	var batch BatchResponse
	if err := json.Unmarshal(w.Body.Bytes(), &batch); err != nil {
		t.Fatalf("%v: %s", err, truncate(w.Body.String()))
	}
	if len(batch.Predictions) != 265 {
		t.Fatalf("%d predictions; want 265", len(batch.Predictions))
	}
	for i, p := range batch.Predictions {
		want := m.Predict(trip.Trip{PULocationID: uint16(i + 1), DOLocationID: uint16(265 - i), Passengers: trip.NoPassengers})
		if d := p.TripDurationPrediction - float64(want.Minutes); d > 0.0051 || d < -0.0051 {
			t.Fatalf("prediction %d = %v; model says %v", i, p.TripDurationPrediction, want.Minutes)
		}
	}
}

func TestHomeNegotiates(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	html := do(s, "GET", "/", "", "", "Accept", "text/html,application/xhtml+xml,*/*")
	if ct := html.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("browser got %s", ct)
	}
	for _, want := range []string{"<title>taxieta", "taxi-duration", "green:2023-01..2023-04", "Validation RMSE", `id="estimate"`} {
		if !strings.Contains(html.Body.String(), want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	js := do(s, "GET", "/", "", "", "Accept", "application/json")
	var info InfoResponse
	if err := json.Unmarshal(js.Body.Bytes(), &info); err != nil || info.Model == nil || info.Model.Valid == nil || info.Version != "test" {
		t.Fatalf("API client got %s (%v)", js.Body, err)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	for range 3 {
		do(s, "POST", "/predict", "application/json", `{"PULocationID": 74, "DOLocationID": 75}`)
	}
	do(s, "POST", "/predict", "application/json", `{"PULocationID": 740, "DOLocationID": 75}`)
	body := do(s, "GET", "/metrics", "", "").Body.String()
	for _, want := range []string{
		`taxieta_http_requests_total{code="200",method="POST",route="/predict"} 3`,
		`taxieta_http_requests_total{code="422",method="POST",route="/predict"} 1`,
		`taxieta_predictions_total{model="taxi-duration",protocol="rest",version="3"} 3`,
		`taxieta_http_request_duration_seconds_bucket{route="/predict"`,
		`taxieta_model_info{kind="od",name="taxi-duration"`,
		`taxieta_build_info{goversion=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestDrainTurnsReadinessFalse(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	s.Drain()
	if w := do(s, "GET", "/readyz", "", ""); w.Code != 503 || !strings.Contains(w.Body.String(), "draining") {
		t.Errorf("readyz while draining: %d %s", w.Code, w.Body)
	}
	if w := do(s, "GET", "/healthz", "", ""); w.Code != 200 {
		t.Errorf("healthz while draining: %d", w.Code)
	}
}

func BenchmarkPredictHandler(b *testing.B) {
	s := newTestServer(b, defaultModels(b), nil)
	body := []byte(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/predict", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// The request line is the same through logging's fast path and through any
// other slog handler.
func TestRequestLogLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(io.Writer) slog.Handler
	}{
		{"logging.Handler", func(w io.Writer) slog.Handler { return logging.NewHandler(w, slog.LevelInfo) }},
		{"slog.JSONHandler", func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := DefaultConfig()
			reg := prometheus.NewRegistry()
			svc, err := serving.New(defaultModels(t), serving.Options{Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewServer(cfg, svc, slog.New(tc.handler(&buf)), reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, req := range []struct {
				body   string
				status int
			}{{`{"PULocationID": 74, "DOLocationID": 75}`, 200}, {`{"PULocationID": 0, "DOLocationID": 75}`, 422}} {
				buf.Reset()
				r := httptest.NewRequest("POST", "/predict", strings.NewReader(req.body))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				var line struct {
					Time       time.Time `json:"time"`
					Level, Msg string
					RequestID  string  `json:"request_id"`
					Method     string  `json:"method"`
					Path       string  `json:"path"`
					Status     int     `json:"status"`
					Bytes      int     `json:"bytes"`
					DurationMS float64 `json:"duration_ms"`
				}
				if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
					t.Fatalf("log %q: %v", buf.Bytes(), err)
				}
				if line.Msg != "request" || line.Level != "INFO" || line.RequestID != w.Header().Get("X-Request-Id") || line.RequestID == "" ||
					line.Method != "POST" || line.Path != "/predict" || line.Status != w.Code || line.Status != req.status ||
					line.Bytes != w.Body.Len() || line.DurationMS < 0 || time.Since(line.Time) > time.Minute {
					t.Fatalf("log line %s for a %d answer of %d bytes with id %q", buf.Bytes(), w.Code, w.Body.Len(), w.Header().Get("X-Request-Id"))
				}
			}
		})
	}
}

// BenchmarkPredictHandlerLogged is BenchmarkPredictHandler with the
// request log on, as served.
func BenchmarkPredictHandlerLogged(b *testing.B) {
	reg := prometheus.NewRegistry()
	svc, err := serving.New(defaultModels(b), serving.Options{Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewServer(DefaultConfig(), svc, slog.New(logging.NewHandler(io.Discard, slog.LevelInfo)), reg)
	if err != nil {
		b.Fatal(err)
	}
	body := `{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/predict", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
