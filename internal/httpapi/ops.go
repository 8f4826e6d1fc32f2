package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// writeJSON answers with v as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode response", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = noStore
		s.writeJSON(w, http.StatusOK, Health{Status: "ok"})
	})
}

func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = noStore
		switch {
		case s.draining.Load():
			s.writeJSON(w, http.StatusServiceUnavailable, Health{Status: "draining"})
		case s.svc.Current() == nil:
			s.writeJSON(w, http.StatusServiceUnavailable, Health{Status: "no model loaded"})
		default:
			s.writeJSON(w, http.StatusOK, Health{Status: "ok"})
		}
	})
}

// ModelsResponse lists the model versions available and loaded.
type ModelsResponse struct {
	Default *ModelRef      `json:"default,omitempty" doc:"The model requests get unless they ask for model_version"`
	Models  []ModelListing `json:"models"`
}

// ModelListing is one model version a server can answer with.
type ModelListing struct {
	Name    string   `json:"name" example:"taxi-duration"`
	Version string   `json:"version" example:"3"`
	Aliases []string `json:"aliases,omitempty" doc:"Registry aliases pointing at this version, e.g. champion"`
	Source  string   `json:"source,omitempty"`
	Loaded  bool     `json:"loaded" doc:"Whether the version is in memory"`
	Default bool     `json:"default" doc:"Whether requests without model_version get it"`
}

func (s *Server) handleModels() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := s.svc.List(r.Context())
		if err != nil {
			s.problem(w, r, http.StatusServiceUnavailable, "listing models failed: "+err.Error(), nil)
			return
		}
		var resp ModelsResponse
		if m := s.svc.Current(); m != nil {
			resp.Default = &ModelRef{Name: m.Name, Version: m.Version}
		}
		resp.Models = make([]ModelListing, len(list))
		for i, in := range list {
			resp.Models[i] = ModelListing(in)
		}
		s.writeJSON(w, http.StatusOK, resp)
	})
}

// requireAdmin lets through requests bearing the admin token; without a
// configured token the admin routes do not exist.
func (s *Server) requireAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" {
			s.problem(w, r, http.StatusNotFound, "admin routes are off: no admin token is configured (TAXIETA_ADMIN_TOKEN)", nil)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="taxieta admin"`)
			s.problem(w, r, http.StatusUnauthorized, "a valid admin bearer token is required", nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ReloadResponse says which model serves after a reload.
type ReloadResponse struct {
	Model   ModelRef `json:"model"`
	Changed bool     `json:"changed"`
}

func (s *Server) handleReload() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.svc.Follows() {
			s.problem(w, r, http.StatusConflict, "the served model is not a registry reference; there is nothing to reload", nil)
			return
		}
		before := s.svc.Current()
		m, err := s.svc.Reload(r.Context())
		if err != nil {
			s.problem(w, r, http.StatusBadGateway, "reload refused, the current model keeps serving: "+err.Error(), nil)
			return
		}
		s.writeJSON(w, http.StatusOK, ReloadResponse{Model: ModelRef{Name: m.Name, Version: m.Version}, Changed: before != m})
	})
}

// handleNotFound answers every path no route matches, and wrong methods on known paths.
func (s *Server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range knownPaths {
			if r.URL.Path == p.path {
				w.Header().Set("Allow", p.method)
				s.problem(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+p.path+"; use "+p.method, nil)
				return
			}
		}
		s.problem(w, r, http.StatusNotFound, "no such route; see /docs", nil)
	})
}

// knownPaths name each route's method, for 405 answers.
var knownPaths = [...]struct{ method, path string }{
	{"GET", "/"}, {"GET", "/info"}, {"GET", "/zones"}, {"POST", PathPredict}, {"POST", PathPredictBatch},
	{"GET", "/models"}, {"POST", "/admin/reload"}, {"GET", PathOpenAPI}, {"GET", PathDocs},
	{"GET", PathHealthz}, {"GET", PathReadyz}, {"GET", PathMetrics},
}
