package mlflowserve

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

func newServer(t testing.TB, maxRows int) (*Server, *serving.Service) {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serving.New(serving.NewStatic(&serving.ModelVersion{Artifact: a, Name: "taxi-duration", Version: "3", Source: "embedded"}), serving.Options{})
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
	return s, svc
}

func mux(s *Server) http.Handler {
	m := http.NewServeMux()
	for _, r := range s.Routes() {
		m.Handle(r.Method+" "+r.Path, r.Handler)
	}
	return m
}

type answer struct {
	Predictions []struct {
		Minutes float64 `json:"duration_minutes"`
		Low     float64 `json:"low_minutes"`
		High    float64 `json:"high_minutes"`
	} `json:"predictions"`
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

func post(t *testing.T, h http.Handler, ctype, body string) (int, answer) {
	t.Helper()
	r := httptest.NewRequest("POST", "/invocations", strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("%s: answer is not JSON: %q", body, w.Body)
	}
	return w.Code, a
}

// TestLayouts sends the same three trips in every layout MLflow accepts.
func TestLayouts(t *testing.T) {
	s, svc := newServer(t, 100)
	h := mux(s)
	trips := []trip.Trip{
		{PULocationID: 74, DOLocationID: 75, Passengers: 1},
		{PULocationID: 132, DOLocationID: 230, Passengers: trip.NoPassengers},
		{PULocationID: 1, DOLocationID: 265, Passengers: 4},
	}
	want := make([]trip.Prediction, len(trips))
	svc.Current().Artifact.Model.PredictBatch(trips, want)
	tests := []struct{ name, ctype, body string }{
		{"split", "application/json", `{"dataframe_split": {"columns": ["PULocationID", "DOLocationID", "passenger_count"], "index": [0, 1, 2], "data": [[74, 75, 1.0], [132, 230, null], [1, 265, 4.0]]}}`},
		{"split, data first, extra column", "application/json", `{"dataframe_split": {"data": [[75, "x", 74, 1], [230, "y", 132, null], [265, "z", 1, 4]], "columns": ["DOLocationID", "note", "PULocationID", "passenger_count"]}}`},
		{"records", "application/json", `{"dataframe_records": [{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}, {"PULocationID": 132, "DOLocationID": 230}, {"PULocationID": 1, "DOLocationID": 265, "passenger_count": 4, "other": [1]}]}`},
		{"instances of records", "application/json; charset=utf-8", `{"instances": [{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}, {"PULocationID": 132, "DOLocationID": 230, "passenger_count": null}, {"PULocationID": 1, "DOLocationID": 265, "passenger_count": 4}]}`},
		{"instances of arrays", "application/json", `{"instances": [[74, 75, 1], [132, 230], [1, 265, 4]]}`},
		{"inputs of columns, params", "application/json", `{"params": {"k": 1}, "inputs": {"PULocationID": [74, 132, 1], "DOLocationID": [75, 230, 265], "passenger_count": [1, null, 4]}}`},
		{"inputs of arrays", "application/json", `{"inputs": [[74, 75, 1], [132, 230, null], [1, 265, 4]]}`},
		{"csv", "text/csv", "PULocationID,DOLocationID,passenger_count\n74,75,1.0\n132,230,\n1,265,4.0\n"},
		{"csv with index", "text/csv; charset=utf-8", ",PULocationID,DOLocationID,passenger_count\n0,74,75,1\n1,132,230,\n2,1,265,4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a := post(t, h, tt.ctype, tt.body)
			if code != 200 || len(a.Predictions) != len(trips) {
				t.Fatalf("%d %+v", code, a)
			}
			for i, p := range a.Predictions {
				w := want[i]
				if float32(p.Minutes) != w.Minutes || float32(p.Low) != w.Low || float32(p.High) != w.High {
					t.Errorf("row %d: %+v; want %+v", i, p, w)
				}
			}
		})
	}
	if n := svc.Predictions(svc.Current(), serving.MLflow); n != uint64(len(tests)*len(trips)) {
		t.Errorf("counted %d predictions over MLflow; want %d", n, len(tests)*len(trips))
	}
}

func TestBadRequests(t *testing.T) {
	s, _ := newServer(t, 3)
	h := mux(s)
	tests := []struct {
		name, ctype, body string
		code              int
		msg               string
	}{
		{"wrong content type", "text/plain", `x`, 415, "only supports the following content types"},
		{"no content type", "", `{}`, 415, "only supports the following content types"},
		{"other charset", "application/json; charset=latin-1", `{}`, 415, "only supports UTF-8"},
		{"malformed JSON", "application/json", `{"dataframe_split": {`, 400, "Failed to parse input from JSON"},
		{"not an object", "application/json", `[1, 2]`, 400, "exactly one of the input fields"},
		{"no layout", "application/json", `{"data": []}`, 400, `Received dictionary with input fields: ["data"]`},
		{"two layouts", "application/json", `{"instances": [], "inputs": []}`, 400, "Received both"},
		{"params not an object", "application/json", `{"inputs": [[1, 2]], "params": 3}`, 400, "params must be a JSON object"},
		{"zone 0", "application/json", `{"dataframe_records": [{"PULocationID": 0, "DOLocationID": 5}]}`, 400, "row 0: PULocationID must be a zone id from 1 to 265, got 0"},
		{"zone as text", "application/json", `{"instances": [[5, "x"]]}`, 400, "row 0: DOLocationID must be an integer zone id from 1 to 265, got a string"},
		{"missing column", "application/json", `{"dataframe_split": {"columns": ["PULocationID"], "data": [[4]]}}`, 400, "the column DOLocationID is missing"},
		{"short row", "application/json", `{"dataframe_split": {"columns": ["PULocationID", "DOLocationID"], "data": [[4]]}}`, 400, "row 0 has 1 values for 2 columns"},
		{"missing field", "application/json", `{"dataframe_records": [{"PULocationID": 4}]}`, 400, "row 0: DOLocationID is missing"},
		{"passengers", "text/csv", "PULocationID,DOLocationID,passenger_count\n4,5,12\n", 400, "row 0: passenger_count must be from 0 to 9, got 12"},
		{"pickup", "application/json", `{"dataframe_records": [{"PULocationID": 4, "DOLocationID": 5, "pickup_datetime": "soon"}]}`, 400, "row 0: pickup_datetime must be an ISO 8601 date-time"},
		{"columns of two lengths", "application/json", `{"inputs": {"PULocationID": [1, 2], "DOLocationID": [3]}}`, 400, "columns must be as long as each other"},
		{"too many rows", "application/json", `{"instances": [[1, 2], [1, 2], [1, 2], [1, 2]]}`, 400, "at most 3 rows per request"},
		{"no rows", "application/json", `{"instances": []}`, 400, "no rows to score"},
		{"csv without header", "text/csv", ``, 400, "no header line"},
		{"csv broken quote", "text/csv", "PULocationID,DOLocationID\n\"4,5\n", 400, "Failed to parse input as CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a := post(t, h, tt.ctype, tt.body)
			if code != tt.code || a.ErrorCode != "BAD_REQUEST" || !strings.Contains(a.Message, tt.msg) {
				t.Errorf("%d %s %q; want %d BAD_REQUEST containing %q", code, a.ErrorCode, a.Message, tt.code, tt.msg)
			}
		})
	}
}

func TestPingAndVersion(t *testing.T) {
	s, _ := newServer(t, 10)
	h := mux(s)
	for _, path := range []string{"/ping", "/health"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 || w.Body.String() != "\n" {
			t.Errorf("GET %s: %d %q", path, w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/version", nil))
	if w.Code != 200 || w.Body.String() != "test" {
		t.Errorf("GET /version: %d %q", w.Code, w.Body)
	}
}

// TestPandasAndMLflowClient scores 1,000 real trips of green 2024-03 with
// bodies pandas writes (split, records, CSV, columnar inputs) and with
// MLflow's own scoring client, over a real HTTP server, and checks every
// answer is the model's estimate for the same trip.
func TestPandasAndMLflowClient(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_MLFLOW_PYTHON")
	s, svc := newServer(t, 10000)
	srv := httptest.NewServer(mux(s))
	defer srv.Close()

	type row struct {
		PU     int64    `json:"PULocationID"`
		DO     int64    `json:"DOLocationID"`
		Pax    *float64 `json:"passenger_count"`
		Pickup string   `json:"pickup_datetime"`
	}
	var rows []row
	var trips []trip.Trip
	ny, _ := trip.NYC()
	err := tlc.ReadFile(context.Background(), filepath.Join(testenv.DataDir(t), "green_tripdata_2024-03.parquet"), func(raws []trip.Raw) error {
		for _, r := range raws {
			if len(rows) == 1000 || !trip.ValidZone(r.PULocationID) || !trip.ValidZone(r.DOLocationID) || r.PickupMicros == tlc.NullTime {
				continue
			}
			pickup := time.UnixMicro(r.PickupMicros).UTC()
			rw := row{PU: r.PULocationID, DO: r.DOLocationID, Pickup: pickup.Format("2006-01-02 15:04:05")}
			if !math.IsNaN(r.Passengers) {
				p := r.Passengers
				rw.Pax = &p
			}
			local, _ := trip.ParseTime([]byte(rw.Pickup), ny)
			rows = append(rows, rw)
			trips = append(trips, trip.Trip{PULocationID: uint16(r.PULocationID), DOLocationID: uint16(r.DOLocationID), Passengers: trip.PassengersOf(r.Passengers), Pickup: local})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1000 {
		t.Fatalf("read %d trips", len(rows))
	}
	in := filepath.Join(t.TempDir(), "trips.json")
	b, _ := json.Marshal(rows)
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "testdata/pandas_client.py", srv.URL, in).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pandas_client.py: %v\n%s", err, stderr)
	}
	type pred struct {
		Minutes float64 `json:"duration_minutes"`
		Low     float64 `json:"low_minutes"`
		High    float64 `json:"high_minutes"`
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := make([]trip.Prediction, len(trips))
	svc.Current().Artifact.Model.PredictBatch(trips, want)
	for _, way := range []string{"split", "records", "csv", "csv_index", "inputs", "mlflow_client"} {
		var ps []pred
		if err := json.Unmarshal(got[way], &ps); err != nil || len(ps) != len(trips) {
			t.Fatalf("%s: %d predictions, %v", way, len(ps), err)
		}
		wrong := 0
		for i, p := range ps {
			w := want[i]
			if float32(p.Minutes) != w.Minutes || float32(p.Low) != w.Low || float32(p.High) != w.High {
				if wrong++; wrong <= 3 {
					t.Errorf("%s row %d: %+v; want %+v", way, i, p, w)
				}
			}
		}
		if wrong > 0 {
			t.Errorf("%s: %d of %d predictions differ", way, wrong, len(ps))
		}
	}
	if v := string(got["version"]); v != `"test"` {
		t.Errorf("MLflow's client read version %s", v)
	}
	var bad struct {
		Status int
		Body   answer
	}
	if err := json.Unmarshal(got["bad"], &bad); err != nil || bad.Status != 400 || bad.Body.ErrorCode != "BAD_REQUEST" || !strings.Contains(bad.Body.Message, "PULocationID") {
		t.Errorf("a zone 0 over requests: %+v, %v", bad, err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"dataframe_split": {"columns": ["PULocationID", "DOLocationID"], "data": [[1, 2]]}}`,
		`{"dataframe_records": [{"PULocationID": 1, "DOLocationID": 2, "passenger_count": 1.0}]}`,
		`{"instances": [[1, 2, null, "2024-03-01 08:00:00"]]}`,
		`{"inputs": {"PULocationID": [1], "DOLocationID": [2]}, "params": {}}`,
		`{"inputs": [[1, 2]]}`, `[]`, `{`, `{"instances": [{}]}`,
	} {
		f.Add([]byte(seed))
	}
	ny, err := trip.NYC()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := decoder{ny: ny, maxRows: 50}
		trips, err := d.decodeJSON(body)
		if err == nil {
			if len(trips) == 0 || len(trips) > 50 {
				t.Fatalf("%d trips without an error", len(trips))
			}
			for _, tr := range trips {
				if !trip.ValidZone(int64(tr.PULocationID)) || !trip.ValidZone(int64(tr.DOLocationID)) || tr.Passengers < trip.NoPassengers || tr.Passengers > trip.MaxPassengers {
					t.Fatalf("invalid trip %+v accepted from %q", tr, body)
				}
			}
			return
		}
		var br *badRequest
		if !json.Valid(body) && !strings.Contains(err.Error(), "Failed to parse input from JSON") && !asBad(err, &br) {
			t.Fatalf("malformed JSON %q: %v", body, err)
		}
	})
}

func asBad(err error, br **badRequest) bool {
	b, ok := err.(*badRequest)
	*br = b
	return ok
}
