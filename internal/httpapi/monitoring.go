package httpapi

import (
	"html/template"
	"net/http"

	"github.com/taxieta/taxieta/internal/drift/live"
)

// monitoringPageData is what the monitoring page's template shows before
// its script takes over: the title, and whether monitoring is on.
type monitoringPageData struct {
	Title    string
	Snapshot live.Snapshot
}

// handleMonitoringPage serves the monitoring page. The page says at once
// whether monitoring is on (so it says so without JavaScript too); its
// script (assets/ui/monitoring.js) then polls GET /monitoring and
// GET /monitoring/distributions and draws the charts as inline SVG. The
// scores over time are kept by the script, bounded, while the page is
// open: the server keeps no history.
func (s *Server) handleMonitoringPage() apiFunc {
	tmpl := template.Must(template.ParseFS(templateFS, "templates/monitoring.html"))
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		d := monitoringPageData{Title: s.cfg.Title}
		if s.cfg.Monitor == nil {
			d.Snapshot = live.Snapshot{Reason: monitorOff}
		} else {
			d.Snapshot = s.cfg.Monitor.Snapshot()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := tmpl.Execute(w, d); err != nil {
			s.log.ErrorContext(r.Context(), "render monitoring page", "err", err)
		}
		return nil, nil
	}
}
