package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// apiFunc is a handler of the table. It returns the data to answer with
// as JSON (status 200), or the error to answer with as problem+json, or
// (nil, nil) when it wrote a successful answer itself (pre-encoded bytes,
// HTML, files). It may set headers on w; it writes nothing when it fails.
type apiFunc func(w http.ResponseWriter, r *http.Request) (any, error)

// api turns an apiFunc into a handler: the one place where a handler's
// result becomes a response, so that no handler writes an error status of
// its own.
func (s *Server) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := f(w, r)
		switch {
		case err != nil:
			s.fail(w, r, err)
		case data != nil:
			s.writeJSON(w, http.StatusOK, data)
		}
	})
}

// ErrorKind classifies any error in the vocabulary of internal/apierr: the
// kind an apierr.Error in its chain states, else that of the domain error
// it wraps. This is the one place where domain errors get their kind;
// other protocols' handlers (OIP, MLflow scoring) map the kind to their
// own codes with apierr's Kind.HTTPStatus and Kind.GRPCCode.
func ErrorKind(err error) apierr.Kind {
	if k := apierr.KindOf(err); k != apierr.Unknown {
		return k
	}
	var syntax *tripjson.SyntaxError
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return apierr.Unknown
	case errors.Is(err, serving.ErrNoModel):
		return apierr.Unavailable
	case errors.Is(err, serving.ErrUnknownVersion), errors.Is(err, registry.ErrNotFound):
		return apierr.NotFound
	case errors.Is(err, serving.ErrNotFollowing):
		return apierr.Conflict
	case errors.Is(err, registry.ErrUnavailable):
		return apierr.Unavailable
	case errors.Is(err, registry.ErrChecksum):
		return apierr.Upstream
	case errors.As(err, &syntax):
		return apierr.Malformed
	case errors.As(err, &tooLarge):
		return apierr.TooLarge
	}
	return apierr.Internal
}

// fieldErrors are the rules a request body broke, each naming its field;
// wrapped in an error of kind Invalid they become the problem's errors.
type fieldErrors []FieldError

func (fe fieldErrors) Error() string { return validationDetail(fe) }

// invalid is the error for a body that broke rules.
func invalid(errs []FieldError) error {
	return apierr.Wrap(apierr.Invalid, fieldErrors(errs), "")
}

// problemOf maps any error to its status and problem details: the one
// function that decides how a failed request is answered.
func (s *Server) problemOf(w http.ResponseWriter, r *http.Request, err error) Problem {
	kind := ErrorKind(err)
	status := kind.HTTPStatus()
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: apierr.Message(err), Instance: r.URL.Path}
	if p.Title == "" {
		p.Title = kind.String()
	}
	var ae *apierr.Error
	if kind == apierr.Internal && !errors.As(err, &ae) {
		// An error nobody explained is a fault of ours; its text is for
		// the log, not for the client.
		id := requestID(w)
		s.log.ErrorContext(r.Context(), "request failed", "err", err, "path", r.URL.Path, "request_id", id)
		p.Detail = "internal error; the request id is " + id
	}
	var fe fieldErrors
	if errors.As(err, &fe) {
		p.Errors = fe
	}
	return p
}

// fail answers a request with err as RFC 9457 problem details, unless the
// handler already wrote an answer, when it can only log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if sw, ok := w.(*statusWriter); ok && sw.code != 0 {
		s.log.ErrorContext(r.Context(), "handler failed after answering", "err", err, "status", sw.code, "request_id", requestID(w))
		return
	}
	p := s.problemOf(w, r, err)
	b, merr := json.Marshal(p)
	if merr != nil { // cannot happen for these types; keep the status anyway
		b = []byte(fmt.Sprintf(`{"type":"about:blank","status":%d}`, p.Status))
	}
	h := w.Header()
	h["Content-Type"] = problemContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(p.Status)
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
