package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// TestErrorKind pins the one mapping of domain errors to kinds, and so to
// statuses.
func TestErrorKind(t *testing.T) {
	_, _, syntaxErr := decodeTrip([]byte(`{"PULocationID": 74,`), nyc(t))
	var se *tripjson.SyntaxError
	if !errors.As(syntaxErr, &se) {
		t.Fatalf("decodeTrip gave %T; want *tripjson.SyntaxError", syntaxErr)
	}
	tests := []struct {
		err    error
		kind   apierr.Kind
		status int
	}{
		{serving.ErrNoModel, apierr.Unavailable, 503},
		{fmt.Errorf("%w: %q", serving.ErrUnknownVersion, "99"), apierr.NotFound, 404},
		{serving.ErrNotFollowing, apierr.Conflict, 409},
		{fmt.Errorf("list: %w", registry.ErrNotFound), apierr.NotFound, 404},
		{fmt.Errorf("resolve: %w", registry.ErrUnavailable), apierr.Unavailable, 503},
		{fmt.Errorf("download: %w", registry.ErrChecksum), apierr.Upstream, 502},
		{syntaxErr, apierr.Malformed, 400},
		{&http.MaxBytesError{Limit: 10}, apierr.TooLarge, 413},
		{context.Canceled, apierr.Canceled, 499},
		{errors.New("disk on fire"), apierr.Internal, 500},
		// A stated kind wins over the domain error it wraps.
		{apierr.Wrap(apierr.Upstream, registry.ErrUnavailable, "reload refused"), apierr.Upstream, 502},
		// An explanation keeps the domain error's kind.
		{apierr.Explain(serving.ErrUnknownVersion, "no version 99"), apierr.NotFound, 404},
		{invalid([]FieldError{{Location: "body.PULocationID", Message: "is missing"}}), apierr.Invalid, 422},
	}
	for _, tt := range tests {
		if got := ErrorKind(tt.err); got != tt.kind || got.HTTPStatus() != tt.status {
			t.Errorf("ErrorKind(%v) = %v (%d); want %v (%d)", tt.err, got, got.HTTPStatus(), tt.kind, tt.status)
		}
	}
}

// TestUnexplainedErrorIsHidden: an error no handler explained answers 500
// with the request id, not the error's text, which may name internals.
func TestUnexplainedErrorIsHidden(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	w := httptest.NewRecorder()
	w.Header()["X-Request-Id"] = []string{"req-1"}
	s.fail(w, httptest.NewRequest("GET", "/models", nil), fmt.Errorf("list: %w", errors.New("open /secret/path: permission denied")))
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret") || !strings.Contains(w.Body.String(), "req-1") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func newExtraServer(t *testing.T, extra ...Route) *Server {
	t.Helper()
	s, err := newServerWith(t, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newServerWith(t *testing.T, extra ...Route) (*Server, error) {
	t.Helper()
	reg := prometheus.NewRegistry()
	svc, err := serving.New(defaultModels(t), serving.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Version, cfg.LogRequests = "test", false
	return NewServer(cfg, svc, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, extra...)
}

// TestExtraRoutes: a route from another package is served, counted under
// its label, documented, and known to the 405 answers, wildcards and all.
func TestExtraRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "model "+r.PathValue("name")) })
	s := newExtraServer(t,
		Route{Method: "GET", Path: "/v2/models/{name}", Handler: ok, Op: &Operation{
			ID: "v2ModelMetadata", Summary: "Model metadata", Tags: []string{"v2"},
			Responses: []Response{{Status: 200, Description: "Metadata", Content: []Content{{Type: "text/plain", Of: ""}}}},
		}},
		Route{Method: "POST", Path: "/v2/models/{name}", Handler: ok, Unlisted: "test"},
	)
	if w := do(s, "GET", "/v2/models/taxi", "", ""); w.Code != 200 || w.Body.String() != "model taxi" {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
	w := do(s, "DELETE", "/v2/models/taxi", "", "")
	if w.Code != 405 || w.Header().Get("Allow") != "GET, POST" || !strings.Contains(w.Body.String(), "use GET or POST") {
		t.Errorf("DELETE: %d Allow %q %s", w.Code, w.Header().Get("Allow"), w.Body)
	}
	if w := do(s, "GET", "/v2/nope", "", ""); w.Code != 404 {
		t.Errorf("unknown path: %d", w.Code)
	}
	if w := do(s, "POST", "/ui/app.js", "", ""); w.Code != 405 || w.Header().Get("Allow") != "GET" {
		t.Errorf("POST on an asset: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	doc := parseDoc(t, s.openapi)
	if doc.Paths["/v2/models/{name}"]["get"].OperationID != "v2ModelMetadata" {
		t.Errorf("the document lacks the extra operation: %v", doc.Paths["/v2/models/{name}"])
	}
	if _, listed := doc.Paths["/v2/models/{name}"]["post"]; listed {
		t.Error("the unlisted route is in the document")
	}
	if !strings.Contains(string(s.openapi), `"in": "path"`) {
		t.Error("the path parameter is not declared")
	}
	metrics := do(s, "GET", "/metrics", "", "").Body.String()
	if !strings.Contains(metrics, `taxieta_http_requests_total{code="200",method="GET",route="/v2/models/{name}"} 1`) {
		t.Error("the extra route is not counted under its path")
	}
}

// TestRouteTableRefusesBadRoutes: a route that is neither an operation nor
// said to be unlisted, or that collides with another, stops the server
// from starting instead of going unnoticed.
func TestRouteTableRefusesBadRoutes(t *testing.T) {
	h := http.NotFoundHandler()
	op := func(id string) *Operation {
		return &Operation{ID: id, Responses: []Response{JSONReply(200, "ok", Health{})}}
	}
	tests := []struct {
		name  string
		route Route
		want  string
	}{
		{"neither operation nor unlisted", Route{Method: "GET", Path: "/x", Handler: h}, "either an OpenAPI operation or the reason"},
		{"both", Route{Method: "GET", Path: "/x", Handler: h, Op: op("x"), Unlisted: "why"}, "either an OpenAPI operation or the reason"},
		{"no handler", Route{Method: "GET", Path: "/x", Unlisted: "why"}, "no handler"},
		{"relative path", Route{Method: "GET", Path: "x", Handler: h, Unlisted: "why"}, "must start with /"},
		{"operation without responses", Route{Method: "GET", Path: "/x", Handler: h, Op: &Operation{ID: "x"}}, "id and its responses"},
		{"duplicate operation id", Route{Method: "GET", Path: "/x", Handler: h, Op: op("predict")}, `operation id "predict"`},
		{"same pattern twice", Route{Method: "POST", Path: PathPredict, Handler: h, Unlisted: "why"}, "conflicts"},
		{"undescribable type", Route{Method: "GET", Path: "/x", Handler: h, Op: &Operation{ID: "x", Responses: []Response{JSONReply(200, "ok", make(chan int))}}}, "render OpenAPI document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newServerWith(t, tt.route)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want one saying %q", err, tt.want)
			}
		})
	}
}
