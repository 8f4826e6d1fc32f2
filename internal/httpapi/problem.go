package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// problem writes an RFC 9457 problem details response.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, detail string, errs []FieldError) {
	p := Problem{
		Type:     "about:blank",
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: r.URL.Path,
		Errors:   errs,
	}
	b, err := json.Marshal(p)
	if err != nil { // cannot happen for these types; keep the status anyway
		b = []byte(fmt.Sprintf(`{"type":"about:blank","status":%d}`, status))
	}
	h := w.Header()
	h["Content-Type"] = problemContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// validationDetail summarises field errors in one sentence.
func validationDetail(errs []FieldError) string {
	if len(errs) == 1 {
		return errs[0].Location + ": " + errs[0].Message
	}
	return fmt.Sprintf("%d fields break the request's rules; see errors", len(errs))
}

// Header values shared read-only by every response.
var (
	jsonContentType    = []string{"application/json"}
	problemContentType = []string{"application/problem+json"}
	noStore            = []string{"no-store"}
)
