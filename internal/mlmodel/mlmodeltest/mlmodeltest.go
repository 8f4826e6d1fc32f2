// Package mlmodeltest holds what the tests of MLflow model directories
// share: real trips to score, and the check that mlflow.pyfunc predicted
// what the Go model predicts. Only tests import it.
package mlmodeltest

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/onnx"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// Trips returns the first n rows of green 2024-03 as the graph's inputs
// (rows, in the order of cols) and as the Go model's trips; every other
// trip has its pickup time.
func Trips(t testing.TB, n int) (rows [][]int64, cols []string, trips []trip.Trip) {
	t.Helper()
	err := tlc.ReadFile(context.Background(), filepath.Join(testenv.DataDir(t), "green_tripdata_2024-03.parquet"), func(raws []trip.Raw) error {
		for _, r := range raws {
			if len(trips) == n {
				return nil
			}
			tr := trip.Trip{Passengers: trip.PassengersOf(r.Passengers)}
			if trip.ValidZone(r.PULocationID) && trip.ValidZone(r.DOLocationID) {
				tr.PULocationID, tr.DOLocationID = uint16(r.PULocationID), uint16(r.DOLocationID)
			}
			if len(trips)%2 == 1 {
				tr.Pickup = time.UnixMicro(r.PickupMicros).UTC()
			}
			trips = append(trips, tr)
			rows = append(rows, []int64{r.PULocationID, r.DOLocationID, int64(tr.Passengers), int64(trip.HourOfWeek(tr.Pickup))})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(trips) != n {
		t.Fatalf("read %d trips; want %d", len(trips), n)
	}
	return rows, onnx.Inputs, trips
}

// CheckPyfunc fails unless r holds m's predictions of trips (within 1e-4
// minutes) and the signature names the graph's typed columns.
func CheckPyfunc(t testing.TB, r testenv.PyfuncResult, m model.Predictor, trips []trip.Trip) {
	t.Helper()
	if r.Rows != len(trips) {
		t.Fatalf("pyfunc predicted %d rows; want %d", r.Rows, len(trips))
	}
	if r.LoaderModule != "mlflow.onnx" {
		t.Errorf("python_function loader_module %q; want mlflow.onnx", r.LoaderModule)
	}
	want := make([]trip.Prediction, len(trips))
	m.PredictBatch(trips, want)
	var maxDiff float64
	for k, name := range onnx.Outputs {
		got := r.Columns[name]
		if len(got) != len(trips) || r.DTypes[name] != "float32" {
			t.Fatalf("column %s: %d values of %s; want %d float32", name, len(got), r.DTypes[name], len(trips))
		}
		for i, p := range want {
			w := [3]float32{p.Minutes, p.Low, p.High}[k]
			d := math.Abs(got[i] - float64(w))
			maxDiff = max(maxDiff, d)
			if d > 1e-4 {
				t.Fatalf("trip %d %+v: %s %g; Go says %g", i, trips[i], name, got[i], w)
			}
		}
	}
	t.Logf("MLflow %s pyfunc: %d trips, max |pyfunc - Go| %g minutes", r.MLflowVersion, len(trips), maxDiff)
	if r.Signature == nil || r.Signature["inputs"] == nil || r.Signature["outputs"] == nil {
		t.Fatalf("model info has no signature: %v", r.Signature)
	}
	for _, s := range []struct {
		json  string
		names []string
		typ   string
	}{{*r.Signature["inputs"], onnx.Inputs, "long"}, {*r.Signature["outputs"], onnx.Outputs, "float"}} {
		var cols []struct{ Name, Type string }
		if err := json.Unmarshal([]byte(s.json), &cols); err != nil {
			t.Fatalf("signature %s: %v", s.json, err)
		}
		if len(cols) != len(s.names) {
			t.Fatalf("signature %s; want columns %v", s.json, s.names)
		}
		for i, c := range cols {
			if c.Name != s.names[i] || c.Type != s.typ {
				t.Errorf("signature column %d is %s %s; want %s %s", i, c.Name, c.Type, s.names[i], s.typ)
			}
		}
	}
}
