// Package mlflowserve speaks MLflow's scoring protocol, what `mlflow models
// serve` answers: POST /invocations with a JSON body in any of MLflow's
// layouts (dataframe_split, dataframe_records, instances, inputs, with
// optional params) or CSV, answered with {"predictions": [...]}; GET /ping
// and /health; GET /version. Teams that deploy models with MLflow call
// taxieta without a client change. It predicts through the prediction seam
// (internal/serving) and knows nothing of where models come from.
package mlflowserve

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/httpbody"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// Options tune a Server: the limits every protocol binding shares.
type Options = serving.ProtocolOptions

// Server answers MLflow's scoring protocol over a prediction seam.
type Server struct {
	svc  *serving.Service
	opts Options
	bufs sync.Pool // *buffers
}

// buffers are reused between requests.
type buffers struct {
	body  []byte
	dec   decoder
	preds []trip.Prediction
	out   []byte
}

// New returns a Server predicting through svc.
func New(svc *serving.Service, opts Options) (*Server, error) {
	if svc == nil {
		return nil, errors.New("mlflowserve: no prediction service")
	}
	opts, err := opts.Check()
	if err != nil {
		return nil, fmt.Errorf("mlflowserve: %w", err)
	}
	s := &Server{svc: svc, opts: opts}
	s.bufs.New = func() any { return &buffers{} }
	return s, nil
}

// Error codes of MLflow's error bodies.
const (
	codeBadRequest = "BAD_REQUEST"
	codeNoModel    = "RESOURCE_DOES_NOT_EXIST"
	codeInternal   = "INTERNAL_ERROR"
)

// writeError answers with MLflow's error body:
// {"error_code": "BAD_REQUEST", "message": "..."}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b := append([]byte(`{"error_code":`), strconv.Quote(code)...)
	b = append(b, `,"message":`...)
	b = tripjson.AppendString(b, msg)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Invocations is POST /invocations.
func (s *Server) Invocations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		csv, err := contentType(r.Header.Get("Content-Type"))
		if err != nil {
			writeError(w, http.StatusUnsupportedMediaType, codeBadRequest, err.Error())
			return
		}
		mv, err := s.svc.Model(r.Context(), "")
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, codeNoModel, "no model is loaded yet")
			return
		}
		b := s.bufs.Get().(*buffers)
		defer s.put(b)
		body, err := httpbody.Read(r, b.body, s.opts.MaxBodyBytes)
		b.body = body[:0]
		if err != nil {
			writeError(w, apierr.KindOf(err).HTTPStatus(), codeBadRequest, apierr.Message(err))
			return
		}
		b.dec = decoder{ny: s.opts.Location, maxRows: s.opts.MaxRows, trips: b.dec.trips[:0], problems: b.dec.problems[:0]}
		var trips []trip.Trip
		if csv {
			trips, err = b.dec.decodeCSV(body)
		} else {
			trips, err = b.dec.decodeJSON(body)
		}
		if err != nil {
			var br *badRequest
			if errors.As(err, &br) {
				writeError(w, http.StatusBadRequest, codeBadRequest, br.msg)
			} else {
				writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
			}
			return
		}
		if cap(b.preds) < len(trips) {
			b.preds = make([]trip.Prediction, len(trips))
		}
		preds := b.preds[:len(trips)]
		s.svc.PredictBatch(serving.Call{Protocol: serving.MLflow, ID: w.Header().Get("X-Request-Id")}, mv, trips, preds)
		b.out = appendPredictions(b.out[:0], preds)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Taxieta-Model", mv.Name)
		h.Set("Taxieta-Model-Version", mv.Version)
		_, _ = w.Write(b.out)
	})
}

func (s *Server) put(b *buffers) {
	if cap(b.body) <= 1<<20 && cap(b.preds) <= 1<<16 {
		s.bufs.Put(b)
	}
}

// mlflowMessage is an error worded exactly as MLflow's scoring server words
// it (capitalised sentences), so clients that match on the text keep working.
type mlflowMessage string

func (m mlflowMessage) Error() string { return string(m) }

// contentType accepts application/json and text/csv in UTF-8, as MLflow
// does, and reports whether the body is CSV.
func contentType(ct string) (csv bool, err error) {
	mt, params, perr := mime.ParseMediaType(ct)
	if perr != nil {
		return false, mlflowMessage(fmt.Sprintf("This predictor only supports the following content types: application/json, text/csv. Got %q", ct))
	}
	if cs, ok := params["charset"]; ok && cs != "utf-8" && cs != "UTF-8" {
		return false, mlflowMessage("The scoring server only supports UTF-8")
	}
	for k := range params {
		if k != "charset" {
			return false, mlflowMessage("Unrecognized content type parameters: " + k)
		}
	}
	switch mt {
	case "application/json":
		return false, nil
	case "text/csv":
		return true, nil
	}
	return false, mlflowMessage(fmt.Sprintf("This predictor only supports the following content types: application/json, text/csv. Got %q", ct))
}

// appendPredictions writes {"predictions": [...]}, a record per row with
// the estimate and its 10–90% range in minutes, as MLflow renders a
// DataFrame of the model's outputs (orient="records").
func appendPredictions(b []byte, ps []trip.Prediction) []byte {
	b = append(b, `{"predictions":[`...)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"duration_minutes":`...)
		b = appendMinutes(b, p.Minutes)
		b = append(b, `,"low_minutes":`...)
		b = appendMinutes(b, p.Low)
		b = append(b, `,"high_minutes":`...)
		b = appendMinutes(b, p.High)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendMinutes writes a float32 estimate exactly (the shortest decimal
// that reads back as the same float32), null when not finite.
func appendMinutes(b []byte, v float32) []byte {
	if v != v || v > 3.4e38 || v < -3.4e38 {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
}

// Ping is GET /ping and GET /health: 200 once a model is loaded, else 404,
// as MLflow's scoring server answers.
func (s *Server) Ping() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if s.svc.Current() == nil {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = io.WriteString(w, "\n")
	})
}

// VersionHandler is GET /version: the build's version, as MLflow answers
// with its own.
func (s *Server) VersionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, s.opts.Version)
	})
}

// Route is one route of the protocol, for the server's route table.
type Route struct {
	Method, Path string
	Handler      http.Handler
	// Summary says what the route does, for the API's documentation.
	Summary string
}

// Routes lists the protocol's routes.
func (s *Server) Routes() []Route {
	return []Route{
		{"POST", "/invocations", s.Invocations(), "Score trips in MLflow's scoring protocol (JSON dataframe_split, dataframe_records, instances, inputs; or CSV)"},
		{"GET", "/ping", s.Ping(), "MLflow's health check: 200 once a model is loaded"},
		{"GET", "/health", s.Ping(), "MLflow's health check, as /ping"},
		{"GET", "/version", s.VersionHandler(), "The taxieta build's version, as MLflow's scoring server answers /version"},
	}
}
