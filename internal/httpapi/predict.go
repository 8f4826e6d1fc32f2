package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/httpbody"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// batchBuffers are reused between batch requests.
type batchBuffers struct {
	trips []trip.Trip
	preds []trip.Prediction
}

func (s *Server) handlePredict() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		buf := s.getBuf()
		defer s.putBuf(buf)
		body, err := s.readJSONBody(r, buf, maxSingleBody)
		if err != nil {
			return nil, err
		}
		m, err := s.modelFor(w, r)
		if err != nil {
			return nil, err
		}
		t, errs, err := decodeTrip(body, s.ny)
		if err != nil {
			return nil, err
		}
		if len(errs) > 0 {
			return nil, invalid(errs)
		}
		p := s.svc.Predict(serving.Call{Protocol: serving.REST, ID: requestID(w)}, m, t)
		out := appendPrediction(body[len(body):], p, m)
		w.Header()["Content-Type"] = jsonContentType
		_, _ = w.Write(out)
		*buf = keepBuffer(body, out)
		return nil, nil
	}
}

func (s *Server) handlePredictBatch() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		buf := s.getBuf()
		defer s.putBuf(buf)
		body, err := s.readJSONBody(r, buf, s.cfg.MaxBodyBytes)
		if err != nil {
			return nil, err
		}
		m, err := s.modelFor(w, r)
		if err != nil {
			return nil, err
		}
		bb := s.batches.Get().(*batchBuffers)
		defer s.batches.Put(bb)
		trips, errs, err := decodeTrips(body, s.cfg.MaxBatch, s.ny, bb.trips)
		bb.trips = trips[:0]
		if err != nil {
			return nil, err
		}
		if len(errs) > 0 {
			if len(errs) > 100 {
				errs = errs[:100]
			}
			return nil, invalid(errs)
		}
		if cap(bb.preds) < len(trips) {
			bb.preds = make([]trip.Prediction, len(trips))
		}
		preds := bb.preds[:len(trips)]
		s.svc.PredictBatch(serving.Call{Protocol: serving.REST, ID: requestID(w)}, m, trips, preds)
		out := appendBatch(body[len(body):], preds, m)
		w.Header()["Content-Type"] = jsonContentType
		_, _ = w.Write(out)
		*buf = keepBuffer(body, out)
		return nil, nil
	}
}

// keepBuffer is the buffer to pool after an answer out was written after
// the body in body's array: that array from its start, so that the next
// request has all of it, or out's own when the answer outgrew it. (Pooling
// out[:0] instead moved the buffer's start on by each request's body and
// answer, until every 30th request or so allocated a new one.)
func keepBuffer(body, out []byte) []byte {
	if cap(out) > 0 && cap(body) > 0 && &out[:cap(out)][cap(out)-1] == &body[:cap(body)][cap(body)-1] {
		return body[:0]
	}
	return out[:0]
}

// modelFor picks the model a request asks for (?model_version=), else the
// default. The error's kind is the serving error's (see ErrorKind).
func (s *Server) modelFor(w http.ResponseWriter, r *http.Request) (*serving.ModelVersion, error) {
	v := ""
	if r.URL.RawQuery != "" {
		v = r.URL.Query().Get("model_version")
	}
	m, err := s.svc.Model(r.Context(), v)
	switch {
	case err == nil:
		return m, nil
	case v == "": // serving.ErrNoModel, in its own words
		return nil, err
	case errors.Is(err, serving.ErrUnknownVersion):
		return nil, apierr.Explain(err, fmt.Sprintf("model version %q does not exist; GET /models lists the versions", v))
	}
	s.log.ErrorContext(r.Context(), "load model version", "version", v, "err", err, "request_id", requestID(w))
	// Whatever the cause, the version cannot be had now.
	return nil, apierr.Wrap(apierr.Unavailable, err, fmt.Sprintf("model version %q cannot be loaded now: %v", v, err))
}

// readJSONBody checks the content type and reads the body into buf, up to
// limit bytes.
func (s *Server) readJSONBody(r *http.Request, buf *[]byte, limit int64) ([]byte, error) {
	if !isJSON(r.Header.Get("Content-Type")) {
		return nil, apierr.New(apierr.UnsupportedMediaType, "send the body as application/json")
	}
	b, err := httpbody.Read(r, *buf, limit)
	*buf = b[:0]
	if err != nil {
		return nil, err
	}
	return b, nil
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
