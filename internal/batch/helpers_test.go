package batch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/trip"
)

// testModel is the embedded default model, as predict serves it.
func testModel(t testing.TB) *model.Artifact {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// dataFile is a real TLC file from the data folder.
func dataFile(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(testenv.DataDir(t), name)
}

// options are the options of a test run of the default model.
func options(a *model.Artifact, in, out string) Options {
	mv := &serving.ModelVersion{Artifact: a, Name: a.Name, Version: "test-version", Source: "test"}
	svc, err := serving.New(serving.NewStatic(mv), serving.Options{})
	if err != nil {
		panic(err) // only a nil Models fails
	}
	return Options{In: in, Out: out, Models: svc, Model: mv, Rules: a.Cleaning.Rules}
}

// record is one output row, read back from any format.
type record struct {
	RideID     string
	Pickup     string // "" when empty
	PU, DO     int64
	Passengers *float64
	Actual     *float64
	Pred       trip.Prediction
	Name       string
	Version    string
}

// parquetRecord reads the parquet output; optional columns are pointers.
type parquetRecord struct {
	RideID           string   `parquet:"ride_id"`
	PickupDatetime   *int64   `parquet:"pickup_datetime,optional"`
	PULocationID     int32    `parquet:"PULocationID"`
	DOLocationID     int32    `parquet:"DOLocationID"`
	PassengerCount   *float64 `parquet:"passenger_count,optional"`
	ActualMinutes    *float64 `parquet:"actual_minutes,optional"`
	PredictedMinutes float32  `parquet:"predicted_minutes"`
	LowMinutes       float32  `parquet:"low_minutes"`
	HighMinutes      float32  `parquet:"high_minutes"`
	ModelName        string   `parquet:"model_name"`
	ModelVersion     string   `parquet:"model_version"`
}

func readOutput(t testing.TB, path string) []record {
	t.Helper()
	format, err := FormatOf(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch format {
	case FormatParquet:
		return readParquetOutput(t, f)
	case FormatCSV:
		return readCSVOutput(t, f)
	}
	return readJSONLOutput(t, f)
}

func readParquetOutput(t testing.TB, f *os.File) []record {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range pf.Schema().Fields() {
		got = append(got, c.Name())
	}
	if !equalStrings(got, OutputColumns()) {
		t.Fatalf("parquet columns %v; want %v", got, OutputColumns())
	}
	r := parquet.NewGenericReader[parquetRecord](f)
	defer r.Close()
	var out []record
	buf := make([]parquetRecord, 1024)
	for {
		n, err := r.Read(buf)
		for _, p := range buf[:n] {
			rec := record{
				RideID: p.RideID, PU: int64(p.PULocationID), DO: int64(p.DOLocationID),
				Passengers: p.PassengerCount, Actual: p.ActualMinutes,
				Pred: trip.Prediction{Minutes: p.PredictedMinutes, Low: p.LowMinutes, High: p.HighMinutes},
				Name: p.ModelName, Version: p.ModelVersion,
			}
			if p.PickupDatetime != nil {
				rec.Pickup = string(appendDateTime(nil, *p.PickupDatetime))
			}
			out = append(out, rec)
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readCSVOutput(t testing.TB, f io.Reader) []record {
	t.Helper()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	if !equalStrings(header, OutputColumns()) {
		t.Fatalf("CSV header %v; want %v", header, OutputColumns())
	}
	var out []record
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, record{
			RideID: rec[0], Pickup: rec[1], PU: atoi(t, rec[2]), DO: atoi(t, rec[3]),
			Passengers: optFloat(t, rec[4]), Actual: optFloat(t, rec[5]),
			Pred: trip.Prediction{Minutes: atof32(t, rec[6]), Low: atof32(t, rec[7]), High: atof32(t, rec[8])},
			Name: rec[9], Version: rec[10],
		})
	}
}

func readJSONLOutput(t testing.TB, f io.Reader) []record {
	t.Helper()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var j struct {
			RideID     string   `json:"ride_id"`
			Pickup     string   `json:"pickup_datetime"`
			PU         int64    `json:"PULocationID"`
			DO         int64    `json:"DOLocationID"`
			Passengers *float64 `json:"passenger_count"`
			Actual     *float64 `json:"actual_minutes"`
			Pred       float32  `json:"predicted_minutes"`
			Low        float32  `json:"low_minutes"`
			High       float32  `json:"high_minutes"`
			Name       string   `json:"model_name"`
			Version    string   `json:"model_version"`
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		out = append(out, record{
			RideID: j.RideID, Pickup: j.Pickup, PU: j.PU, DO: j.DO, Passengers: j.Passengers, Actual: j.Actual,
			Pred: trip.Prediction{Minutes: j.Pred, Low: j.Low, High: j.High}, Name: j.Name, Version: j.Version,
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func atoi(t testing.TB, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func atof32(t testing.TB, s string) float32 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		t.Fatal(err)
	}
	return float32(v)
}

func optFloat(t testing.TB, s string) *float64 {
	t.Helper()
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

// sameFloat compares optional values read back from different formats.
func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b || math.Abs(*a-*b) < 1e-9
}

// expected computes what predict should write for raw rows of a TLC file.
func expected(m model.Model, raws []trip.Raw) []trip.Prediction {
	out := make([]trip.Prediction, len(raws))
	for i, r := range raws {
		t := trip.Trip{PULocationID: uint16(r.PULocationID), DOLocationID: uint16(r.DOLocationID), Passengers: trip.PassengersOf(r.Passengers)}
		if r.PickupMicros != noTime {
			t.Pickup = time.UnixMicro(r.PickupMicros).UTC()
		}
		out[i] = m.Predict(t)
	}
	return out
}

// listDir names the entries of dir, to prove no temporary file was left.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
