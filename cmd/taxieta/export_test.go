package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/mlmodel"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/onnx"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

func TestModelExportBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.taxieta")
	b := defaultmodel.Bytes()
	if err := os.WriteFile(good, b, 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.taxieta")
	flipped := bytes.Clone(b)
	flipped[len(flipped)/2] ^= 1
	if err := os.WriteFile(corrupt, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	future := filepath.Join(dir, "future.taxieta")
	if err := os.WriteFile(future, bytes.Replace(b, []byte("taxieta-model v1\n"), []byte("taxieta-model v9\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	existing := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no model", []string{"--out", filepath.Join(out, "m.onnx")}, true, "name one model"},
		{"two models", []string{good, good, "--out", filepath.Join(out, "m.onnx")}, true, "name one model"},
		{"no out", []string{good}, true, "--out is required"},
		{"unknown format", []string{good, "--format", "tflite", "--out", filepath.Join(out, "m")}, true, `--format "tflite"`},
		{"triton version 0", []string{good, "--format", "triton", "--triton-version", "0", "--out", filepath.Join(out, "t")}, true, "--triton-version 0"},
		// The output is checked before the model is even read.
		{"out in a missing directory", []string{filepath.Join(dir, "missing.taxieta"), "--out", filepath.Join(out, "no", "m.onnx")}, false, "does not exist"},
		{"mlflow dir exists", []string{good, "--format", "mlflow", "--out", existing}, false, "already exists"},
		{"onnx out is a directory", []string{good, "--out", existing}, false, "is a directory"},
		{"missing model", []string{filepath.Join(dir, "missing.taxieta"), "--out", filepath.Join(out, "m.onnx")}, false, "no such file"},
		{"corrupt model", []string{corrupt, "--out", filepath.Join(out, "m.onnx")}, false, "corrupted (checksum mismatch)"},
		{"unknown version", []string{future, "--format", "mlflow", "--out", filepath.Join(out, "m")}, false, "unsupported model format version 9"},
		{"bad reference", []string{"models:/taxi", "--out", filepath.Join(out, "m.onnx")}, true, "name a version"},
	}
	c := cli{t: t, env: map[string]string{"TAXIETA_REGISTRY": filepath.Join(dir, "registry")}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.run(append([]string{"model", "export"}, tt.args...)...)
			var u usageError
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.As(err, &u) != tt.usage {
				t.Fatalf("error %v (usage error: %v); want one saying %q (usage error: %v)", err, errors.As(err, &u), tt.want, tt.usage)
			}
		})
	}
	// Nothing half-written.
	for _, d := range []string{out, existing} {
		if entries, _ := os.ReadDir(d); len(entries) != 0 {
			t.Errorf("failed exports left %v in %s", entries, d)
		}
	}
}

func mustLoad(t *testing.T, b []byte) *model.Artifact {
	t.Helper()
	a, err := model.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestModelExportFormats(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.taxieta")
	if err := os.WriteFile(good, defaultmodel.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, env: map[string]string{"TAXIETA_REGISTRY": filepath.Join(dir, "registry"), "TAXIETA_CACHE_DIR": filepath.Join(dir, "cache")}}
	c.must("model", "export", "--format", "onnx", good, "--out", filepath.Join(dir, "m.onnx"))
	c.must("model", "export", "--format", "mlflow", good, "--out", filepath.Join(dir, "mlflow"))
	c.must("model", "export", "--format", "triton", good, "--out", filepath.Join(dir, "repo-taxi"))
	// A registry reference, resolved as model download resolves it.
	c.must("train", "--train", filepath.Join(testenv.DataDir(t), "yellow_tripdata_sample_2019-03.csv"), "--out", filepath.Join(dir, "t.taxieta"), "--register", "taxi", "--alias", "champion")
	out := c.must("model", "export", "models:/taxi@champion", "--out", filepath.Join(dir, "ref.onnx"))
	if !strings.Contains(out, "models:/taxi@champion version 1") {
		t.Errorf("export of a reference said:\n%s", out)
	}
	onnxBytes, err := onnx.Export(mustLoad(t, defaultmodel.Bytes()), onnx.Options{ProducerVersion: buildinfo.Version()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"m.onnx", "mlflow/" + mlmodel.ONNXFile, "repo-taxi/1/model.onnx", "mlflow/" + mlmodel.MLmodelFile, "mlflow/" + mlmodel.ArtifactFile, "repo-taxi/config.pbtxt", "ref.onnx"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.HasSuffix(f, ".onnx") && f != "ref.onnx" && !bytes.Equal(b, onnxBytes) {
			t.Errorf("%s is not the default model's graph", f)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "mlflow", mlmodel.ArtifactFile)); !bytes.Equal(b, defaultmodel.Bytes()) {
		t.Error("the MLflow directory's artifact is not the exported one")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "repo-taxi", "config.pbtxt")); !bytes.Contains(b, []byte(`name: "repo-taxi"`)) {
		t.Errorf("config.pbtxt does not name its directory:\n%s", b)
	}
}

// TestPyfuncMatchesServe is the MLflow user's story: train --register
// --alias champion into the real MLflow servers; serve
// models:/NAME@champion (which loads the version's taxieta artifact from
// the MLflow model directory, verified); mlflow.pyfunc.load_model of the
// same reference predicts 1,000 real trips as /predict/batch answers them.
func TestPyfuncMatchesServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary and Python")
	}
	data := testenv.DataDir(t)
	servers := []struct {
		name, uriVar, pythonVar string
	}{
		{"mlflow3", "TAXIETA_MLFLOW_URI", "TAXIETA_ONNX_PYTHON"},
		{"mlflow2", "TAXIETA_MLFLOW2_URI", "TAXIETA_MLFLOW2_PYTHON"},
	}
	body, rows := predictRequests(t, data, 1000)
	bin := buildBinary(t)
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			if s.name == "mlflow2" && os.Getenv(s.uriVar) == "" {
				t.Skip("TAXIETA_MLFLOW2_URI not set: no MLflow 2 server (scripts/services/mlflow.sh starts one unless TAXIETA_MLFLOW2=0)")
			}
			uri := testenv.Service(t, s.uriVar)
			python := testenv.Service(t, s.pythonVar)
			tmp := t.TempDir()
			name := "taxi-pyfunc-" + s.name + "-" + time.Now().Format("150405.000000")
			runCLI(t, bin, "train", "--data-dir", data, "--train", "green:2023-01", "--out", filepath.Join(tmp, "m.taxieta"),
				"--register", name, "--alias", "champion", "--registry", uri)
			ref := "models:/" + name + "@champion"
			_, base, _ := startServer(t, bin, "--model", ref, "--registry", uri, "--cache-dir", filepath.Join(tmp, "cache"))
			resp, err := http.Post(base+"/predict/batch", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var served struct {
				Model       struct{ Name, Version string }
				Predictions []struct {
					TripDurationPrediction float64 `json:"trip_duration_prediction"`
					Interval               struct{ Low, High float64 }
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&served); err != nil || resp.StatusCode != 200 {
				t.Fatalf("/predict/batch: %d, %v", resp.StatusCode, err)
			}
			if served.Model.Version != "1" || len(served.Predictions) != len(rows) {
				t.Fatalf("/predict/batch served version %q, %d predictions; want version 1, %d", served.Model.Version, len(served.Predictions), len(rows))
			}
			r := testenv.Pyfunc(t, python, ref, []string{"MLFLOW_TRACKING_URI=" + uri}, onnx.Inputs, rows)
			if r.Rows != len(rows) || r.Signature == nil || r.Signature["inputs"] == nil {
				t.Fatalf("pyfunc: %d rows, signature %v", r.Rows, r.Signature)
			}
			// /predict rounds to hundredths of a minute: pyfunc's values, so rounded, are the same.
			round := func(v float64) float64 { return math.Round(float64(float32(v))*100) / 100 }
			for i, p := range served.Predictions {
				got := [3]float64{round(r.Columns[onnx.OutputMinutes][i]), round(r.Columns[onnx.OutputLow][i]), round(r.Columns[onnx.OutputHigh][i])}
				want := [3]float64{p.TripDurationPrediction, p.Interval.Low, p.Interval.High}
				if got != want {
					t.Fatalf("trip %d %v: pyfunc %v, /predict %v", i, rows[i], got, want)
				}
			}
			t.Logf("MLflow %s pyfunc on %s equals /predict on %d trips", r.MLflowVersion, ref, len(rows))
		})
	}
}

// predictRequests reads n trips of green 2024-03 with valid zones as a
// /predict/batch body and as the graph's input rows; every other trip has
// its pickup time.
func predictRequests(t *testing.T, data string, n int) ([]byte, [][]int64) {
	t.Helper()
	type req struct {
		PU     int64   `json:"PULocationID"`
		DO     int64   `json:"DOLocationID"`
		Pax    *int64  `json:"passenger_count"`
		Pickup *string `json:"pickup_datetime,omitempty"`
	}
	var reqs []req
	var rows [][]int64
	err := tlc.ReadFile(context.Background(), filepath.Join(data, "green_tripdata_2024-03.parquet"), func(raws []trip.Raw) error {
		for _, r := range raws {
			if len(reqs) == n || !trip.ValidZone(r.PULocationID) || !trip.ValidZone(r.DOLocationID) {
				continue
			}
			q := req{PU: r.PULocationID, DO: r.DOLocationID}
			p := int64(trip.PassengersOf(r.Passengers))
			if p >= 0 {
				q.Pax = &p
			}
			hour := int64(onnx.NoHour)
			if len(reqs)%2 == 1 {
				pickup := time.UnixMicro(r.PickupMicros).UTC()
				s := pickup.Format("2006-01-02T15:04:05")
				q.Pickup = &s
				hour = int64(trip.HourOfWeek(pickup))
			}
			reqs = append(reqs, q)
			rows = append(rows, []int64{r.PULocationID, r.DOLocationID, p, hour})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != n {
		t.Fatalf("%d trips; want %d", len(reqs), n)
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	return body, rows
}
