package httpapi

import (
	"embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/taxieta/taxieta/internal/serving"
)

//go:embed templates/*.html
var templateFS embed.FS

// info gathers what the home page and /info tell.
func (s *Server) info() InfoResponse {
	resp := InfoResponse{Title: s.cfg.Title, Description: s.cfg.Description, Version: s.cfg.Version, Docs: PathDocs, OpenAPI: PathOpenAPI}
	if m := s.svc.Current(); m != nil {
		resp.Model = modelInfo(m)
	}
	return resp
}

func modelInfo(m *serving.ModelVersion) *ModelInfo {
	a := m.Artifact
	mi := &ModelInfo{
		Name: m.Name, Version: m.Version, Kind: a.Kind, Source: m.Source, SHA256: a.Checksum,
		CreatedAt: a.CreatedAt, Trainer: a.Trainer, Inputs: a.Inputs,
		TrainingData: a.Training.Sources, TrainingRows: a.Training.Stats.Kept,
	}
	if a.Validation != nil {
		mi.Validation = a.Validation.Sources
	}
	if v := a.Metrics.Valid; v != nil {
		mi.Valid = &MetricsSummary{Rows: v.Rows, RMSE: v.RMSE, MAE: v.MAE, R2: v.R2, IntervalCoverage: v.IntervalCoverage, RMSEWithTime: v.RMSEWithTime}
	}
	return mi
}

// wantsJSON reports whether the client prefers JSON to HTML.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return false
	}
	j := strings.Index(accept, "application/json")
	h := strings.Index(accept, "text/html")
	return j >= 0 && (h < 0 || j < h)
}

func (s *Server) handleHome() apiFunc {
	tmpl := template.Must(template.New("home.html").Funcs(template.FuncMap{
		"pct":   func(v float64) float64 { return 100 * v },
		"deref": func(p *float64) float64 { return *p },
	}).ParseFS(templateFS, "templates/home.html"))
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		info := s.info()
		w.Header().Set("Vary", "Accept")
		if wantsJSON(r) {
			return info, nil
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := tmpl.Execute(w, info); err != nil {
			s.log.ErrorContext(r.Context(), "render home page", "err", err)
		}
		return nil, nil
	}
}

func (s *Server) handleInfo() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		return s.info(), nil
	}
}

func (s *Server) handleZones() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		m := s.svc.Current()
		if m == nil {
			return nil, serving.ErrNoModel
		}
		resp := ZonesResponse{Zones: make([]Zone, 0, len(m.Artifact.Zones))}
		for _, z := range m.Artifact.Zones {
			if z.ID != 0 {
				resp.Zones = append(resp.Zones, Zone{ID: z.ID, Name: z.Name, Borough: z.Borough, ServiceZone: z.ServiceZone})
			}
		}
		w.Header().Set("Cache-Control", "max-age=300")
		return resp, nil
	}
}
