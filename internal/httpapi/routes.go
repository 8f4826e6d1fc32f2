package httpapi

import "net/http"

// Paths of the API, for probes and manifests that must match them.
const (
	PathPredict      = "/predict"
	PathPredictBatch = "/predict/batch"
	PathHealthz      = "/healthz"
	PathReadyz       = "/readyz"
	PathMetrics      = "/metrics"
	PathOpenAPI      = "/openapi.json"
	PathDocs         = "/docs"
)

// routes is the whole API surface.
func (s *Server) routes() {
	s.handle("GET /{$}", "/", s.handleHome())
	s.handle("GET /info", "/info", s.handleInfo())
	s.handle("GET /zones", "/zones", s.handleZones())
	s.handle("GET /ui/{file}", "/ui", s.handleUIAsset())
	s.handle("POST "+PathPredict, PathPredict, s.handlePredict())
	s.handle("POST "+PathPredictBatch, PathPredictBatch, s.handlePredictBatch())
	s.handle("GET /models", "/models", s.handleModels())
	s.handle("POST /admin/reload", "/admin/reload", s.requireAdmin(s.handleReload()))
	s.handle("GET "+PathOpenAPI, PathOpenAPI, s.handleOpenAPI())
	s.handle("GET "+PathDocs, PathDocs, s.handleDocs())
	s.handle("GET /docs/assets/{file}", "/docs/assets", s.handleDocsAsset())
	s.handle("GET "+PathHealthz, PathHealthz, s.handleHealthz())
	s.handle("GET "+PathReadyz, PathReadyz, s.handleReadyz())
	s.handle("GET "+PathMetrics, PathMetrics, s.metrics.handler())
	s.handle("/", "other", s.handleNotFound())
}

// handle registers h for pattern, instrumented under the route label.
func (s *Server) handle(pattern, route string, h http.Handler) {
	s.mux.Handle(pattern, s.instrument(pattern, route, h))
}
