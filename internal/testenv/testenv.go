// Package testenv finds what taxieta's tests need from the machine: the
// folder of real TLC files. Only tests import it.
package testenv

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// DataDir returns the folder of real TLC files: $TAXIETA_DATA_DIR, else
// shared/data beside the repository. Without it the test skips, or fails
// when TAXIETA_REQUIRE_DATA is set (as the test script sets it), so that a
// missing data folder can never turn into a green run.
func DataDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("TAXIETA_DATA_DIR")
	if d == "" {
		_, file, _, _ := runtime.Caller(0)
		d = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(d, "taxi_zone_lookup.csv")); err != nil {
		if os.Getenv("TAXIETA_REQUIRE_DATA") != "" {
			t.Fatalf("real TLC data not found in %s: %v", d, err)
		}
		t.Skipf("real TLC data not found in %s (set TAXIETA_DATA_DIR)", d)
	}
	return d
}

// RepoRoot is the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Service returns the address of a server the test script started, read
// from the environment variable name (e.g. TAXIETA_NATS_URL). Without it the
// test skips, or fails when TAXIETA_REQUIRE_SERVICES is set, as the test
// script sets it: a server that did not start can never pass as a skip.
func Service(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("TAXIETA_REQUIRE_SERVICES") != "" {
			t.Fatalf("%s is not set: the test script should have started this server", name)
		}
		t.Skipf("%s not set; run the tests with make test, which starts the server", name)
	}
	return v
}

// PyfuncResult is what scripts/mlflow_pyfunc_predict.py reports of a model
// loaded with mlflow.pyfunc.load_model and a prediction made with it.
type PyfuncResult struct {
	MLflowVersion string               `json:"mlflow_version"`
	Rows          int                  `json:"rows"`
	Columns       map[string][]float64 `json:"columns"`
	DTypes        map[string]string    `json:"dtypes"`
	// Signature is MLflow's signature.to_dict(): inputs and outputs as JSON strings.
	Signature    map[string]*string `json:"signature"`
	Flavors      []string           `json:"flavors"`
	LoaderModule string             `json:"loader_module"`
}

// Pyfunc loads the MLflow model at uri with python (a venv with MLflow and
// onnxruntime) as an MLflow user would, and predicts the rows of columns
// (int64 values) with it. env is added to the script's environment (e.g.
// MLFLOW_TRACKING_URI for a models:/ URI).
func Pyfunc(t testing.TB, python, uri string, env []string, columns []string, rows [][]int64) PyfuncResult {
	t.Helper()
	dir := t.TempDir()
	in, err := json.Marshal(map[string]any{"columns": columns, "data": rows})
	if err != nil {
		t.Fatal(err)
	}
	inPath, outPath := filepath.Join(dir, "trips.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join(RepoRoot(), "scripts", "mlflow_pyfunc_predict.py"), uri, inPath, outPath)
	cmd.Env = append(append(os.Environ(), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false"), env...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mlflow.pyfunc on %s: %v\n%s", uri, err, out)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var r PyfuncResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("mlflow.pyfunc on %s: %v", uri, err)
	}
	return r
}
