package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/trip"
)

// pyarrowDump prints a parquet file's schema and then every row as a JSON
// array, in the order of the output columns, as pyarrow reads them.
const pyarrowDump = `
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({f.name: str(f.type) for f in t.schema}))
cols = [c.to_pylist() for c in t.columns]
for row in zip(*cols):
    print(json.dumps([v.strftime("%Y-%m-%d %H:%M:%S") if hasattr(v, "strftime") else v for v in row]))
`

// The parquet output must read the same in pyarrow, the reader most of
// its users have, as in parquet-go: every value of every row, for a real
// month (ids counted up, pages of 8,192 rows, nulls) and for JSON Lines
// with ids of their own. TAXIETA_PYARROW_PYTHON is a Python with pyarrow;
// the test script points it at the MLflow venv's.
func TestParquetOutputReadsInPyArrow(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_PYARROW_PYTHON")
	a := testModel(t)
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "trips.jsonl")
	lines := []string{
		`{"ride_id": "a-1", "PULocationID": 43, "DOLocationID": 151, "passenger_count": 1, "pickup_datetime": "2024-03-01 08:30:00"}`,
		`{"ride_id": "a-10", "PULocationID": 1, "DOLocationID": 265}`,
		`{"ride_id": "ünïcode ✓", "PULocationID": 132, "DOLocationID": 132, "passenger_count": 0}`,
		`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 9}`,
	}
	if err := os.WriteFile(jsonl, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{dataFile(t, "green_tripdata_2021-01.parquet"), jsonl} {
		t.Run(filepath.Base(in), func(t *testing.T) {
			out := filepath.Join(dir, filepath.Base(in)+".scored.parquet")
			if _, err := Run(context.Background(), options(a, in, out)); err != nil {
				t.Fatal(err)
			}
			want := readOutput(t, out)
			cmd := exec.Command(python, "-c", pyarrowDump, out)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			dump, err := cmd.Output()
			if err != nil {
				t.Fatalf("pyarrow: %v\n%s", err, stderr.Bytes())
			}
			sc := bufio.NewScanner(bytes.NewReader(dump))
			sc.Buffer(nil, 1<<20)
			sc.Scan()
			var schema map[string]string
			if err := json.Unmarshal(sc.Bytes(), &schema); err != nil {
				t.Fatalf("schema line %q: %v", sc.Bytes(), err)
			}
			wantTypes := map[string]string{
				"ride_id": "string", "pickup_datetime": "timestamp[us]", "PULocationID": "int32", "DOLocationID": "int32",
				"passenger_count": "double", "actual_minutes": "double", "predicted_minutes": "float",
				"low_minutes": "float", "high_minutes": "float", "model_name": "string", "model_version": "string",
			}
			for name, typ := range wantTypes {
				if schema[name] != typ {
					t.Errorf("pyarrow reads %s as %q, want %q", name, schema[name], typ)
				}
			}
			var got []record
			for sc.Scan() {
				got = append(got, pyarrowRecord(t, sc.Bytes()))
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			compareRecords(t, "pyarrow", got, want)
		})
	}
}

// pyarrowRecord is one row of pyarrowDump's output.
func pyarrowRecord(t *testing.T, line []byte) record {
	t.Helper()
	var row struct {
		RideID     string
		Pickup     *string
		PU, DO     int64
		Passengers *float64
		Actual     *float64
		Pred       [3]float64
		Name       string
		Version    string
	}
	var cells []json.RawMessage
	if err := json.Unmarshal(line, &cells); err != nil || len(cells) != numColumns {
		t.Fatalf("row %s: %v (want %d cells)", line, err, numColumns)
	}
	dst := []any{&row.RideID, &row.Pickup, &row.PU, &row.DO, &row.Passengers, &row.Actual,
		&row.Pred[0], &row.Pred[1], &row.Pred[2], &row.Name, &row.Version}
	for i, c := range cells {
		if err := json.Unmarshal(c, dst[i]); err != nil {
			t.Fatalf("row %s, column %s: %v", line, columnNames[i], err)
		}
	}
	r := record{
		RideID: row.RideID, PU: row.PU, DO: row.DO, Passengers: row.Passengers, Actual: row.Actual,
		Pred: trip.Prediction{Minutes: float32(row.Pred[0]), Low: float32(row.Pred[1]), High: float32(row.Pred[2])},
		Name: row.Name, Version: row.Version,
	}
	if row.Pickup != nil {
		r.Pickup = *row.Pickup
	}
	return r
}
