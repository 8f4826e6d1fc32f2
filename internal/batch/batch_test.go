package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// Real months in, every output format out: every row is written with its
// ride id, its input values and the model's estimate, and the evaluation is
// exactly model.Evaluate's on the rows training's cleaning keeps.
func TestRunRealFiles(t *testing.T) {
	a := testModel(t)
	tests := []struct {
		in, out string
		prefix  string
		rows    int64
		kept    int64
	}{
		{"green_tripdata_2021-01.parquet", "out.parquet", "2021/01_", 76518, 73908}, // layout A: int64 ids, double passengers
		{"green_tripdata_2023-02.parquet", "out.jsonl", "2023/02_", 64809, 62574},   // layout B: int32 ids, int64 passengers
		{"yellow_tripdata_sample_2019-03.csv", "out.csv", "2019/03_", 10000, 9825},  // CSV, snake_case headers
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			in := dataFile(t, tt.in)
			dir := t.TempDir()
			out := filepath.Join(dir, tt.out)
			sum, err := Run(context.Background(), options(a, in, out))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Rows != tt.rows || sum.Written != tt.rows || sum.Rejected != 0 {
				t.Errorf("rows %d written %d rejected %d; want %d, %d, 0", sum.Rows, sum.Written, sum.Rejected, tt.rows, tt.rows)
			}
			if got := listDir(t, dir); len(got) != 1 {
				t.Errorf("output folder holds %v; want only %s", got, tt.out)
			}

			var raws []trip.Raw
			var examples []trip.Example
			var stats trip.Stats
			if err := tlc.ReadFile(context.Background(), in, func(rs []trip.Raw) error {
				raws = append(raws, rs...)
				for _, r := range rs {
					if ex, ok := a.Cleaning.Rules.Clean(r, &stats); ok {
						examples = append(examples, ex)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if sum.Evaluation == nil {
				t.Fatal("no evaluation of an input with actual durations")
			}
			if sum.Evaluation.Cleaning != stats || stats.Kept != tt.kept {
				t.Errorf("cleaning %+v; want %+v (kept %d)", sum.Evaluation.Cleaning, stats, tt.kept)
			}
			checkMetrics(t, sum.Evaluation.Metrics, model.Evaluate(a.Model, examples))

			want := expected(a.Model, raws)
			recs := readOutput(t, out)
			if len(recs) != len(raws) {
				t.Fatalf("%d output rows; want %d", len(recs), len(raws))
			}
			for i, rec := range recs {
				r := raws[i]
				if rec.RideID != fmt.Sprintf("%s%d", tt.prefix, i) || rec.PU != r.PULocationID || rec.DO != r.DOLocationID ||
					rec.Pred != want[i] || rec.Name != a.Name || rec.Version != "test-version" {
					t.Fatalf("row %d: %+v; want ride_id %s%d, zones %d→%d, estimate %+v", i, rec, tt.prefix, i, r.PULocationID, r.DOLocationID, want[i])
				}
				if (rec.Passengers == nil) != math.IsNaN(r.Passengers) || (rec.Passengers != nil && *rec.Passengers != r.Passengers) {
					t.Fatalf("row %d: passenger_count %v; want %v", i, rec.Passengers, r.Passengers)
				}
				if rec.Pickup != string(appendDateTime(nil, r.PickupMicros)) {
					t.Fatalf("row %d: pickup %q", i, rec.Pickup)
				}
				if minutes := float64(r.DropoffMicros-r.PickupMicros) / 60e6; rec.Actual == nil || math.Abs(*rec.Actual-minutes) > 1e-9 {
					t.Fatalf("row %d: actual minutes %v; want %v", i, rec.Actual, minutes)
				}
			}
		})
	}
}

func checkMetrics(t *testing.T, got, want model.Metrics) {
	t.Helper()
	if got.Rows != want.Rows || got.RMSE != want.RMSE || got.MAE != want.MAE || got.R2 != want.R2 || got.IntervalCoverage != want.IntervalCoverage {
		t.Errorf("metrics %+v; want model.Evaluate's %+v", got, want)
	}
	if (got.RMSEWithTime == nil) != (want.RMSEWithTime == nil) ||
		(got.RMSEWithTime != nil && (*got.RMSEWithTime != *want.RMSEWithTime || *got.IntervalCoverageWithTime != *want.IntervalCoverageWithTime)) {
		t.Errorf("metrics with time %v %v; want %v %v", got.RMSEWithTime, got.IntervalCoverageWithTime, want.RMSEWithTime, want.IntervalCoverageWithTime)
	}
}

// The three output formats hold the same values, and JSON Lines output read
// back as input scores the same (its ride ids kept).
func TestFormatsAgree(t *testing.T) {
	a := testModel(t)
	in := dataFile(t, "yellow_tripdata_sample_2019-04.csv")
	dir := t.TempDir()
	var base []record
	for _, out := range []string{"o.parquet", "o.csv", "o.jsonl"} {
		if _, err := Run(context.Background(), options(a, in, filepath.Join(dir, out))); err != nil {
			t.Fatal(err)
		}
		recs := readOutput(t, filepath.Join(dir, out))
		if base == nil {
			base = recs
			continue
		}
		compareRecords(t, out, recs, base)
	}
	// Round trip: JSON Lines output as input. The durations are not input
	// fields, so there is no evaluation and no actual_minutes.
	again := filepath.Join(dir, "again.parquet")
	sum, err := Run(context.Background(), options(a, filepath.Join(dir, "o.jsonl"), again))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Evaluation != nil || sum.Written != int64(len(base)) {
		t.Errorf("round trip: %+v", sum)
	}
	recs := readOutput(t, again)
	for i := range base {
		base[i].Actual = nil
	}
	compareRecords(t, "round trip", recs, base)
}

func compareRecords(t *testing.T, name string, got, want []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows; want %d", name, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.RideID != w.RideID || g.Pickup != w.Pickup || g.PU != w.PU || g.DO != w.DO || g.Pred != w.Pred ||
			g.Name != w.Name || g.Version != w.Version || !sameFloat(g.Passengers, w.Passengers) || !sameFloat(g.Actual, w.Actual) {
			t.Fatalf("%s row %d: %+v; want %+v", name, i, g, w)
		}
	}
}

// tlcRow writes test files in the TLC green layout.
type tlcRow struct {
	Pickup     int64    `parquet:"lpep_pickup_datetime,timestamp(microsecond:local)"`
	Dropoff    int64    `parquet:"lpep_dropoff_datetime,timestamp(microsecond:local)"`
	PU         *int64   `parquet:"PULocationID,optional"`
	DO         int64    `parquet:"DOLocationID"`
	Passengers *float64 `parquet:"passenger_count,optional"`
}

func writeTLC(t testing.TB, path string, rows []tlcRow) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[tlcRow](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// A row that cannot be scored fails the run, naming it, and leaves no file;
// with skip it lands in the rejects file with the reason.
func TestRejectedRows(t *testing.T) {
	a := testModel(t)
	const t0 = 1609459200000000 // 2021-01-01 00:00:00
	good := func(pu int64) tlcRow {
		return tlcRow{Pickup: t0, Dropoff: t0 + 600e6, PU: ptr(pu), DO: 7, Passengers: ptr(1.0)}
	}
	parquetRows := []tlcRow{good(1), good(2), {Pickup: t0, Dropoff: t0 + 60e6, PU: nil, DO: 7}, good(300), good(4)}
	jsonLines := strings.Join([]string{
		`{"ride_id": "a", "PULocationID": 43, "DOLocationID": 151, "passenger_count": 1, "pickup_datetime": "2021-01-01 00:15:56"}`,
		`{"ride_id": "b", "PULocationID": 300, "DOLocationID": 151}`,
		``,
		`{"ride_id": "c", "PULocationID": "43", "DOLocationID": 151}`,
		`{"ride_id": "d", "PULocationID": 43, "DOLocationID": 151, "passenger_count": 12}`,
		`not json`,
		`{"ride_id": "e", "PULocationID": 43}`,
		`{"PULocationID": 43.0, "DOLocationID": 151, "passenger_count": null, "extra": {"nested": [1, 2]}}`,
		`{"ride_id": "f", "PULocationID": 43, "DOLocationID": 151, "pickup_datetime": "yesterday"}`,
		`{"ride_id": "g", "PULocationID": 43, "PULocationID": 44, "DOLocationID": 151}`,
		`{"ride_id": "h", "PULocationID": 43, "DOLocationID": }`,
	}, "\n")
	csvText := "tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,PULocationID,DOLocationID\n" +
		"2019-03-01 10:00:00,2019-03-01 10:12:00,1,43,151\n" +
		"2019-03-01 10:00:00,2019-03-01 10:12:00,1,abc,151\n" +
		"2019-03-01 10:00:00,2019-03-01 10:12:00,1,43\n" +
		"03/01/2019 10:00:00 AM,2019-03-01 10:12:00,,43,151\n" +
		"2019-03-01 10:00:00,soon,1,43,151\n"

	tests := []struct {
		name       string
		file       string // input file name
		write      func(t *testing.T, path string)
		wantIDs    []string // ride ids written, with skip
		wantReject []string // "where: reason fragment" of the rejects, in order
		failWhere  string   // how the failing run names the first reject
	}{
		{
			name: "parquet", file: "green_tripdata_2021-01.parquet",
			write:      func(t *testing.T, p string) { writeTLC(t, p, parquetRows) },
			wantIDs:    []string{"2021/01_0", "2021/01_1", "2021/01_4"},
			wantReject: []string{`"row":2: PULocationID is empty or 0`, `"row":3: PULocationID must be a zone id from 1 to 265, got 300`},
			failWhere:  "row 2 (ride_id 2021/01_2): PULocationID is empty or 0",
		},
		{
			name: "jsonl", file: "trips.jsonl",
			write:   func(t *testing.T, p string) { os.WriteFile(p, []byte(jsonLines), 0o644) },
			wantIDs: []string{"a", "8"},
			wantReject: []string{
				`"line":2: PULocationID must be a zone id from 1 to 265, got 300`,
				`"line":4: PULocationID must be an integer zone id from 1 to 265, got a string`,
				`"line":5: passenger_count must be from 0 to 9, got 12`,
				`"line":6: not a JSON object`,
				`"line":7: DOLocationID is missing`,
				`"line":9: pickup_datetime must be an ISO 8601 date-time like 2024-03-04T08:15:00 (New York time) or with an offset like 2024-03-04T13:15:00Z, got "yesterday"`,
				`"line":10: PULocationID is given more than once`,
				`"line":11: malformed JSON at byte 54: want a value`,
			},
			failWhere: "line 2 (ride_id b): PULocationID must be a zone id from 1 to 265, got 300",
		},
		{
			name: "csv", file: "yellow_2019-03.csv",
			write:   func(t *testing.T, p string) { os.WriteFile(p, []byte(csvText), 0o644) },
			wantIDs: []string{"2019/03_0", "2019/03_3"},
			wantReject: []string{
				`"line":3: PULocationID: "abc" is not an integer`,
				`"line":4: DOLocationID: missing`,
				`"line":6: tpep_dropoff_datetime: "soon" is not a time`,
			},
			failWhere: `line 3 (ride_id 2019/03_1): PULocationID: "abc" is not an integer`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir, outDir := t.TempDir(), t.TempDir()
			in := filepath.Join(inDir, tt.file)
			tt.write(t, in)
			out := filepath.Join(outDir, "scored.jsonl")

			_, err := Run(context.Background(), options(a, in, out))
			var re *RowError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.failWhere) {
				t.Errorf("fail mode: err = %v; want a RowError naming %q", err, tt.failWhere)
			}
			if got := listDir(t, outDir); len(got) != 0 {
				t.Errorf("a failed run left %v", got)
			}

			opts := options(a, in, out)
			opts.OnError = OnErrorSkip
			sum, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range readOutput(t, out) {
				ids = append(ids, r.RideID)
			}
			if !equalStrings(ids, tt.wantIDs) {
				t.Errorf("written ride ids %v; want %v", ids, tt.wantIDs)
			}
			if sum.Written != int64(len(tt.wantIDs)) || sum.Rejected != int64(len(tt.wantReject)) || sum.Rows != sum.Written+sum.Rejected {
				t.Errorf("summary %+v", sum)
			}
			if sum.Rejects != out+".rejects.jsonl" {
				t.Errorf("rejects file %q", sum.Rejects)
			}
			checkRejects(t, sum.Rejects, tt.wantReject)
		})
	}
}

// checkRejects reads a rejects file: each line is a JSON object with the
// row or line, the reason and the input.
func checkRejects(t *testing.T, path string, want []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	if len(lines) != len(want) {
		t.Fatalf("rejects file has %d lines; want %d:\n%s", len(lines), len(want), b)
	}
	for i, line := range lines {
		var rec struct {
			RideID string          `json:"ride_id"`
			Row    *int64          `json:"row"`
			Line   *int64          `json:"line"`
			Reason string          `json:"reason"`
			Input  json.RawMessage `json:"input"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil || rec.RideID == "" || len(rec.Input) == 0 {
			t.Fatalf("rejects line %q: %v", line, err)
		}
		where, reason, _ := strings.Cut(want[i], ": ")
		got := fmt.Sprintf(`"line":%d`, deref(rec.Line))
		if rec.Row != nil {
			got = fmt.Sprintf(`"row":%d`, *rec.Row)
		}
		if got != where || !strings.Contains(rec.Reason, reason) {
			t.Errorf("reject %d: %s %q; want %s %q", i, got, rec.Reason, where, reason)
		}
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// Stdin and stdout: JSON Lines both ways; the rejects need a named file.
func TestStdinStdout(t *testing.T) {
	a := testModel(t)
	in := `{"ride_id": 17, "PULocationID": 43, "DOLocationID": 151}` + "\n" + `{"ride_id": "x", "PULocationID": 0, "DOLocationID": 151}`
	var stdout bytes.Buffer
	opts := options(a, "-", "-")
	opts.Stdin, opts.Stdout = strings.NewReader(in), &stdout
	opts.OnError = OnErrorSkip
	if _, err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "--rejects") {
		t.Errorf("skip to stdout without --rejects: err = %v", err)
	}
	opts.Rejects = filepath.Join(t.TempDir(), "rejects.jsonl")
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	recs := readJSONLOutput(t, &stdout)
	want := a.Model.Predict(trip.Trip{PULocationID: 43, DOLocationID: 151, Passengers: trip.NoPassengers})
	if len(recs) != 1 || recs[0].RideID != "17" || recs[0].Pred != want || recs[0].Pickup != "" || recs[0].Passengers != nil {
		t.Errorf("stdout %+v; want ride 17 estimated %+v", recs, want)
	}
	if sum.Rejected != 1 {
		t.Errorf("rejected %d; want 1", sum.Rejected)
	}
	checkRejects(t, opts.Rejects, []string{`"line":2: PULocationID is empty or 0`})
}

// Runs that cannot start or are stopped leave no file behind.
func TestBadRuns(t *testing.T) {
	a := testModel(t)
	in := dataFile(t, "green_tripdata_2021-02.parquet")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		edit func(o *Options, dir string)
		want string
	}{
		{"canceled", canceled, func(*Options, string) {}, "context canceled"},
		{"unknown output type", context.Background(), func(o *Options, dir string) { o.Out = filepath.Join(dir, "out.xlsx") }, `unknown file type ".xlsx"`},
		{"unknown input type", context.Background(), func(o *Options, dir string) { o.In = filepath.Join(dir, "in.txt") }, `unknown file type ".txt"`},
		{"missing input", context.Background(), func(o *Options, dir string) { o.In = filepath.Join(dir, "none.parquet") }, "no such file"},
		{"output folder missing", context.Background(), func(o *Options, dir string) { o.Out = filepath.Join(dir, "no", "out.parquet") }, "no such file"},
		{"bad on-error", context.Background(), func(o *Options, _ string) { o.OnError = "ignore" }, `on-error "ignore"`},
		{"no model", context.Background(), func(o *Options, _ string) { o.Model = nil }, "no model"},
		{"not parquet", context.Background(), func(o *Options, dir string) {
			o.In = filepath.Join(dir, "fake_2021-01.parquet")
			os.WriteFile(o.In, []byte("not parquet at all"), 0o644)
		}, "not a readable TLC trip file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := options(a, in, filepath.Join(dir, "out.parquet"))
			opts.OnError = OnErrorSkip
			tt.edit(&opts, dir)
			_, err := Run(tt.ctx, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want %q", err, tt.want)
			}
			for _, name := range listDir(t, dir) {
				if !strings.HasSuffix(name, ".parquet") || strings.HasPrefix(name, "out") {
					t.Errorf("left %s behind", name)
				}
			}
		})
	}
}

// tlcDictRow is a TLC layout with dictionary-encoded, optional columns.
type tlcDictRow struct {
	Pickup     *int64   `parquet:"lpep_pickup_datetime,optional,dict,timestamp(microsecond:local)"`
	Dropoff    int64    `parquet:"lpep_dropoff_datetime,timestamp(microsecond:local)"`
	PU         int32    `parquet:"PULocationID,dict"`
	DO         int32    `parquet:"DOLocationID,dict"`
	Passengers *float64 `parquet:"passenger_count,optional,dict"`
}

// Pages whose values are all null (a run of empty passenger counts, as
// 2021 files have) and several row groups read right: a regression test of
// internal/tlc's typed page decoding.
func TestNullPagesAndRowGroups(t *testing.T) {
	a := testModel(t)
	const t0 = 1609459200000000
	const n = 20000
	rows := make([]tlcDictRow, n)
	for i := range rows {
		rows[i] = tlcDictRow{Dropoff: t0 + int64(i)*1e6 + 600e6, PU: int32(1 + i%265), DO: int32(1 + (i*7)%265)}
		if i >= 12000 {
			rows[i].Passengers = ptr(float64(i % 4))
		}
		if i%3 != 0 {
			rows[i].Pickup = ptr(t0 + int64(i)*1e6)
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "green_tripdata_2021-01.parquet")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[tlcDictRow](f, parquet.PageBufferSize(4096), parquet.MaxRowsPerRowGroup(7000))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "out.jsonl")
	sum, err := Run(context.Background(), options(a, in, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != n {
		t.Fatalf("wrote %d rows; want %d", sum.Written, n)
	}
	for i, rec := range readOutput(t, out) {
		r := rows[i]
		if (rec.Passengers == nil) != (r.Passengers == nil) || (r.Passengers != nil && *rec.Passengers != *r.Passengers) ||
			(rec.Pickup == "") != (r.Pickup == nil) || rec.PU != int64(r.PU) || rec.DO != int64(r.DO) || (rec.Actual == nil) != (r.Pickup == nil) {
			t.Fatalf("row %d: %+v; want %+v", i, rec, r)
		}
	}
}
