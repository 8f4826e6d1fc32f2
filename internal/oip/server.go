// Package oip speaks the Open Inference Protocol v2 (KServe's and
// Triton's "v2" protocol) over HTTP: health, server and model metadata,
// readiness and inference, with the binary tensor data extension, so that
// tritonclient, the KServe SDK and any v2 client call taxieta unchanged.
// It predicts through the prediction seam (internal/serving) only.
package oip

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/httpbody"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// Options tune a Server: the limits every protocol binding shares.
type Options = serving.ProtocolOptions

// Server answers the Open Inference Protocol v2 over a prediction seam.
type Server struct {
	svc      *serving.Service
	opts     Options
	bufs     sync.Pool // *buffers
	draining atomic.Bool

	drainOnce, endOnce sync.Once
	drained            chan struct{} // closed by Drain
	ended              chan struct{} // closed by EndWatches
}

// Drain turns readiness false (REST /v2/health/ready, gRPC ServerReady and
// the gRPC health service, whose Watch streams are told NOT_SERVING at
// once) for the rest of the server's life, so that load balancers and
// gRPC clients stop sending requests before the listeners close.
func (s *Server) Drain() {
	s.drainOnce.Do(func() {
		s.draining.Store(true)
		close(s.drained)
	})
}

// EndWatches ends the gRPC health service's Watch streams (with
// UNAVAILABLE, on which a client watches again elsewhere). A Watch stream
// lasts as long as its client wants, so without this a graceful stop of the
// gRPC server would wait for them until the grace period ran out. Call it
// after Drain and the drain delay, just before GracefulStop.
func (s *Server) EndWatches() { s.endOnce.Do(func() { close(s.ended) }) }

// ready says a model is loaded and the server is not draining.
func (s *Server) ready() bool { return !s.draining.Load() && s.svc.Current() != nil }

type buffers struct {
	body  []byte
	dec   decoder
	preds []trip.Prediction
	out   []byte
}

// New returns a Server predicting through svc.
func New(svc *serving.Service, opts Options) (*Server, error) {
	if svc == nil {
		return nil, errors.New("oip: no prediction service")
	}
	opts, err := opts.Check()
	if err != nil {
		return nil, fmt.Errorf("oip: %w", err)
	}
	s := &Server{svc: svc, opts: opts, drained: make(chan struct{}), ended: make(chan struct{})}
	s.bufs.New = func() any { return &buffers{} }
	return s, nil
}

// Extensions are the protocol extensions GET /v2 lists.
var extensions = []string{"binary_tensor_data"}

// status maps an error to the HTTP status the protocol answers: 400 for
// every fault of the request but a missing model (404) or size (413).
func status(err error) int {
	switch k := apierr.KindOf(err); k {
	case apierr.Malformed, apierr.Invalid:
		return http.StatusBadRequest
	case apierr.Unknown:
		return http.StatusInternalServerError
	default:
		return k.HTTPStatus()
	}
}

// writeError answers {"error": "..."}.
func writeError(w http.ResponseWriter, err error) {
	b := append([]byte(`{"error":`), tripjson.AppendString(nil, apierr.Message(err))...)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status(err))
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, apierr.Wrap(apierr.Internal, err, "encoding the answer failed"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// Live is GET /v2/health/live: the server is up.
func (s *Server) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
}

// Ready is GET /v2/health/ready: 200 once a model is loaded, else 503.
func (s *Server) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
}

// Metadata is GET /v2: the server's name, version and extensions.
func (s *Server) Metadata() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, ServerMetadata{Name: "taxieta", Version: s.opts.Version, Extensions: extensions})
	})
}

// model resolves the request's model name and version (the path's
// {version}, else ?model_version=, else the current one).
func (s *Server) model(r *http.Request) (*serving.ModelVersion, error) {
	v := r.PathValue("version")
	if v == "" {
		v = r.URL.Query().Get("model_version")
	}
	return s.resolve(r.Context(), r.PathValue("name"), v)
}

// resolve finds the model version a request names, for either binding:
// the current one when version is empty; errors are NotFound or
// Unavailable (no model loaded yet).
func (s *Server) resolve(ctx context.Context, name, version string) (*serving.ModelVersion, error) {
	mv, err := s.svc.Model(ctx, version)
	if err != nil {
		switch {
		case errors.Is(err, serving.ErrNoModel):
			err = apierr.Wrap(apierr.Unavailable, err, "no model is loaded yet")
		case apierr.KindOf(err) == apierr.Unknown:
			err = apierr.Wrap(apierr.NotFound, err, fmt.Sprintf("model version %q is not found: %v", version, err))
		}
		return nil, err
	}
	if name != mv.Name {
		return nil, &apierr.Error{Kind: apierr.NotFound, Field: "name", Msg: fmt.Sprintf("model %q is not found; this server serves %q", name, mv.Name)}
	}
	return mv, nil
}

// modelMetadata describes mv's tensors, for both bindings.
func modelMetadata(mv *serving.ModelVersion) ModelMetadata {
	md := ModelMetadata{Name: mv.Name, Versions: []string{mv.Version}, Platform: "taxieta",
		Inputs: []TensorMetadata{
			{Name: inPU, Datatype: typeInt64, Shape: []int64{-1}},
			{Name: inDO, Datatype: typeInt64, Shape: []int64{-1}},
			{Name: inPax, Datatype: typeInt64, Shape: []int64{-1}},
			{Name: inPickup, Datatype: typeBytes, Shape: []int64{-1}},
		}}
	for _, n := range outputNames {
		md.Outputs = append(md.Outputs, TensorMetadata{Name: n, Datatype: typeFP64, Shape: []int64{-1}})
	}
	return md
}

// ModelMetadata is GET /v2/models/{name}[/versions/{version}].
func (s *Server) ModelMetadata() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mv, err := s.model(r)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, modelMetadata(mv))
	})
}

// ModelReady is GET /v2/models/{name}[/versions/{version}]/ready.
func (s *Server) ModelReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.model(r); err != nil {
			writeError(w, err)
		}
	})
}

// Infer is POST /v2/models/{name}[/versions/{version}]/infer.
func (s *Server) Infer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mv, err := s.model(r)
		if err != nil {
			writeError(w, err)
			return
		}
		b := s.bufs.Get().(*buffers)
		defer s.put(b)
		body, err := httpbody.Read(r, b.body, s.opts.MaxBodyBytes)
		b.body = body[:0]
		if err != nil {
			writeError(w, err)
			return
		}
		header := len(body)
		if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
			n, perr := strconv.Atoi(h)
			if perr != nil {
				writeError(w, &apierr.Error{Kind: apierr.Malformed, Field: "Inference-Header-Content-Length", Msg: "Inference-Header-Content-Length must be a number of bytes"})
				return
			}
			header = n
		}
		b.dec.ny, b.dec.maxRows = s.opts.Location, s.opts.MaxRows
		req, err := b.dec.decode(body, header)
		if err != nil {
			writeError(w, err)
			return
		}
		if cap(b.preds) < len(req.trips) {
			b.preds = make([]trip.Prediction, len(req.trips))
		}
		preds := b.preds[:len(req.trips)]
		s.svc.PredictBatch(serving.Call{Protocol: serving.OIPREST, ID: req.id}, mv, req.trips, preds)
		out, jsonLen := appendResponse(b.out[:0], mv, &req, preds)
		b.out = out
		h := w.Header()
		if jsonLen < len(out) {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Inference-Header-Content-Length", strconv.Itoa(jsonLen))
		} else {
			h.Set("Content-Type", "application/json")
		}
		h.Set("Taxieta-Model", mv.Name)
		h.Set("Taxieta-Model-Version", mv.Version)
		_, _ = w.Write(out)
	})
}

func (s *Server) put(b *buffers) {
	if cap(b.body) <= 1<<20 && cap(b.preds) <= 1<<16 {
		s.bufs.Put(b)
	}
}

// value returns output k of p.
func value(p trip.Prediction, k int) float32 {
	switch k {
	case 0:
		return p.Minutes
	case 1:
		return p.Low
	}
	return p.High
}

// appendResponse writes the JSON answer and then the binary part, and
// returns the JSON part's length. JSON numbers are the shortest decimals
// that read back as the model's float32 values, as POST /predict writes
// them; binary FP64 values are those float32 values widened.
func appendResponse(b []byte, mv *serving.ModelVersion, req *request, ps []trip.Prediction) ([]byte, int) {
	b = append(b, `{"model_name":`...)
	b = tripjson.AppendString(b, mv.Name)
	b = append(b, `,"model_version":`...)
	b = tripjson.AppendString(b, mv.Version)
	if req.id != "" {
		b = append(b, `,"id":`...)
		b = tripjson.AppendString(b, req.id)
	}
	b = append(b, `,"outputs":[`...)
	first := true
	n := strconv.Itoa(len(ps))
	for k, name := range outputNames {
		if !req.outputs[k] {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"name":"`...)
		b = append(b, name...)
		b = append(b, `","datatype":"FP64","shape":[`...)
		b = append(b, n...)
		b = append(b, ']')
		if req.binary[k] {
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(8*len(ps)), 10)
			b = append(b, "}}"...)
			continue
		}
		b = append(b, `,"data":[`...)
		for i, p := range ps {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, value(p, k))
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	jsonLen := len(b)
	for k := range outputNames {
		if req.outputs[k] && req.binary[k] {
			for _, p := range ps {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(value(p, k))))
			}
		}
	}
	return b, jsonLen
}

// appendFloat writes v exactly, null when not finite.
func appendFloat(b []byte, v float32) []byte {
	if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
}

// Route is one route of the protocol, for the server's route table.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// Routes lists the protocol's routes, as ServeMux patterns.
func (s *Server) Routes() []Route {
	rs := []Route{
		{"GET", "/v2/health/live", s.Live()},
		{"GET", "/v2/health/ready", s.Ready()},
		{"GET", "/v2", s.Metadata()},
	}
	for _, m := range []string{"/v2/models/{name}", "/v2/models/{name}/versions/{version}"} {
		rs = append(rs,
			Route{"GET", m, s.ModelMetadata()},
			Route{"GET", m + "/ready", s.ModelReady()},
			Route{"POST", m + "/infer", s.Infer()})
	}
	return rs
}
