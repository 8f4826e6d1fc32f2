package httpapi

import "net/http"

// handleUIAsset serves the call-centre page's scripts and styles from the binary.
func (s *Server) handleUIAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, "no such asset", nil)
	})
}
