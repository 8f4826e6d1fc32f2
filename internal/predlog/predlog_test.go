package predlog

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/trip"
)

func service(t testing.TB, obs serving.Observer) (*serving.Service, *serving.ModelVersion) {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	mv := &serving.ModelVersion{Artifact: a, Name: "taxi-duration", Version: "4", Source: "embedded"}
	svc, err := serving.New(serving.NewStatic(mv), serving.Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return svc, mv
}

func trips(n int) []trip.Trip {
	out := make([]trip.Trip, n)
	for i := range out {
		out[i] = trip.Trip{PULocationID: uint16(1 + i%265), DOLocationID: uint16(1 + (i*7)%265), Passengers: int8(i%11) - 1}
		if i%3 == 0 {
			out[i].Pickup = time.Date(2024, 3, 4, i%24, 30, 0, 0, time.UTC)
		}
	}
	return out
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestEveryPredictionIsLogged: concurrent single predictions and batches,
// then Close; the files hold every prediction exactly once, as served.
func TestEveryPredictionIsLogged(t *testing.T) {
	dir := t.TempDir()
	sink, err := NewFileSink(dir, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	l, err := New(Options{Buffer: 1 << 20, Registerer: reg, FlushEvery: 10 * time.Millisecond}, sink)
	if err != nil {
		t.Fatal(err)
	}
	svc, mv := service(t, l)
	ts := trips(5000)
	want := map[string]trip.Prediction{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < 4000; i += 4 {
				id := "req-" + strconv.Itoa(i)
				p := svc.Predict(serving.Call{Protocol: serving.REST, ID: id}, mv, ts[i])
				mu.Lock()
				want[id] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	out := make([]trip.Prediction, 1000)
	svc.PredictBatch(serving.Call{Protocol: serving.Batch}, mv, ts[4000:], out)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := Files(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v, %v", files, err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) != 0 {
		t.Errorf("left %v", tmp)
	}
	recs, err := ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5000 {
		t.Fatalf("%d records; want 5000", len(recs))
	}
	batch := 0
	for _, r := range recs {
		if r.Model != "taxi-duration" || r.Version != "4" || r.Time == 0 {
			t.Fatalf("record %+v", r)
		}
		switch r.Protocol {
		case "rest":
			p, ok := want[r.ID]
			if !ok {
				t.Fatalf("record of unknown request %s", r.ID)
			}
			delete(want, r.ID)
			if p.Minutes != r.Minutes || p.Low != r.Low || p.High != r.High {
				t.Errorf("%s: logged %+v, served %+v", r.ID, r, p)
			}
		case "batch":
			tr := ts[4000+batch]
			if r.PULocationID != int32(tr.PULocationID) || r.DOLocationID != int32(tr.DOLocationID) || r.PassengerCount != int32(tr.Passengers) || r.Minutes != out[batch].Minutes {
				t.Errorf("batch row %d: logged %+v for %+v → %+v", batch, r, tr, out[batch])
			}
			if got := r.Pickup != 0; got != !tr.Pickup.IsZero() || (got && time.UnixMicro(r.Pickup).UTC() != tr.Pickup) {
				t.Errorf("batch row %d: pickup %d for %v", batch, r.Pickup, tr.Pickup)
			}
			batch++
		default:
			t.Fatalf("protocol %q", r.Protocol)
		}
	}
	if len(want) != 0 || batch != 1000 {
		t.Errorf("%d requests not logged; %d batch rows", len(want), batch)
	}
	if n := counter(t, reg, "taxieta_prediction_log_records_total"); n != 5000 {
		t.Errorf("records_total %v", n)
	}
	if n := counter(t, reg, "taxieta_prediction_log_dropped_total"); n != 0 {
		t.Errorf("dropped_total %v; want 0 with a large buffer", n)
	}
}

// TestDropsAreCountedExactly fills a tiny buffer faster than the writer
// can drain it: what is not logged is counted, to the record.
func TestDropsAreCountedExactly(t *testing.T) {
	dir := t.TempDir()
	sink, err := NewFileSink(dir, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	// A writer that never wakes on its own during the test.
	l, err := New(Options{Buffer: 10, Registerer: reg, FlushEvery: time.Hour}, sink)
	if err != nil {
		t.Fatal(err)
	}
	svc, mv := service(t, l)
	ts := trips(100)
	out := make([]trip.Prediction, len(ts))
	svc.PredictBatch(serving.Call{Protocol: serving.Batch}, mv, ts[:7], out) // 7 kept
	svc.PredictBatch(serving.Call{Protocol: serving.Batch}, mv, ts[7:], out) // 3 kept, 90 dropped
	svc.Predict(serving.Call{Protocol: serving.REST, ID: "late"}, mv, ts[0]) // maybe kept, if the writer drained
	// The writer may have drained between calls (a wake at half full), so
	// the exact figure is: logged + dropped = observed.
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := Files(dir)
	logged := 0
	for _, f := range files {
		recs, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		logged += len(recs)
	}
	dropped := counter(t, reg, "taxieta_prediction_log_dropped_total")
	if logged+int(dropped) != 101 || dropped < 80 {
		t.Errorf("logged %d + dropped %v; want 101 in all, most dropped", logged, dropped)
	}
	if n := counter(t, reg, "taxieta_prediction_log_records_total"); int(n) != logged {
		t.Errorf("records_total %v, files hold %d", n, logged)
	}
}

func TestFilesRotate(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 3, 13, 59, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sink, err := NewFileSink(dir, FileOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := []Record{{Time: 1, PULocationID: 1, DOLocationID: 2, PassengerCount: -1}}
	for _, at := range []time.Time{now, now.Add(30 * time.Second), now.Add(2 * time.Minute), now.Add(65 * time.Minute)} {
		now = at
		if err := sink.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := Files(dir)
	var names []string
	total := 0
	for _, f := range files {
		names = append(names, filepath.Base(f))
		recs, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		total += len(recs)
	}
	if len(files) != 3 || total != 4 || !strings.HasPrefix(names[0], "predictions-20261203T130000Z-") || !strings.HasPrefix(names[2], "predictions-20261203T150000Z-") {
		t.Errorf("files %v with %d records; want 13:00 (2), 14:00 (1), 15:00 (1)", names, total)
	}

	// A size limit starts a new file too.
	dir2 := t.TempDir()
	small, err := NewFileSink(dir2, FileOptions{MaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := small.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := small.Flush(ctx); err != nil { // bytes reach the file on flush
			t.Fatal(err)
		}
	}
	if files, _ := Files(dir2); len(files) != 3 {
		t.Errorf("%d files; want 3", len(files))
	}
}

func TestReadFileRefusesBrokenLogs(t *testing.T) {
	dir := t.TempDir()
	sink, _ := NewFileSink(dir, FileOptions{})
	ctx := context.Background()
	if err := sink.Write(ctx, []Record{{Time: 1, PULocationID: 1, DOLocationID: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := Files(dir)
	b, _ := os.ReadFile(files[0])
	cut := filepath.Join(dir, "cut.parquet")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{cut, "not a complete parquet file"},
		{files[0] + ".tmp", "is incomplete"},
		{filepath.Join(dir, "none.parquet"), "no such file"},
	} {
		if _, err := ReadFile(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), filepath.Base(tt.path)) {
			t.Errorf("ReadFile(%s): %v; want an error naming the file and %q", tt.path, err, tt.want)
		}
	}
	if _, err := NewFileSink(filepath.Join(files[0], "sub"), FileOptions{}); err == nil {
		t.Error("a log directory under a file was accepted")
	}
}

// TestPyArrowReadsTheLog: the files are ordinary parquet for Python users.
func TestPyArrowReadsTheLog(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_PYARROW_PYTHON")
	dir := t.TempDir()
	sink, _ := NewFileSink(dir, FileOptions{})
	l, err := New(Options{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	svc, mv := service(t, l)
	ts := trips(300)
	out := make([]trip.Prediction, len(ts))
	svc.PredictBatch(serving.Call{Protocol: serving.Stream, ID: "ride-1"}, mv, ts, out)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet").to_table()
print(json.dumps({"rows": t.num_rows, "columns": t.column_names,
  "first": {k: str(v[0]) for k, v in t.to_pydict().items()},
  "pickup_nulls": t.column("pickup_datetime").null_count}))
`
	b, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, b)
	}
	var got struct {
		Rows        int
		Columns     []string
		First       map[string]string
		PickupNulls int `json:"pickup_nulls"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got.Rows != 300 || got.PickupNulls != 200 || got.First["protocol"] != "stream" || got.First["id"] != "ride-1" || got.First["pickup_datetime"] != "2024-03-04 00:30:00" {
		t.Errorf("pyarrow read %+v", got)
	}
}

func BenchmarkObserve(b *testing.B) {
	sink, err := NewFileSink(b.TempDir(), FileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := New(Options{Buffer: 1 << 20}, sink)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	svc, mv := service(b, l)
	tr := trips(1)[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			svc.Predict(serving.Call{Protocol: serving.REST, ID: "x"}, mv, tr)
		}
	})
}
