package oip

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/oip/oippb"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// grpcClient serves s over an in-memory connection and returns a real
// gRPC client connection to it.
func grpcClient(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	g := s.NewGRPCServer()
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGRPCMetadataAndHealth(t *testing.T) {
	s, _, mv := newServer(t, 100)
	cc := grpcClient(t, s)
	c := oippb.NewGRPCInferenceServiceClient(cc)
	ctx := ctxT(t)
	if r, err := c.ServerLive(ctx, &oippb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Fatalf("ServerLive = %v, %v", r, err)
	}
	if r, err := c.ServerReady(ctx, &oippb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Fatalf("ServerReady = %v, %v", r, err)
	}
	sm, err := c.ServerMetadata(ctx, &oippb.ServerMetadataRequest{})
	if err != nil || sm.Name != "taxieta" || sm.Version != "test" || len(sm.Extensions) != 1 {
		t.Fatalf("ServerMetadata = %v, %v", sm, err)
	}
	md, err := c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: mv.Name})
	if err != nil || md.Name != mv.Name || md.Versions[0] != "3" || len(md.Inputs) != 4 || len(md.Outputs) != 3 || md.Outputs[0].Datatype != "FP64" {
		t.Fatalf("ModelMetadata = %v, %v", md, err)
	}
	for _, tc := range []struct {
		name, version string
		code          codes.Code
	}{
		{mv.Name, "", codes.OK},
		{mv.Name, "3", codes.OK},
		{"other", "", codes.NotFound},
		{mv.Name, "99", codes.NotFound},
	} {
		_, err := c.ModelReady(ctx, &oippb.ModelReadyRequest{Name: tc.name, Version: tc.version})
		if got := grpcstatus.Code(err); got != tc.code {
			t.Errorf("ModelReady(%q, %q): code %v, want %v (%v)", tc.name, tc.version, got, tc.code, err)
		}
		_, err = c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: tc.name, Version: tc.version})
		if got := grpcstatus.Code(err); got != tc.code {
			t.Errorf("ModelMetadata(%q, %q): code %v, want %v (%v)", tc.name, tc.version, got, tc.code, err)
		}
	}
	h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Check = %v, %v", h, err)
	}
	st, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, svc := range resp.GetListServicesResponse().GetService() {
		found = found || svc.Name == "inference.GRPCInferenceService"
	}
	if !found {
		t.Errorf("reflection lists %v, not inference.GRPCInferenceService", resp.GetListServicesResponse().GetService())
	}
}

func le64(v []int64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

func rawString(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

type tensor = oippb.ModelInferRequest_InferInputTensor

func TestGRPCInfer(t *testing.T) {
	s, svc, mv := newServer(t, 100)
	c := oippb.NewGRPCInferenceServiceClient(grpcClient(t, s))
	ctx := ctxT(t)
	ny, _ := trip.NYC()
	pickup := "2024-03-05T08:30:00"
	tm, ok := trip.ParseTime([]byte(pickup), ny)
	if !ok {
		t.Fatal("pickup")
	}
	trips := []trip.Trip{
		{PULocationID: 74, DOLocationID: 236, Passengers: 1, Pickup: tm},
		{PULocationID: 132, DOLocationID: 48, Passengers: trip.NoPassengers},
	}
	want := make([]trip.Prediction, len(trips))
	svc.PredictBatch(serving.Call{}, mv, trips, want)
	pu, do, pax := []int64{74, 132}, []int64{236, 48}, []int64{1, -1}
	typed := func(name string, v []int64) *tensor {
		return &tensor{Name: name, Datatype: "INT64", Shape: []int64{2}, Contents: &oippb.InferTensorContents{Int64Contents: v}}
	}
	bare := func(name, dt string, shape ...int64) *tensor { return &tensor{Name: name, Datatype: dt, Shape: shape} }
	for _, tc := range []struct {
		name string
		req  *oippb.ModelInferRequest
	}{
		{"typed", &oippb.ModelInferRequest{ModelName: mv.Name, Id: "r1", Inputs: []*tensor{
			typed(inPU, pu), typed(inDO, do), typed(inPax, pax),
			{Name: inPickup, Datatype: "BYTES", Shape: []int64{2}, Contents: &oippb.InferTensorContents{BytesContents: [][]byte{[]byte(pickup), nil}}}}}},
		{"raw", &oippb.ModelInferRequest{ModelName: mv.Name, ModelVersion: "3", Id: "r1",
			Inputs:           []*tensor{bare(inPU, "INT64", 2), bare(inDO, "INT64", 2, 1), bare(inPax, "INT64", 2), bare(inPickup, "BYTES", 2)},
			RawInputContents: [][]byte{le64(pu), le64(do), le64(pax), rawString(pickup, "")}}},
		{"matrix", &oippb.ModelInferRequest{ModelName: mv.Name, Id: "r1",
			Inputs:           []*tensor{bare("trips", "INT64", 2, 3), bare(inPickup, "BYTES", 2)},
			RawInputContents: [][]byte{le64([]int64{74, 236, 1, 132, 48, -1}), rawString(pickup, "")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.ModelInfer(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if r.ModelName != mv.Name || r.ModelVersion != "3" || r.Id != "r1" || len(r.Outputs) != 3 || len(r.RawOutputContents) != 3 {
				t.Fatalf("answer %v", r)
			}
			for k, o := range r.Outputs {
				if o.Name != outputNames[k] || o.Datatype != "FP64" || len(o.Shape) != 1 || o.Shape[0] != 2 {
					t.Errorf("output %d: %v", k, o)
				}
				raw := r.RawOutputContents[k]
				if len(raw) != 16 {
					t.Fatalf("output %s: %d raw bytes", o.Name, len(raw))
				}
				for i := range want {
					got := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
					if w := float64(value(want[i], k)); got != w {
						t.Errorf("%s[%d] = %v, want %v", o.Name, i, got, w)
					}
				}
			}
		})
	}
	r, err := c.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: []*tensor{typed(inPU, pu), typed(inDO, do)},
		Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: outHigh}}})
	if err != nil || len(r.Outputs) != 1 || r.Outputs[0].Name != outHigh || len(r.RawOutputContents) != 1 {
		t.Fatalf("outputs [high_minutes]: %v, %v", r, err)
	}
	if n := svc.Predictions(mv, serving.OIPGRPC); n != 3*2+2 {
		t.Errorf("%d gRPC predictions counted, want 8", n)
	}
}

func TestGRPCInferErrors(t *testing.T) {
	s, _, mv := newServer(t, 5)
	c := oippb.NewGRPCInferenceServiceClient(grpcClient(t, s))
	ctx := ctxT(t)
	typed := func(name string, v ...int64) *tensor {
		return &tensor{Name: name, Datatype: "INT64", Shape: []int64{int64(len(v))}, Contents: &oippb.InferTensorContents{Int64Contents: v}}
	}
	req := func(ins ...*tensor) *oippb.ModelInferRequest {
		return &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: ins}
	}
	for _, tc := range []struct {
		name string
		req  *oippb.ModelInferRequest
		code codes.Code
	}{
		{"unknown model", &oippb.ModelInferRequest{ModelName: "x", Inputs: []*tensor{typed(inPU, 1), typed(inDO, 1)}}, codes.NotFound},
		{"unknown version", &oippb.ModelInferRequest{ModelName: mv.Name, ModelVersion: "7", Inputs: []*tensor{typed(inPU, 1), typed(inDO, 1)}}, codes.NotFound},
		{"missing tensor", req(typed(inPU, 1)), codes.InvalidArgument},
		{"zone 0", req(typed(inPU, 0), typed(inDO, 1)), codes.InvalidArgument},
		{"zone 266", req(typed(inPU, 1), typed(inDO, 266)), codes.InvalidArgument},
		{"passengers", req(typed(inPU, 1), typed(inDO, 1), typed(inPax, 12)), codes.InvalidArgument},
		{"wrong datatype", req(&tensor{Name: inPU, Datatype: "FP32", Shape: []int64{1}}, typed(inDO, 1)), codes.InvalidArgument},
		{"shape mismatch", req(&tensor{Name: inPU, Datatype: "INT64", Shape: []int64{2}, Contents: &oippb.InferTensorContents{Int64Contents: []int64{1}}}, typed(inDO, 1)), codes.InvalidArgument},
		{"rows differ", req(typed(inPU, 1, 2), typed(inDO, 1)), codes.InvalidArgument},
		{"bad shape", req(&tensor{Name: inPU, Datatype: "INT64", Shape: []int64{1, 2}}, typed(inDO, 1)), codes.InvalidArgument},
		{"over the batch limit", req(typed(inPU, 1, 1, 1, 1, 1, 1), typed(inDO, 1, 1, 1, 1, 1, 1)), codes.InvalidArgument},
		{"unknown input", req(typed(inPU, 1), typed(inDO, 1), typed("fare", 1)), codes.InvalidArgument},
		{"unknown output", &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: []*tensor{typed(inPU, 1), typed(inDO, 1)},
			Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: "fare"}}}, codes.InvalidArgument},
		{"raw count", &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: []*tensor{typed(inPU, 1), typed(inDO, 1)}, RawInputContents: [][]byte{le64([]int64{1})}}, codes.InvalidArgument},
		{"raw and typed", &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: []*tensor{typed(inPU, 1), typed(inDO, 1)}, RawInputContents: [][]byte{le64([]int64{1}), le64([]int64{1})}}, codes.InvalidArgument},
		{"raw short", &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: []*tensor{{Name: inPU, Datatype: "INT64", Shape: []int64{1}}, {Name: inDO, Datatype: "INT64", Shape: []int64{1}}},
			RawInputContents: [][]byte{le64([]int64{1}), {1, 2, 3}}}, codes.InvalidArgument},
		{"raw string cut", &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: []*tensor{{Name: inPU, Datatype: "INT64", Shape: []int64{1}}, {Name: inDO, Datatype: "INT64", Shape: []int64{1}}, {Name: inPickup, Datatype: "BYTES", Shape: []int64{1}}},
			RawInputContents: [][]byte{le64([]int64{1}), le64([]int64{1}), {9, 0, 0, 0, 'x'}}}, codes.InvalidArgument},
		{"bad pickup", req(typed(inPU, 1), typed(inDO, 1), &tensor{Name: inPickup, Datatype: "BYTES", Shape: []int64{1}, Contents: &oippb.InferTensorContents{BytesContents: [][]byte{[]byte("noon")}}}), codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ModelInfer(ctx, tc.req)
			st := grpcstatus.Convert(err)
			if st.Code() != tc.code || st.Message() == "" {
				t.Errorf("code %v (%q), want %v", st.Code(), st.Message(), tc.code)
			}
		})
	}
}

func TestGRPCNoModel(t *testing.T) {
	_, _, mv := newServer(t, 5)
	svc, err := serving.New(serving.NewStatic(nil), serving.Options{})
	if err != nil {
		t.Skipf("a service without a model cannot be built here: %v", err)
	}
	ny, _ := trip.NYC()
	s, err := New(svc, Options{Location: ny})
	if err != nil {
		t.Fatal(err)
	}
	cc := grpcClient(t, s)
	c := oippb.NewGRPCInferenceServiceClient(cc)
	ctx := ctxT(t)
	if r, err := c.ServerReady(ctx, &oippb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Fatalf("ServerReady = %v, %v", r, err)
	}
	if _, err := c.ModelReady(ctx, &oippb.ModelReadyRequest{Name: mv.Name}); grpcstatus.Code(err) != codes.Unavailable {
		t.Errorf("ModelReady: %v, want Unavailable", err)
	}
	h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "inference.GRPCInferenceService"})
	if err != nil || h.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health Check = %v, %v", h, err)
	}
}

// rawCodec sends []byte as they are, to put bytes that are not a valid
// message on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (rawCodec) Name() string                         { return "proto" }

func TestGRPCMalformedProtobuf(t *testing.T) {
	s, _, mv := newServer(t, 5)
	cc := grpcClient(t, s)
	ctx := ctxT(t)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"cut short", []byte{0x0a, 0x20, 'x'}},
		{"bad wire type", []byte{0x0f}},
		{"invalid UTF-8 string", []byte{0x0a, 0x01, 0xff}}, // name (field 1) = "\xff"
		{"bad varint", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	} {
		for _, method := range []string{"ModelInfer", "ModelMetadata", "ModelReady"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				var out []byte
				err := cc.Invoke(ctx, "/inference.GRPCInferenceService/"+method, tc.body, &out, grpc.ForceCodecV2(rawCodec{}))
				if st := grpcstatus.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "protobuf") {
					t.Errorf("code %v (%q), want InvalidArgument naming protobuf", st.Code(), st.Message())
				}
			})
		}
	}
	// A valid message still decodes through the same codec.
	if _, err := oippb.NewGRPCInferenceServiceClient(cc).ModelReady(ctx, &oippb.ModelReadyRequest{Name: mv.Name}); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeGRPC feeds arbitrary protobuf bytes to the gRPC decoder: a
// request that decodes must never be a server fault nor a panic, and only
// valid trips may pass.
func FuzzDecodeGRPC(f *testing.F) {
	for _, m := range []*oippb.ModelInferRequest{
		{Inputs: []*tensor{
			{Name: inPU, Datatype: "INT64", Shape: []int64{1}, Contents: &oippb.InferTensorContents{Int64Contents: []int64{74}}},
			{Name: inDO, Datatype: "INT64", Shape: []int64{1}, Contents: &oippb.InferTensorContents{Int64Contents: []int64{236}}}}},
		{Inputs: []*tensor{{Name: "t", Datatype: "INT64", Shape: []int64{1, 3}}, {Name: inPickup, Datatype: "BYTES", Shape: []int64{1}}},
			RawInputContents: [][]byte{le64([]int64{1, 2, 3}), rawString("2024-03-05T08:30:00")},
			Outputs:          []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: outLow}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ny, err := trip.NYC()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in oippb.ModelInferRequest
		if proto.Unmarshal(body, &in) != nil {
			return
		}
		d := decoder{ny: ny, maxRows: 1000}
		req, err := d.decodeGRPC(&in)
		if err != nil {
			if c := codes.Code(apierr.KindOf(err).GRPCCode()); c != codes.InvalidArgument {
				t.Fatalf("bad input answered %v: %v", c, err)
			}
			return
		}
		for _, tr := range req.trips {
			if !trip.ValidZone(int64(tr.PULocationID)) || !trip.ValidZone(int64(tr.DOLocationID)) {
				t.Fatalf("invalid trip accepted: %+v", tr)
			}
		}
	})
}

// BenchmarkGRPCInferOne is one trip per ModelInfer call over a real
// loopback TCP connection, from parallel callers on one client connection.
func BenchmarkGRPCInferOne(b *testing.B) {
	s, _, mv := newServer(b, 100)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := s.NewGRPCServer()
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	c := oippb.NewGRPCInferenceServiceClient(cc)
	req := &oippb.ModelInferRequest{ModelName: mv.Name, Inputs: []*tensor{
		{Name: inPU, Datatype: "INT64", Shape: []int64{1}, Contents: &oippb.InferTensorContents{Int64Contents: []int64{74}}},
		{Name: inDO, Datatype: "INT64", Shape: []int64{1}, Contents: &oippb.InferTensorContents{Int64Contents: []int64{236}}}}}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.ModelInfer(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// lateModels has no model until load is called, as a server whose model
// arrives after it starts listening.
type lateModels struct {
	cur atomic.Pointer[serving.ModelVersion]
}

func (m *lateModels) load(mv *serving.ModelVersion)  { m.cur.Store(mv) }
func (m *lateModels) Default() *serving.ModelVersion { return m.cur.Load() }
func (m *lateModels) Version(ctx context.Context, v string) (*serving.ModelVersion, error) {
	return serving.NewStatic(m.cur.Load()).Version(ctx, v)
}
func (m *lateModels) List(ctx context.Context) ([]serving.Info, error) {
	return serving.NewStatic(m.cur.Load()).List(ctx)
}

// TestGRPCHealthFollowsReadiness watches and checks the health service
// with grpc-go's health client while the server goes from no model to
// ready to draining to stopping: Watch must tell each change, as the REST
// readiness answers it, and end at EndWatches so that GracefulStop returns.
func TestGRPCHealthFollowsReadiness(t *testing.T) {
	_, _, mv := newServer(t, 5)
	models := &lateModels{}
	svc, err := serving.New(models, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ny, err := trip.NYC()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(svc, Options{Location: ny})
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	g := s.NewGRPCServer()
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	ctx := ctxT(t)
	hc := healthpb.NewHealthClient(cc)
	rest := mux(s)
	const (
		up           = healthpb.HealthCheckResponse_SERVING
		down         = healthpb.HealthCheckResponse_NOT_SERVING
		unknownSvc   = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		inferenceSvc = "inference.GRPCInferenceService"
	)
	watch := func(service string) healthpb.Health_WatchClient {
		w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	next := func(name string, w healthpb.Health_WatchClient, want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		r, err := w.Recv()
		if err != nil || r.Status != want {
			t.Fatalf("%s: Watch sent %v, %v; want %v", name, r, err, want)
		}
	}
	check := func(name string, want healthpb.HealthCheckResponse_ServingStatus, restStatus int) {
		t.Helper()
		for _, svcName := range []string{"", inferenceSvc} {
			r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svcName})
			if err != nil || r.Status != want {
				t.Errorf("%s: Check(%q) = %v, %v; want %v", name, svcName, r, err, want)
			}
		}
		l, err := hc.List(ctx, &healthpb.HealthListRequest{})
		if err != nil || len(l.Statuses) != 2 || l.Statuses[""].GetStatus() != want || l.Statuses[inferenceSvc].GetStatus() != want {
			t.Errorf("%s: List = %v, %v; want both %v", name, l, err, want)
		}
		if got := do(t, rest, "GET", "/v2/health/ready", nil, nil).Code; got != restStatus {
			t.Errorf("%s: REST /v2/health/ready = %d; want %d", name, got, restStatus)
		}
	}

	all, inference, unknown := watch(""), watch(inferenceSvc), watch("other")
	next("no model", all, down)
	next("no model", inference, down)
	next("unknown service", unknown, unknownSvc)
	check("no model", down, http.StatusServiceUnavailable)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "other"}); grpcstatus.Code(err) != codes.NotFound {
		t.Errorf("Check of an unknown service: %v; want NotFound", err)
	}

	models.load(mv)
	next("model loaded", all, up)
	next("model loaded", inference, up)
	check("model loaded", up, http.StatusOK)
	late := watch("")
	next("watch begun when ready", late, up)

	s.Drain()
	for _, w := range []healthpb.Health_WatchClient{all, inference, late} {
		next("draining", w, down)
	}
	check("draining", down, http.StatusServiceUnavailable)

	s.EndWatches()
	for _, w := range []healthpb.Health_WatchClient{all, inference, late, unknown} {
		if r, err := w.Recv(); grpcstatus.Code(err) != codes.Unavailable {
			t.Errorf("after EndWatches: Watch sent %v, %v; want the stream ended with Unavailable", r, err)
		}
	}
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("GracefulStop did not return after EndWatches")
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
