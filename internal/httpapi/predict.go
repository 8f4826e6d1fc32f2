package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// batchBuffers are reused between batch requests.
type batchBuffers struct {
	trips []trip.Trip
	preds []trip.Prediction
}

func (s *Server) handlePredict() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := s.getBuf()
		defer s.putBuf(buf)
		body, ok := s.readJSONBody(w, r, buf, maxSingleBody)
		if !ok {
			return
		}
		m, ok := s.modelFor(w, r)
		if !ok {
			return
		}
		t, errs, err := decodeTrip(body, s.ny)
		if err != nil {
			s.problem(w, r, http.StatusBadRequest, err.Error(), nil)
			return
		}
		if len(errs) > 0 {
			s.problem(w, r, http.StatusUnprocessableEntity, validationDetail(errs), errs)
			return
		}
		p := s.svc.Predict(serving.Call{Protocol: serving.REST, ID: requestID(w)}, m, t)
		out := appendPrediction(body[len(body):], p, m)
		w.Header()["Content-Type"] = jsonContentType
		_, _ = w.Write(out)
		*buf = out[:0]
	})
}

func (s *Server) handlePredictBatch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := s.getBuf()
		defer s.putBuf(buf)
		body, ok := s.readJSONBody(w, r, buf, s.cfg.MaxBodyBytes)
		if !ok {
			return
		}
		m, ok := s.modelFor(w, r)
		if !ok {
			return
		}
		bb := s.batches.Get().(*batchBuffers)
		defer s.batches.Put(bb)
		trips, errs, err := decodeTrips(body, s.cfg.MaxBatch, s.ny, bb.trips)
		bb.trips = trips[:0]
		if err != nil {
			s.problem(w, r, http.StatusBadRequest, err.Error(), nil)
			return
		}
		if len(errs) > 0 {
			if len(errs) > 100 {
				errs = errs[:100]
			}
			s.problem(w, r, http.StatusUnprocessableEntity, validationDetail(errs), errs)
			return
		}
		if cap(bb.preds) < len(trips) {
			bb.preds = make([]trip.Prediction, len(trips))
		}
		preds := bb.preds[:len(trips)]
		s.svc.PredictBatch(serving.Call{Protocol: serving.REST, ID: requestID(w)}, m, trips, preds)
		out := appendBatch(body[len(body):], preds, m)
		w.Header()["Content-Type"] = jsonContentType
		_, _ = w.Write(out)
		*buf = out[:0]
	})
}

// modelFor picks the model a request asks for (?model_version=), else the default.
func (s *Server) modelFor(w http.ResponseWriter, r *http.Request) (*serving.ModelVersion, bool) {
	v := ""
	if r.URL.RawQuery != "" {
		v = r.URL.Query().Get("model_version")
	}
	m, err := s.svc.Model(r.Context(), v)
	if errors.Is(err, serving.ErrNoModel) {
		s.problem(w, r, http.StatusServiceUnavailable, "no model is loaded yet", nil)
		return nil, false
	}
	if err != nil {
		if errors.Is(err, serving.ErrUnknownVersion) {
			s.problem(w, r, http.StatusNotFound, fmt.Sprintf("model version %q does not exist; GET /models lists the versions", v), nil)
			return nil, false
		}
		s.log.ErrorContext(r.Context(), "load model version", "version", v, "err", err, "request_id", requestID(w))
		s.problem(w, r, http.StatusServiceUnavailable, fmt.Sprintf("model version %q cannot be loaded now: %v", v, err), nil)
		return nil, false
	}
	return m, true
}

// readJSONBody checks the content type and reads the body into buf, up to
// limit bytes, writing the problem response itself when it fails.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request, buf *[]byte, limit int64) ([]byte, bool) {
	if !isJSON(r.Header.Get("Content-Type")) {
		s.problem(w, r, http.StatusUnsupportedMediaType, "send the body as application/json", nil)
		return nil, false
	}
	if r.ContentLength > limit {
		s.problem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes is over the limit of %d", r.ContentLength, limit), nil)
		return nil, false
	}
	b := *buf
	if want := int(r.ContentLength) + 1; r.ContentLength >= 0 && cap(b) < want {
		b = make([]byte, 0, want)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			*buf = b[:0]
			s.problem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over the limit of %d bytes", limit), nil)
			return nil, false
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*buf = b[:0]
			s.problem(w, r, http.StatusBadRequest, "reading the body failed: "+err.Error(), nil)
			return nil, false
		}
	}
	*buf = b
	return b, true
}

// isJSON accepts application/json and application/*+json, with parameters.
func isJSON(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// requestID is the id the middleware gave the request, from its response header.
func requestID(w http.ResponseWriter) string {
	if id := w.Header()["X-Request-Id"]; len(id) > 0 {
		return id[0]
	}
	return ""
}
