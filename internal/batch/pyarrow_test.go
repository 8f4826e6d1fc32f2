package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// pyarrowStats prints every column chunk whose footer statistics pyarrow
// finds at odds with the values it reads from the chunk's row group: the
// null count, and min and max, which must be the present values' (NaN
// left out) when stated and must be stated for a numeric column with
// values. It prints nothing when all agree.
const pyarrowStats = `
import sys
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
md = f.metadata
for g in range(md.num_row_groups):
    t = f.read_row_group(g)
    for j in range(md.num_columns):
        c = md.row_group(g).column(j)
        where = "row group %d, %s" % (g, c.path_in_schema)
        vals = t.column(j).to_pylist()
        present = [v for v in vals if v is not None and v == v]
        st = c.statistics
        if st is None:
            print(where + ": no statistics")
            continue
        nulls = sum(v is None for v in vals)
        if st.null_count != nulls:
            print("%s: null count %d, want %d" % (where, st.null_count, nulls))
        if st.has_min_max:
            if (st.min, st.max) != (min(present), max(present)):
                print("%s: min %r max %r, want %r and %r" % (where, st.min, st.max, min(present), max(present)))
        elif present and c.physical_type != "BYTE_ARRAY" and len(present) == len(vals) - nulls:
            print(where + ": no min and max")
`

// duckdbDump prints what pyarrowDump prints, as DuckDB reads the file: its
// own parquet reader, not Arrow's.
const duckdbDump = `
import json, sys
import duckdb
c = duckdb.connect()
c.execute("SET enable_progress_bar = false")
rel = c.execute("SELECT * FROM read_parquet($1)", [sys.argv[1]])
print(json.dumps({d[0]: str(d[1]) for d in rel.description}))
while True:
    rows = rel.fetchmany(10000)
    if not rows:
        break
    for row in rows:
        print(json.dumps([v.strftime("%Y-%m-%d %H:%M:%S") if hasattr(v, "strftime") else v for v in row]))
`

// readBackInputs writes the inputs whose outputs the read-back tests read:
// a real month (ids counted up, nulls), JSON Lines with ids of their own,
// more rows than a row group holds (no durations: a column all null), a
// CSV with more distinct durations in a row group than a dictionary takes
// (its later pages PLAIN, the next row group's dictionary afresh) and
// fractional passenger counts, and no rows.
func readBackInputs(t *testing.T, dir string) []string {
	t.Helper()
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
	many := filepath.Join(dir, "many_2024-03.jsonl")
	var b strings.Builder
	for i := range RowGroupRows + 3000 {
		fmt.Fprintf(&b, `{"PULocationID": %d, "DOLocationID": %d`, 1+i%trip.MaxZone, trip.MaxZone-i%trip.MaxZone)
		if i%7 != 0 {
			fmt.Fprintf(&b, `, "passenger_count": %d`, i%5)
		}
		if i%3 != 0 {
			fmt.Fprintf(&b, `, "pickup_datetime": "2024-03-%02d %02d:%02d:00"`, 1+i%28, i%24, i%60)
		}
		b.WriteString("}\n")
	}
	if err := os.WriteFile(many, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	durations := filepath.Join(dir, "yellow_tripdata_2019-03.csv")
	b.Reset()
	b.WriteString("tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,PULocationID,DOLocationID\n")
	base := time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range RowGroupRows + 5000 {
		pickup := base.Add(time.Duration(i) * 3 * time.Second)
		// 50,000 distinct durations, some with a fraction of a second.
		dropoff := pickup.Add(time.Duration(i%50_000)*time.Second + time.Duration(i%3)*250*time.Millisecond)
		passengers := []string{"1", "", "2.5", "0", "9", "1"}[i%6]
		fmt.Fprintf(&b, "%s,%s,%s,%d,%d\n", pickup.Format("2006-01-02 15:04:05"), dropoff.Format("2006-01-02 15:04:05.999999"),
			passengers, 1+i%trip.MaxZone, 1+(i/7)%trip.MaxZone)
	}
	if err := os.WriteFile(durations, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{dataFile(t, "green_tripdata_2021-01.parquet"), jsonl, many, durations, empty}
}

// readBack runs script (pyarrowDump or duckdbDump) on a parquet output and
// returns the column types it prints and the rows.
func readBack(t *testing.T, python, script, path string) (map[string]string, []record) {
	t.Helper()
	cmd := exec.Command(python, "-c", script, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dump, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(dump))
	sc.Buffer(nil, 1<<20)
	sc.Scan()
	var types map[string]string
	if err := json.Unmarshal(sc.Bytes(), &types); err != nil {
		t.Fatalf("schema line %q: %v", sc.Bytes(), err)
	}
	var got []record
	for sc.Scan() {
		got = append(got, pyarrowRecord(t, sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return types, got
}

// The parquet output must read the same in pyarrow, the reader most of its
// users have, as in parquet-go: every value of every row of each of
// readBackInputs' outputs; and pyarrow must find every column chunk's
// statistics true to its values. TAXIETA_PYARROW_PYTHON is a Python with
// pyarrow; the test script points it at the MLflow venv's.
func TestParquetOutputReadsInPyArrow(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_PYARROW_PYTHON")
	a := testModel(t)
	dir := t.TempDir()
	for _, in := range readBackInputs(t, dir) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			out := filepath.Join(dir, filepath.Base(in)+".scored.parquet")
			if _, err := Run(context.Background(), options(a, in, out)); err != nil {
				t.Fatal(err)
			}
			want := readOutput(t, out)
			schema, got := readBack(t, python, pyarrowDump, out)
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
			compareRecords(t, "pyarrow", got, want)

			cmd := exec.Command(python, "-c", pyarrowStats, out)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			problems, err := cmd.Output()
			if err != nil {
				t.Fatalf("pyarrow statistics: %v\n%s", err, stderr.Bytes())
			}
			if len(problems) > 0 {
				t.Errorf("pyarrow finds the statistics at odds with the values:\n%s", problems)
			}
		})
	}
}

// The parquet output must read the same in DuckDB, whose parquet reader is
// its own (C++, not Arrow's), as in parquet-go: every value of every row of
// readBackInputs' outputs, with the SQL types the columns mean.
// TAXIETA_DUCKDB_PYTHON is a Python with duckdb (scripts/services/duckdb.sh).
func TestParquetOutputReadsInDuckDB(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_DUCKDB_PYTHON")
	a := testModel(t)
	dir := t.TempDir()
	for _, in := range readBackInputs(t, dir) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			out := filepath.Join(dir, filepath.Base(in)+".scored.parquet")
			if _, err := Run(context.Background(), options(a, in, out)); err != nil {
				t.Fatal(err)
			}
			want := readOutput(t, out)
			types, got := readBack(t, python, duckdbDump, out)
			wantTypes := map[string]string{
				"ride_id": "VARCHAR", "pickup_datetime": "TIMESTAMP", "PULocationID": "INTEGER", "DOLocationID": "INTEGER",
				"passenger_count": "DOUBLE", "actual_minutes": "DOUBLE", "predicted_minutes": "FLOAT",
				"low_minutes": "FLOAT", "high_minutes": "FLOAT", "model_name": "VARCHAR", "model_version": "VARCHAR",
			}
			for name, typ := range wantTypes {
				if types[name] != typ {
					t.Errorf("DuckDB reads %s as %q, want %q", name, types[name], typ)
				}
			}
			compareRecords(t, "DuckDB", got, want)
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
