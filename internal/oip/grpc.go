package oip

import (
	"context"
	"encoding/binary"
	"math"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/oip/oippb"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// GRPC is the protocol's gRPC binding, inference.GRPCInferenceService,
// over the same prediction seam, decoding rules and errors as the REST
// binding.
type GRPC struct {
	oippb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

// GRPCService returns the gRPC binding of s.
func (s *Server) GRPCService() *GRPC { return &GRPC{s: s} }

// NewGRPCServer returns a gRPC server answering inference.GRPCInferenceService,
// the standard health service (grpc.health.v1.Health: SERVING for "" and the
// inference service while the server is ready; see Drain and EndWatches)
// and server reflection (so that
// grpcurl needs no proto file). Messages are bounded by MaxBodyBytes; one
// that is not valid protobuf is INVALID_ARGUMENT, not grpc-go's INTERNAL.
// Calls run on a pool of GOMAXPROCS stream workers (grpc-go starts a
// goroutine for a call when all are busy).
func (s *Server) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(s.opts.MaxBodyBytes)),
		grpc.ForceServerCodecV2(newStrictCodec()),
		grpc.ChainUnaryInterceptor(rejectMalformed),
		// A pool of stream workers instead of a goroutine per call, whose
		// stack grows anew each time: +21-25% one-trip ModelInfer calls/s
		// (medians of 5 alternating tools/grpcload rounds).
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	}, opts...)
	g := grpc.NewServer(opts...)
	oippb.RegisterGRPCInferenceServiceServer(g, s.GRPCService())
	healthpb.RegisterHealthServer(g, &grpcHealth{s: s, poll: healthPoll})
	reflection.Register(g)
	return g
}

// grpcHealth is the standard health service (grpc.health.v1.Health)
// following the server's readiness, as REST /v2/health/ready and /readyz
// do: SERVING for "" and the inference service while a model is loaded and
// the server is not draining, NOT_SERVING before and from Drain on. Check
// and List answer it; Watch streams every change of it.
type grpcHealth struct {
	healthpb.UnimplementedHealthServer
	s *Server
	// poll is how often Watch looks again for a model while none is
	// loaded (the seam has no notice of a first load; draining is told at
	// once).
	poll time.Duration
}

// healthPoll is grpcHealth.poll in production.
const healthPoll = 250 * time.Millisecond

// status is the health of service, ok false for a service this server
// does not know.
func (h *grpcHealth) status(service string) (st healthpb.HealthCheckResponse_ServingStatus, ok bool) {
	switch service {
	case "", oippb.GRPCInferenceService_ServiceDesc.ServiceName:
	default:
		return healthpb.HealthCheckResponse_SERVICE_UNKNOWN, false
	}
	if !h.s.ready() {
		return healthpb.HealthCheckResponse_NOT_SERVING, true
	}
	return healthpb.HealthCheckResponse_SERVING, true
}

// Check answers the service's health now; NOT_FOUND for an unknown service.
func (h *grpcHealth) Check(ctx context.Context, in *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st, ok := h.status(in.GetService())
	if !ok {
		return nil, grpcstatus.Errorf(codes.NotFound, "unknown service %q", in.GetService())
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

// List answers the health of every service the health service knows: ""
// and the inference service.
func (h *grpcHealth) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{}}
	for _, name := range []string{"", oippb.GRPCInferenceService_ServiceDesc.ServiceName} {
		st, _ := h.status(name)
		out.Statuses[name] = &healthpb.HealthCheckResponse{Status: st}
	}
	return out, nil
}

// Watch sends the service's health now and then at every change: the
// first load of a model, and Drain. An unknown service is SERVICE_UNKNOWN,
// as the health protocol says, and the stream stays open. The stream ends
// when the client leaves, or with UNAVAILABLE at EndWatches.
func (h *grpcHealth) Watch(in *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	tick := time.NewTicker(h.poll)
	defer tick.Stop()
	for {
		st, _ := h.status(in.GetService())
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err // the client has gone
			}
			last = st
		}
		// Drain is told at once; a first model only by looking again.
		// A loaded model is never unloaded, and an unknown service stays
		// unknown: only NOT_SERVING before Drain can change by itself.
		drained, poll := h.s.drained, (<-chan time.Time)(nil)
		if h.s.draining.Load() {
			drained = nil // told already; nothing changes any more
		} else if st == healthpb.HealthCheckResponse_NOT_SERVING {
			poll = tick.C
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-h.s.ended:
			return grpcstatus.Error(codes.Unavailable, "the server is shutting down")
		case <-drained:
		case <-poll:
		}
	}
}

// grpcError is err as a gRPC status, its code from the error's Kind.
func grpcError(err error) error {
	return grpcstatus.Error(codes.Code(apierr.KindOf(err).GRPCCode()), apierr.Message(err))
}

// ServerLive answers live while the server runs.
func (g *GRPC) ServerLive(context.Context, *oippb.ServerLiveRequest) (*oippb.ServerLiveResponse, error) {
	return &oippb.ServerLiveResponse{Live: true}, nil
}

// ServerReady answers ready once a model is loaded.
func (g *GRPC) ServerReady(context.Context, *oippb.ServerReadyRequest) (*oippb.ServerReadyResponse, error) {
	return &oippb.ServerReadyResponse{Ready: g.s.ready()}, nil
}

// ModelReady answers ready for a model and version the server serves;
// NotFound for any other, Unavailable before a model is loaded.
func (g *GRPC) ModelReady(ctx context.Context, in *oippb.ModelReadyRequest) (*oippb.ModelReadyResponse, error) {
	if _, err := g.s.resolve(ctx, in.GetName(), in.GetVersion()); err != nil {
		return nil, grpcError(err)
	}
	return &oippb.ModelReadyResponse{Ready: true}, nil
}

// ServerMetadata answers the server's name, version and extensions.
func (g *GRPC) ServerMetadata(context.Context, *oippb.ServerMetadataRequest) (*oippb.ServerMetadataResponse, error) {
	return &oippb.ServerMetadataResponse{Name: "taxieta", Version: g.s.opts.Version, Extensions: extensions}, nil
}

// ModelMetadata answers the model's input and output tensors.
func (g *GRPC) ModelMetadata(ctx context.Context, in *oippb.ModelMetadataRequest) (*oippb.ModelMetadataResponse, error) {
	mv, err := g.s.resolve(ctx, in.GetName(), in.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	md := modelMetadata(mv)
	tensors := func(ts []TensorMetadata) []*oippb.ModelMetadataResponse_TensorMetadata {
		out := make([]*oippb.ModelMetadataResponse_TensorMetadata, len(ts))
		for i, t := range ts {
			out[i] = &oippb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		}
		return out
	}
	return &oippb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform,
		Inputs: tensors(md.Inputs), Outputs: tensors(md.Outputs)}, nil
}

// ModelInfer predicts the request's trips, from typed contents or
// raw_input_contents, and answers FP64 outputs in raw_output_contents
// (tritonclient's as_numpy reads only those).
func (g *GRPC) ModelInfer(ctx context.Context, in *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	mv, err := g.s.resolve(ctx, in.GetModelName(), in.GetModelVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	b := g.s.bufs.Get().(*buffers)
	defer g.s.put(b)
	b.dec.ny, b.dec.maxRows = g.s.opts.Location, g.s.opts.MaxRows
	req, err := b.dec.decodeGRPC(in)
	if err != nil {
		return nil, grpcError(err)
	}
	if cap(b.preds) < len(req.trips) {
		b.preds = make([]trip.Prediction, len(req.trips))
	}
	preds := b.preds[:len(req.trips)]
	g.s.svc.PredictBatch(serving.Call{Protocol: serving.OIPGRPC, ID: req.id}, mv, req.trips, preds)
	out := &oippb.ModelInferResponse{ModelName: mv.Name, ModelVersion: mv.Version, Id: req.id}
	shape := []int64{int64(len(preds))}
	for k, name := range outputNames {
		if !req.outputs[k] {
			continue
		}
		out.Outputs = append(out.Outputs, &oippb.ModelInferResponse_InferOutputTensor{Name: name, Datatype: typeFP64, Shape: shape})
		raw := make([]byte, 0, 8*len(preds))
		for _, p := range preds {
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(float64(value(p, k))))
		}
		out.RawOutputContents = append(out.RawOutputContents, raw)
	}
	return out, nil
}

// decodeGRPC reads a gRPC inference request by the REST binding's rules:
// each input's data is its typed contents or, when the request has
// raw_input_contents, the entry of the same index (never both).
func (d *decoder) decodeGRPC(in *oippb.ModelInferRequest) (request, error) {
	var req request
	req.id = in.GetId()
	raws := in.GetRawInputContents()
	if len(raws) != 0 && len(raws) != len(in.GetInputs()) {
		return req, invalid("raw_input_contents", "raw_input_contents has %d entries for %d inputs; it must have one per input", len(raws), len(in.GetInputs()))
	}
	n := -1
	var pu, do, pax []int64
	var pickups []string
	d.ints = d.ints[:0]
	for i, t := range in.GetInputs() {
		name, shape, datatype := t.GetName(), t.GetShape(), t.GetDatatype()
		c := t.GetContents()
		var raw []byte
		if len(raws) != 0 {
			if c != nil && (len(c.Int64Contents) != 0 || len(c.BytesContents) != 0) {
				return req, invalid(name, "input %s has contents and raw_input_contents; send one", name)
			}
			raw = raws[i]
			if raw == nil {
				raw = []byte{}
			}
		}
		rows, cols, err := d.shape(name, shape, &n)
		if err != nil {
			return req, err
		}
		switch {
		case cols == 3 || name == inPU || name == inDO || name == inPax:
			if datatype != typeInt64 {
				if cols == 3 {
					return req, invalid(name, "input %s of shape [N,3] must be INT64 (PULocationID, DOLocationID, passenger_count), not %s", name, datatype)
				}
				return req, invalid(name, "input %s must be INT64, not %s", name, datatype)
			}
			v, err := d.grpcInt64s(name, shape, c, raw, rows*cols)
			if err != nil {
				return req, err
			}
			switch {
			case cols == 3:
				pu, do, pax = strided(v, 0), strided(v, 1), strided(v, 2)
			case name == inPU:
				pu = v
			case name == inDO:
				do = v
			default:
				pax = v
			}
		case name == inPickup:
			if datatype != typeBytes {
				return req, invalid(name, "input %s must be BYTES (ISO 8601 date-times), not %s", name, datatype)
			}
			var v []string
			if raw != nil {
				if v, err = stringsOf(name, shape, raw, nil, rows); err != nil {
					return req, err
				}
			} else {
				bs := c.GetBytesContents()
				if len(bs) != rows {
					return req, invalid(name, "input %s: %d elements where its shape %v holds %d", name, len(bs), shape, rows)
				}
				v = make([]string, len(bs))
				for j, e := range bs {
					v[j] = string(e)
				}
			}
			pickups = v
		default:
			return req, invalid(name, "unknown input %q: the model reads PULocationID, DOLocationID, passenger_count (INT64 [N]), pickup_datetime (BYTES [N]) or one INT64 [N,3] tensor", name)
		}
	}
	if pu == nil || do == nil {
		return req, invalid("inputs", "inputs PULocationID and DOLocationID (INT64 [N]), or one INT64 [N,3] tensor, are required")
	}
	if err := d.trips_(pu, do, pax, pickups); err != nil {
		return req, err
	}
	req.trips = d.trips
	if len(in.GetOutputs()) == 0 {
		req.outputs = [3]bool{true, true, true}
		return req, nil
	}
	for _, o := range in.GetOutputs() {
		k := outputIndex(o.GetName())
		if k < 0 {
			return req, invalid("outputs", "unknown output %q: the model answers duration_minutes, low_minutes and high_minutes", o.GetName())
		}
		req.outputs[k] = true
	}
	return req, nil
}

// grpcInt64s reads an INT64 input of n elements from raw bytes (when raw
// is not nil) or from its typed int64_contents.
func (d *decoder) grpcInt64s(name string, shape []int64, c *oippb.InferTensorContents, raw []byte, n int) ([]int64, error) {
	if raw != nil {
		return d.int64s(name, shape, raw, nil, n)
	}
	v := c.GetInt64Contents()
	if len(v) != n {
		return nil, invalid(name, "input %s: %d int64_contents where its shape %v holds %d", name, len(v), shape, n)
	}
	return v, nil
}
