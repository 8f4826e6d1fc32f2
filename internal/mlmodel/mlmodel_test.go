package mlmodel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/mlmodel"
	"github.com/taxieta/taxieta/internal/mlmodel/mlmodeltest"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/onnx"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// linearArtifact trains the linear model on green 2023-01.
func linearArtifact(t *testing.T) *model.Artifact {
	t.Helper()
	var examples []trip.Example
	var st trip.Stats
	err := tlc.ReadFile(context.Background(), filepath.Join(testenv.DataDir(t), "green_tripdata_2023-01.parquet"), func(rows []trip.Raw) error {
		for _, r := range rows {
			if ex, ok := trip.DefaultRules().Clean(r, &st); ok {
				examples = append(examples, ex)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.LinearEstimator{}.Fit(context.Background(), examples)
	if err != nil {
		t.Fatal(err)
	}
	a, err := model.NewArtifact(m, model.Artifact{CreatedAt: time.Unix(1700000000, 0).UTC(), Trainer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Encode(); err != nil { // sets the checksum
		t.Fatal(err)
	}
	return a
}

// TestPyfuncLoadsTheDirectory writes the directory of each kind and loads it
// with mlflow.pyfunc in MLflow 3 and MLflow 2, predicting 1,000 real trips.
func TestPyfuncLoadsTheDirectory(t *testing.T) {
	od, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	linear := linearArtifact(t)
	rows, cols, trips := mlmodeltest.Trips(t, 1000)
	pythons := map[string]string{
		"mlflow3": testenv.Service(t, "TAXIETA_ONNX_PYTHON"),
		// Empty when the test script was told not to install MLflow 2 (TAXIETA_MLFLOW2=0).
		"mlflow2": os.Getenv("TAXIETA_MLFLOW2_PYTHON"),
	}
	for _, a := range []*model.Artifact{od, linear} {
		encoded, err := a.Encode()
		if err != nil {
			t.Fatal(err)
		}
		files, err := mlmodel.Files(a, encoded, mlmodel.Options{ProducerVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "model")
		if err := mlmodel.WriteDir(dir, files); err != nil {
			t.Fatal(err)
		}
		// taxieta's own artifact is inside, intact.
		if got, err := model.ReadFile(filepath.Join(dir, mlmodel.ArtifactFile)); err != nil || got.Checksum != a.Checksum {
			t.Fatalf("artifact in the directory: %v, sha256 %v; want %s", err, got, a.Checksum)
		}
		for _, v := range []string{"mlflow3", "mlflow2"} {
			t.Run(a.Kind+"/"+v, func(t *testing.T) {
				if pythons[v] == "" {
					t.Skip("TAXIETA_MLFLOW2_PYTHON not set: no MLflow 2 venv (scripts/services/onnx.sh makes one unless TAXIETA_MLFLOW2=0)")
				}
				r := testenv.Pyfunc(t, pythons[v], dir, nil, cols, rows)
				mlmodeltest.CheckPyfunc(t, r, a.Model, trips)
			})
		}
	}
}

func TestWriteDirIsAllOrNothing(t *testing.T) {
	od, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, err := mlmodel.Files(od, defaultmodel.Bytes(), mlmodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	tests := []struct {
		name, dir, want string
	}{
		{"missing parent", filepath.Join(parent, "no", "model"), "no such file"},
		{"exists", parent, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mlmodel.WriteDir(tt.dir, files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WriteDir(%s) = %v; want an error saying %q", tt.dir, err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(parent, "no")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed write left %s/no behind (%v)", parent, err)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 0 {
		t.Errorf("failed writes left %v in %s", entries, parent)
	}
}

func TestTritonEntry(t *testing.T) {
	od, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, err := mlmodel.Triton(od, "taxi-duration", 1, mlmodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "config.pbtxt" || files[1].Name != "1/model.onnx" {
		t.Fatalf("files %v; want config.pbtxt and 1/model.onnx", names(files))
	}
	cfg := string(files[0].Data)
	for _, want := range append([]string{`name: "taxi-duration"`, `backend: "onnxruntime"`, "TYPE_INT64", "TYPE_FP32"}, append(onnx.Inputs, onnx.Outputs...)...) {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.pbtxt lacks %q:\n%s", want, cfg)
		}
	}
	if _, err := mlmodel.Triton(od, "x", 0, mlmodel.Options{}); err == nil {
		t.Error("accepted model version 0")
	}
}

func names(fs []mlmodel.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// TestMLflowModelsServe serves the directory with `mlflow models serve` (the
// venv's own environment) and scores the serving input example MLflow
// documents with it: the answers are the Go model's.
func TestMLflowModelsServe(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_ONNX_PYTHON")
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, err := mlmodel.Files(a, defaultmodel.Bytes(), mlmodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := mlmodel.WriteDir(dir, files); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	bin := filepath.Dir(python)
	cmd := exec.Command(filepath.Join(bin, "mlflow"), "models", "serve", "-m", dir, "--env-manager", "local", "-h", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ready := false
	for deadline := time.Now().Add(2 * time.Minute); !ready && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get(base + "/ping"); err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == 200
		}
	}
	if !ready {
		t.Fatalf("mlflow models serve did not answer /ping")
	}
	example, err := os.ReadFile(filepath.Join(dir, "serving_input_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/invocations", "application/json", bytes.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Predictions []map[string]float64 `json:"predictions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/invocations: %d, %v", resp.StatusCode, err)
	}
	var in struct {
		Split struct{ Data [][]int64 } `json:"dataframe_split"`
	}
	if err := json.Unmarshal(example, &in); err != nil {
		t.Fatal(err)
	}
	if len(got.Predictions) != len(in.Split.Data) || len(in.Split.Data) == 0 {
		t.Fatalf("%d predictions for %d example trips", len(got.Predictions), len(in.Split.Data))
	}
	for i, row := range in.Split.Data {
		tr := trip.Trip{PULocationID: uint16(row[0]), DOLocationID: uint16(row[1]), Passengers: int8(row[2])}
		if row[3] >= 0 {
			// A Monday 00:00 in New York wall-clock time (as UTC), plus the hour.
			tr.Pickup = time.Date(2024, 3, 4, int(row[3]), 0, 0, 0, time.UTC)
		}
		p := a.Model.Predict(tr)
		for name, w := range map[string]float32{onnx.OutputMinutes: p.Minutes, onnx.OutputLow: p.Low, onnx.OutputHigh: p.High} {
			if g := got.Predictions[i][name]; g != float64(w) {
				t.Errorf("example %d %v: %s %g; Go says %g", i, row, name, g, w)
			}
		}
	}
}
