package oip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

func newServer(t testing.TB, maxRows int) (*Server, *serving.Service, *serving.ModelVersion) {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	mv := &serving.ModelVersion{Artifact: a, Name: "taxi-duration", Version: "3", Source: "embedded"}
	svc, err := serving.New(serving.NewStatic(mv), serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ny, err := trip.NYC()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(svc, Options{MaxRows: maxRows, Version: "test", Location: ny})
	if err != nil {
		t.Fatal(err)
	}
	return s, svc, mv
}

func mux(s *Server) http.Handler {
	m := http.NewServeMux()
	for _, r := range s.Routes() {
		m.Handle(r.Method+" "+r.Path, r.Handler)
	}
	return m
}

func do(t *testing.T, h http.Handler, method, path string, hdr map[string]string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestMetadataAndHealth(t *testing.T) {
	s, _, _ := newServer(t, 100)
	h := mux(s)
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/v2/health/live", 200, ""},
		{"/v2/health/ready", 200, ""},
		{"/v2", 200, `"binary_tensor_data"`},
		{"/v2/models/taxi-duration", 200, `"PULocationID"`},
		{"/v2/models/taxi-duration/versions/3", 200, `"versions":["3"]`},
		{"/v2/models/taxi-duration/ready", 200, ""},
		{"/v2/models/taxi-duration/versions/3/ready", 200, ""},
		{"/v2/models/other/ready", 404, `"error"`},
		{"/v2/models/taxi-duration/versions/9/ready", 404, `"error"`},
	} {
		w := do(t, h, "GET", c.path, nil, nil)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("GET %s = %d %s, want %d containing %s", c.path, w.Code, w.Body, c.status, c.want)
		}
	}
}

func TestInferJSON(t *testing.T) {
	s, svc, mv := newServer(t, 100)
	h := mux(s)
	trips := []trip.Trip{
		{PULocationID: 74, DOLocationID: 236, Passengers: 1},
		{PULocationID: 132, DOLocationID: 48, Passengers: trip.NoPassengers},
	}
	ny, _ := trip.NYC()
	tm, _ := trip.ParseTime([]byte("2024-03-05T08:15:00"), ny)
	trips[0].Pickup = tm
	want := make([]trip.Prediction, len(trips))
	svc.PredictBatch(serving.Call{}, mv, trips, want)

	columns := `{"id":"r1","inputs":[
		{"name":"PULocationID","shape":[2],"datatype":"INT64","data":[74,132]},
		{"name":"DOLocationID","shape":[2],"datatype":"INT64","data":[236,48]},
		{"name":"passenger_count","shape":[2],"datatype":"INT64","data":[1,-1]},
		{"name":"pickup_datetime","shape":[2],"datatype":"BYTES","data":["2024-03-05T08:15:00",""]}]}`
	matrix := `{"inputs":[{"name":"trips","shape":[2,3],"datatype":"INT64","data":[[74,236,1],[132,48,-1]]},
		{"name":"pickup_datetime","shape":[2],"datatype":"BYTES","data":["2024-03-05T08:15:00",""]}]}`
	for _, c := range []struct {
		name, path, body string
	}{
		{"columns", "/v2/models/taxi-duration/infer", columns},
		{"matrix", "/v2/models/taxi-duration/versions/3/infer", matrix},
		{"query version", "/v2/models/taxi-duration/infer?model_version=3", matrix},
		// Members the protocol does not name are skipped, nulls are absent,
		// a member given twice counts as given last, data may nest.
		{"tolerant", "/v2/models/taxi-duration/infer", `{"parameters":null,"extra":{"a":[1,{"b":null}]},"inputs":[{"name":"x"}],"inputs":[
			{"name":"PULocationID","shape":[2,1],"datatype":"INT64","data":[[74],[132]],"parameters":{"shm":"no"}},
			{"name":"DOLocationID","shape":[2],"datatype":"INT64","data":[236,48],"parameters":null},
			{"name":"passenger_count","shape":[2],"datatype":"INT64","data":[1,-1],"tags":[]},
			{"name":"pickup_datetime","shape":[2],"datatype":"BYTES","data":[["2024-03-05T08:15:00"],[""]]}],"outputs":[],"id":null}`},
	} {
		w := do(t, h, "POST", c.path, nil, []byte(c.body))
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", c.name, w.Code, w.Body)
		}
		var got InferResponse
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.ModelName != "taxi-duration" || got.ModelVersion != "3" || len(got.Outputs) != 3 {
			t.Fatalf("%s: %+v", c.name, got)
		}
		for i, p := range want {
			for k, o := range got.Outputs {
				if o.Name != outputNames[k] || float32(o.Data[i]) != value(p, k) {
					t.Errorf("%s: output %s[%d] = %v, want %v", c.name, o.Name, i, o.Data[i], value(p, k))
				}
			}
		}
	}
}

// binaryBody is an inference request with binary inputs.
func binaryBody(t *testing.T, header any, parts ...[]byte) ([]byte, int) {
	t.Helper()
	j, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	b := append([]byte{}, j...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b, len(j)
}

func TestInferBinary(t *testing.T) {
	s, svc, mv := newServer(t, 100)
	h := mux(s)
	pu, do_ := []int64{74, 132, 1}, []int64{236, 48, 265}
	var puB, doB []byte
	trips := make([]trip.Trip, len(pu))
	for i := range pu {
		puB = binary.LittleEndian.AppendUint64(puB, uint64(pu[i]))
		doB = binary.LittleEndian.AppendUint64(doB, uint64(do_[i]))
		trips[i] = trip.Trip{PULocationID: uint16(pu[i]), DOLocationID: uint16(do_[i]), Passengers: trip.NoPassengers}
	}
	want := make([]trip.Prediction, len(trips))
	svc.PredictBatch(serving.Call{}, mv, trips, want)
	hdr := map[string]any{
		"inputs": []map[string]any{
			{"name": "PULocationID", "shape": []int{3}, "datatype": "INT64", "parameters": map[string]any{"binary_data_size": 24}},
			{"name": "DOLocationID", "shape": []int{3}, "datatype": "INT64", "parameters": map[string]any{"binary_data_size": 24}},
		},
		"outputs": []map[string]any{{"name": "high_minutes", "parameters": map[string]any{"binary_data": true}}, {"name": "duration_minutes"}},
	}
	body, n := binaryBody(t, hdr, puB, doB)
	w := do(t, h, "POST", "/v2/models/taxi-duration/infer", map[string]string{"Inference-Header-Content-Length": strconv.Itoa(n)}, body)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	jl, err := strconv.Atoi(w.Header().Get("Inference-Header-Content-Length"))
	if err != nil {
		t.Fatal(err)
	}
	out := w.Body.Bytes()
	var got InferResponse
	if err := json.Unmarshal(out[:jl], &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Outputs) != 2 || got.Outputs[0].Name != "duration_minutes" || got.Outputs[1].Name != "high_minutes" {
		t.Fatalf("outputs %+v", got.Outputs)
	}
	raw := out[jl:]
	if len(raw) != 24 {
		t.Fatalf("%d binary bytes, want 24", len(raw))
	}
	for i, p := range want {
		if v := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])); v != float64(p.High) {
			t.Errorf("high[%d] = %v, want %v", i, v, p.High)
		}
		if float32(got.Outputs[0].Data[i]) != p.Minutes {
			t.Errorf("duration[%d] = %v, want %v", i, got.Outputs[0].Data[i], p.Minutes)
		}
	}
}

func TestInferErrors(t *testing.T) {
	s, _, _ := newServer(t, 3)
	h := mux(s)
	in := func(pu string) string {
		return `{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"INT64","data":[` + pu + `]},{"name":"DOLocationID","shape":[1],"datatype":"INT64","data":[1]}]}`
	}
	for _, c := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"not json", "/v2/models/taxi-duration/infer", "{", 400, "not an inference request"},
		{"bad zone", "/v2/models/taxi-duration/infer", in("0"), 400, "PULocationID[0] = 0"},
		{"float", "/v2/models/taxi-duration/infer", in("1.5"), 400, "not an INT64"},
		{"missing", "/v2/models/taxi-duration/infer", `{"inputs":[]}`, 400, "required"},
		{"too many", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[4],"datatype":"INT64","data":[1,1,1,1]}]}`, 400, "1 to 3"},
		{"shape", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[2],"datatype":"INT64","data":[1]}]}`, 400, "1 elements"},
		{"type", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"FP32","data":[1]}]}`, 400, "must be INT64"},
		{"unknown input", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[1]}]}`, 400, "unknown input"},
		{"unknown output", "/v2/models/taxi-duration/infer", strings.TrimSuffix(in("1"), "}") + `,"outputs":[{"name":"x"}]}`, 400, "unknown output"},
		{"bad pickup", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"INT64","data":[1]},{"name":"DOLocationID","shape":[1],"datatype":"INT64","data":[1]},{"name":"pickup_datetime","shape":[1],"datatype":"BYTES","data":["soon"]}]}`, 400, "ISO 8601"},
		{"trailing data", "/v2/models/taxi-duration/infer", in("1") + " {}", 400, "malformed JSON at byte"},
		{"not an object", "/v2/models/taxi-duration/infer", `[]`, 400, "want a JSON object"},
		{"empty", "/v2/models/taxi-duration/infer", ``, 400, "not an inference request"},
		{"inputs not array", "/v2/models/taxi-duration/infer", `{"inputs":{}}`, 400, "inputs must be an array of tensors"},
		{"input not object", "/v2/models/taxi-duration/infer", `{"inputs":[1]}`, 400, "inputs[0] must be a tensor object"},
		{"name not string", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":5}]}`, 400, "inputs[0].name must be a string"},
		{"datatype not string", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"x"},{"datatype":null}]}`, 400, "inputs[1].datatype must be a string"},
		{"shape not array", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":"1","datatype":"INT64","data":[1]}]}`, 400, "inputs[0].shape must be an array of integers"},
		{"shape float", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[1.5],"datatype":"INT64","data":[1]}]}`, 400, "inputs[0].shape must be an array of integers"},
		{"shape empty", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[],"datatype":"INT64","data":[1]}]}`, 400, "input PULocationID has shape []"},
		{"id not string", "/v2/models/taxi-duration/infer", `{"id":7,"inputs":[]}`, 400, "id must be a string"},
		{"binary size", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"INT64","parameters":{"binary_data_size":"8"}}]}`, 400, "inputs[0].parameters.binary_data_size must be a whole number of bytes"},
		{"binary size past end", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"INT64","parameters":{"binary_data_size":8}}]}`, 400, "input PULocationID: binary_data_size 8 is past the end"},
		{"binary output", "/v2/models/taxi-duration/infer", strings.TrimSuffix(in("1"), "}") + `,"parameters":{"binary_data_output":"yes"}}`, 400, "parameters.binary_data_output must be true or false"},
		{"output binary", "/v2/models/taxi-duration/infer", strings.TrimSuffix(in("1"), "}") + `,"outputs":[{"name":"low_minutes","parameters":{"binary_data":1}}]}`, 400, "output low_minutes: parameters.binary_data must be true or false"},
		{"output not object", "/v2/models/taxi-duration/infer", strings.TrimSuffix(in("1"), "}") + `,"outputs":["low_minutes"]}`, 400, "outputs[0] must be an object"},
		{"strings", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"pickup_datetime","shape":[1],"datatype":"BYTES","data":[1]}]}`, 400, "input pickup_datetime: data must be (nested) arrays of strings"},
		{"ints", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"INT64","data":["1"]}]}`, 400, "input PULocationID: data must be (nested) arrays of integers"},
		{"deep", "/v2/models/taxi-duration/infer", `{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"INT64","data":` + strings.Repeat("[", 100) + "1" + strings.Repeat("]", 100) + `}]}`, 400, "nested deeper than 64"},
		{"model", "/v2/models/nope/infer", in("1"), 404, "not found"},
		{"version", "/v2/models/taxi-duration/versions/7/infer", in("1"), 404, "not found"},
	} {
		w := do(t, h, "POST", c.path, nil, []byte(c.body))
		var e ErrorBody
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != c.status || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, w.Code, w.Body, c.status, c.want)
		}
	}
}

func FuzzDecodeInfer(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"PULocationID","shape":[1],"datatype":"INT64","data":[74]},{"name":"DOLocationID","shape":[1],"datatype":"INT64","data":[236]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"t","shape":[1,3],"datatype":"INT64","data":[[1,2,3]]}],"outputs":[{"name":"low_minutes","parameters":{"binary_data":true}}]}`), -1)
	f.Add(append([]byte(`{"inputs":[{"name":"pickup_datetime","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}`), 4, 0, 0, 0, '2', '0', '2', '4'), 101)
	ny, err := trip.NYC()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, header int) {
		if header < 0 {
			header = len(body)
		}
		d := decoder{ny: ny, maxRows: 1000}
		req, err := d.decode(body, header)
		if err != nil {
			if status(err) >= 500 {
				t.Fatalf("bad input answered %d: %v", status(err), err)
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

// inferBody is a JSON inference request of n trips.
func inferBody(n int) []byte {
	var pu, do_ []string
	for i := range n {
		pu = append(pu, strconv.Itoa(1+i%265))
		do_ = append(do_, strconv.Itoa(1+(i*7)%265))
	}
	return []byte(`{"inputs":[{"name":"PULocationID","shape":[` + strconv.Itoa(n) + `],"datatype":"INT64","data":[` + strings.Join(pu, ",") +
		`]},{"name":"DOLocationID","shape":[` + strconv.Itoa(n) + `],"datatype":"INT64","data":[` + strings.Join(do_, ",") + `]}]}`)
}

func benchmarkInfer(b *testing.B, n int) {
	s, _, _ := newServer(b, 10000)
	h := mux(s)
	body := inferBody(n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/v2/models/taxi-duration/infer", bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "predictions/s")
}

func BenchmarkInferOne(b *testing.B)   { benchmarkInfer(b, 1) }
func BenchmarkInfer10000(b *testing.B) { benchmarkInfer(b, 10000) }
