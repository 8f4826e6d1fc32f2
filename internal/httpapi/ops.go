package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/serving"
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

func (s *Server) handleHealthz() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		w.Header()["Cache-Control"] = noStore
		return Health{Status: "ok"}, nil
	}
}

// handleReadyz answers Health in both cases, not a problem, because probes
// and load balancers read the status and people read the reason.
func (s *Server) handleReadyz() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		w.Header()["Cache-Control"] = noStore
		switch {
		case s.draining.Load():
			s.writeJSON(w, http.StatusServiceUnavailable, Health{Status: "draining"})
		case s.svc.Current() == nil:
			s.writeJSON(w, http.StatusServiceUnavailable, Health{Status: "no model loaded"})
		default:
			return Health{Status: "ok"}, nil
		}
		return nil, nil
	}
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

func (s *Server) handleModels() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		list, err := s.svc.List(r.Context())
		if err != nil {
			// Whatever the registry said, the list cannot be had now.
			return nil, apierr.Wrap(apierr.Unavailable, err, "listing models failed: "+err.Error())
		}
		var resp ModelsResponse
		if m := s.svc.Current(); m != nil {
			resp.Default = &ModelRef{Name: m.Name, Version: m.Version}
		}
		resp.Models = make([]ModelListing, len(list))
		for i, in := range list {
			resp.Models[i] = ModelListing(in)
		}
		return resp, nil
	}
}

// requireAdmin lets through requests bearing the admin token; without a
// configured token the admin routes do not exist.
func (s *Server) requireAdmin(next apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		if s.cfg.AdminToken == "" {
			return nil, apierr.New(apierr.NotFound, "admin routes are off: no admin token is configured (TAXIETA_ADMIN_TOKEN)")
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="taxieta admin"`)
			return nil, apierr.New(apierr.Unauthorized, "a valid admin bearer token is required")
		}
		return next(w, r)
	}
}

// ReloadResponse says which model serves after a reload.
type ReloadResponse struct {
	Model   ModelRef `json:"model"`
	Changed bool     `json:"changed"`
}

func (s *Server) handleReload() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		before := s.svc.Current()
		m, err := s.svc.Reload(r.Context())
		if errors.Is(err, serving.ErrNotFollowing) {
			return nil, apierr.Explain(err, "the served model is not a registry reference; there is nothing to reload")
		}
		if err != nil {
			// Whatever went wrong, the new version was refused.
			return nil, apierr.Wrap(apierr.Upstream, err, "reload refused, the current model keeps serving: "+err.Error())
		}
		return ReloadResponse{Model: ModelRef{Name: m.Name, Version: m.Version}, Changed: before != m}, nil
	}
}
