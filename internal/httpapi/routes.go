package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/drift/live"
)

// Paths of the API, for probes and manifests that must match them.
const (
	PathPredict      = "/predict"
	PathPredictBatch = "/predict/batch"
	PathHealthz      = "/healthz"
	PathReadyz       = "/readyz"
	PathMetrics      = "/metrics"
	PathOpenAPI      = "/openapi.json"
	PathDocs         = "/docs"
	PathMonitoring   = "/monitoring"
	// PathMonitoringPage is the monitoring page for people, and
	// PathMonitoringDistributions the counts its charts draw.
	PathMonitoringPage          = "/monitoring/page"
	PathMonitoringDistributions = "/monitoring/distributions"
)

// routeTable is the whole API surface, one entry per route. The mux, the
// request metrics' route labels, the 405 answers (with their Allow header)
// and the OpenAPI document (/openapi.json) are all built from it, so they
// cannot disagree.
//
// To add a route, add one entry here (or pass it to NewServer from another
// package):
//
//   - Method and Path: a ServeMux pattern's two halves ("GET",
//     "/v2/models/{name}"); Label only to keep an existing metrics label.
//   - Op: the OpenAPI operation, with every status the handler answers on
//     purpose (JSONReply, ProblemReply); or, for a route that is no API
//     operation (static files), Unlisted with the reason.
//   - Handler: s.api(f), where f returns (data, nil) to answer data as
//     JSON, (nil, err) to answer err as problem+json (see problemOf and
//     apierr's kinds), or (nil, nil) when it wrote the answer itself.
//
// Then run `go test ./internal/httpapi -run OpenAPI -update` to regenerate
// testdata/openapi.golden.json, review its diff, and add a request for
// each documented status to the coverage test (openapi_coverage_test.go),
// which fails until every documented status has been seen and checked
// against its schema.
func (s *Server) routeTable() []Route {
	versionParam := Param{
		Name: "model_version", In: "query", Example: "3",
		Description: "Answer with this model version instead of the served default (see GET /models).",
	}
	predictErrors := []Response{
		ProblemReply(400, "Malformed JSON"),
		ProblemReply(404, "Unknown model_version"),
		ProblemReply(413, "Body too large"),
		ProblemReply(415, "Content type is not application/json"),
		ProblemReply(422, "A field breaks a rule; errors names each"),
		ProblemReply(503, "No model loaded"),
	}
	return []Route{
		{Method: "GET", Path: "/{$}", Label: "/", Handler: s.api(s.handleHome()), Op: &Operation{
			ID: "home", Summary: "Home page", Tags: []string{"about"},
			Description: "An HTML page for browsers; the same information as JSON for clients that accept application/json.",
			Responses: []Response{{Status: 200, Description: "Home page", Content: []Content{
				{Type: "text/html", Of: ""}, {Type: "application/json", Of: InfoResponse{}}}}},
		}},
		{Method: "GET", Path: "/info", Handler: s.api(s.handleInfo()), Op: &Operation{
			ID: "info", Summary: "What is running", Tags: []string{"about"},
			Responses: []Response{JSONReply(200, "App and model information", InfoResponse{})},
		}},
		{Method: "GET", Path: "/zones", Handler: s.api(s.handleZones()), Op: &Operation{
			ID: "zones", Summary: "TLC taxi zones", Tags: []string{"about"},
			Description: "The zones the served model knows, with names and boroughs.",
			Responses:   []Response{JSONReply(200, "Zones", ZonesResponse{}), ProblemReply(503, "No model loaded")},
		}},
		{Method: "GET", Path: "/ui/{file}", Label: "/ui", Handler: s.api(s.handleUIAsset()),
			Unlisted: "the call-centre page's scripts, styles and icon"},
		{Method: "POST", Path: PathPredict, Handler: s.api(s.handlePredict()), Op: &Operation{
			ID: "predict", Summary: "Estimate one trip", Tags: []string{"estimates"},
			Description: "Estimates the duration of one trip in minutes, with the range in which about eight trips in ten fall.",
			Params:      []Param{versionParam},
			Body:        &Content{Type: "application/json", Of: TripRequest{}},
			Responses:   append([]Response{JSONReply(200, "The estimate", PredictionResponse{})}, predictErrors...),
		}},
		{Method: "POST", Path: PathPredictBatch, Handler: s.api(s.handlePredictBatch()), Op: &Operation{
			ID: "predictBatch", Summary: "Estimate many trips", Tags: []string{"estimates"},
			Description: fmt.Sprintf("Estimates up to %d trips in one request; answers in request order.", s.cfg.MaxBatch),
			Params:      []Param{versionParam},
			Body:        &Content{Type: "application/json", Of: []TripRequest{}, Schema: map[string]any{"minItems": 1, "maxItems": s.cfg.MaxBatch}},
			Responses:   append([]Response{JSONReply(200, "The estimates, in request order", BatchResponse{})}, predictErrors...),
		}},
		{Method: "GET", Path: "/models", Handler: s.api(s.handleModels()), Op: &Operation{
			ID: "models", Summary: "Model versions", Tags: []string{"models"},
			Description: "The model versions available, which are loaded, and the default.",
			Responses:   []Response{JSONReply(200, "Models", ModelsResponse{}), ProblemReply(503, "Registry unavailable")},
		}},
		{Method: "POST", Path: "/admin/reload", Handler: s.api(s.requireAdmin(s.handleReload())), Op: &Operation{
			ID: "reload", Summary: "Re-resolve the served model reference now", Tags: []string{"models"},
			Description: "Loads and checks the version the served reference (e.g. an alias) now points to, then swaps atomically. Needs the admin bearer token; off when none is configured.",
			Responses: []Response{
				JSONReply(200, "The model now served", ReloadResponse{}),
				ProblemReply(401, "Missing or wrong token"),
				ProblemReply(404, "Admin routes are off"),
				ProblemReply(409, "Nothing to reload"),
				ProblemReply(502, "The new version was refused; the old one keeps serving"),
			},
		}},
		{Method: "GET", Path: PathOpenAPI, Handler: s.api(s.handleOpenAPI()), Op: &Operation{
			ID: "openapi", Summary: "This OpenAPI document", Tags: []string{"docs"},
			Responses: []Response{{Status: 200, Description: "The OpenAPI 3.1 document", Content: []Content{{Type: "application/json", Of: map[string]any{}}}}},
		}},
		{Method: "GET", Path: PathDocs, Handler: s.api(s.handleDocs()), Op: &Operation{
			ID: "docs", Summary: "Interactive API docs", Tags: []string{"docs"},
			Description: "Swagger UI over this document, served from the binary.",
			Responses:   []Response{{Status: 200, Description: "Swagger UI", Content: []Content{{Type: "text/html", Of: ""}}}},
		}},
		{Method: "GET", Path: "/docs/assets/{file}", Label: "/docs/assets", Handler: s.api(s.handleDocsAsset()),
			Unlisted: "Swagger UI's scripts and styles"},
		{Method: "GET", Path: PathHealthz, Handler: s.api(s.handleHealthz()), Op: &Operation{
			ID: "healthz", Summary: "Liveness probe", Tags: []string{"operations"},
			Responses: []Response{JSONReply(200, "Alive", Health{})},
		}},
		{Method: "GET", Path: PathReadyz, Handler: s.api(s.handleReadyz()), Op: &Operation{
			ID: "readyz", Summary: "Readiness probe", Tags: []string{"operations"},
			Description: "200 when a model is loaded and the server is not draining.",
			Responses:   []Response{JSONReply(200, "Ready", Health{}), JSONReply(503, "Not ready", Health{})},
		}},
		{Method: "GET", Path: PathMetrics, Handler: s.metrics.handler(), Op: &Operation{
			ID: "metrics", Summary: "Prometheus metrics", Tags: []string{"operations"},
			Responses: []Response{{Status: 200, Description: "Metrics in the Prometheus text format", Content: []Content{{Type: "text/plain", Of: ""}}}},
		}},
		{Method: "GET", Path: PathMonitoring, Handler: s.api(s.handleMonitoring()), Op: &Operation{
			ID: "monitoring", Summary: "Drift of recent traffic from the model's training data", Tags: []string{"operations"},
			Description: "Per sliding window (the last hour and the last day) and feature (pickup and dropoff zone, passenger category, hour of week, estimate): " +
				"the drift score against the served model's drift profile (Jensen–Shannon divergence in bits; PSI for the estimate), the threshold and the flag. " +
				"A feature is flagged when its score is beyond both the no-drift threshold calibrated for the window's trip count (99th percentile of bootstrap windows drawn from the training data) and the minimum effect size. " +
				"A window with too few trips reports computed false and no flag. enabled is false, with a reason, for a model trained without a drift profile.",
			Responses: []Response{JSONReply(200, "The drift of each window", live.Snapshot{})},
		}},
		{Method: "GET", Path: PathMonitoringDistributions, Handler: s.api(s.handleMonitoringDistributions()), Op: &Operation{
			ID: "monitoringDistributions", Summary: "Training data against recent traffic, bin by bin", Tags: []string{"operations"},
			Description: "The counts the drift scores of GET /monitoring compare, for charts: per feature the drift profile's reference counts (training trips; validation estimates), " +
				"and per sliding window the counts of the trips predicted. Bins: zones 0..265 (0 an invalid id), passenger counts 0..9 then unknown, " +
				"hours of week 0..167 (Monday 00:00 first) then no pickup time, estimate quantile bins (upper edges in minutes) then not finite. " +
				"enabled is false, with a reason, for a model trained without a drift profile.",
			Responses: []Response{JSONReply(200, "Reference and window counts", live.Distributions{})},
		}},
		{Method: "GET", Path: PathMonitoringPage, Handler: s.api(s.handleMonitoringPage()), Op: &Operation{
			ID: "monitoringPage", Summary: "Monitoring page", Tags: []string{"operations"},
			Description: "An HTML page for people: drift scores against their thresholds per feature and window, scores over time (kept by the page while it is open), " +
				"and charts of the training data against recent traffic (zones by borough, hour of week, estimates). Served from the binary; needs no internet.",
			Responses: []Response{{Status: 200, Description: "Monitoring page", Content: []Content{{Type: "text/html", Of: ""}}}},
		}},
		{Path: "/", Label: "other", Handler: s.api(s.handleNotFound()),
			Unlisted: "the catch-all: 404 for unknown paths, 405 with Allow for known paths asked with another method"},
	}
}

// handleMonitoring answers the drift monitor's snapshot.
func (s *Server) handleMonitoring() apiFunc {
	return func(http.ResponseWriter, *http.Request) (any, error) {
		if s.cfg.Monitor == nil {
			return live.Snapshot{Reason: monitorOff, Windows: []live.WindowSnapshot{}}, nil
		}
		return s.cfg.Monitor.Snapshot(), nil
	}
}

// handleMonitoringDistributions answers the reference's and the windows' counts.
func (s *Server) handleMonitoringDistributions() apiFunc {
	return func(w http.ResponseWriter, _ *http.Request) (any, error) {
		w.Header().Set("Cache-Control", "no-store")
		if s.cfg.Monitor == nil {
			return live.Distributions{Reason: monitorOff, Reference: []live.FeatureCounts{}, Windows: []live.WindowCounts{}}, nil
		}
		return s.cfg.Monitor.Distributions(), nil
	}
}

// monitorOff is why monitoring is off when the process runs no monitor.
const monitorOff = "drift monitoring is not running in this process"

// handleNotFound answers every path no route matches, and wrong methods on known paths.
func (s *Server) handleNotFound() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		if methods := s.allowedMethods(r); methods != nil {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			return nil, apierr.New(apierr.MethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(methods, " or "))
		}
		return nil, apierr.New(apierr.NotFound, "no such route; see /docs")
	}
}
