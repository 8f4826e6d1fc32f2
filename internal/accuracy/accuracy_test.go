package accuracy

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/batch"
	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/predlog"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

func seam(t *testing.T, obs serving.Observer) (*serving.Service, *serving.ModelVersion) {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	mv := &serving.ModelVersion{Artifact: a, Name: a.Name, Version: "1", Source: "embedded"}
	svc, err := serving.New(serving.NewStatic(mv), serving.Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return svc, mv
}

// TestBatchOutputReproducesPredict: on a batch output of green 2024-03,
// the report's overall RMSE and range share are the ones `taxieta predict`
// printed, bit for bit, and each day's are those computed independently
// from the actual trips.
func TestBatchOutputReproducesPredict(t *testing.T) {
	actuals := filepath.Join(testenv.DataDir(t), "green_tripdata_2024-03.parquet")
	for _, ignoreTime := range []bool{false, true} {
		name := "with pickup time"
		if ignoreTime {
			name = "zones and passengers only"
		}
		t.Run(name, func(t *testing.T) {
			svc, mv := seam(t, nil)
			out := filepath.Join(t.TempDir(), "scored.parquet")
			sum, err := batch.Run(context.Background(), batch.Options{In: actuals, Out: out, Models: svc, Model: mv,
				Rules: mv.Artifact.Cleaning.Rules, IgnorePickupTime: ignoreTime, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Evaluate(context.Background(), out, actuals, mv.Artifact.Cleaning.Rules)
			if err != nil {
				t.Fatal(err)
			}
			m := sum.Evaluation.Metrics
			wantRMSE, wantCov := m.RMSE, m.IntervalCoverage
			if !ignoreTime && m.RMSEWithTime != nil {
				wantRMSE, wantCov = *m.RMSEWithTime, *m.IntervalCoverageWithTime
			}
			got := rep.Overall.Metrics
			if got == nil || got.RMSE != wantRMSE || got.IntervalCoverage != wantCov || got.Rows != m.Rows {
				t.Fatalf("overall %+v; predict printed RMSE %v, in range %v on %d rows", got, wantRMSE, wantCov, m.Rows)
			}
			t.Logf("overall: %d trips judged, RMSE %.4f, MAE %.4f, bias %+.4f, in range %.1f%%; %d days",
				got.Rows, got.RMSE, got.MAE, *rep.Overall.Bias, 100*got.IntervalCoverage, len(rep.Days))
			if rep.Unmatched != 0 || rep.Estimated != sum.Written {
				t.Errorf("estimated %d (written %d), unmatched %d", rep.Estimated, sum.Written, rep.Unmatched)
			}

			// Each day, computed from the actual trips directly.
			days := map[string]*model.Sums{}
			rules := mv.Artifact.Cleaning.Rules
			var st trip.Stats
			err = tlc.ReadFile(context.Background(), actuals, func(raws []trip.Raw) error {
				for _, r := range raws {
					ex, ok := rules.Clean(r, &st)
					if !ok {
						continue
					}
					if ignoreTime {
						ex.Trip.Pickup = time.Time{}
					}
					day := time.UnixMicro(r.PickupMicros).UTC().Format(time.DateOnly)
					if days[day] == nil {
						days[day] = &model.Sums{}
					}
					days[day].Add(ex.Minutes, mv.Artifact.Model.Predict(ex.Trip))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			judged := 0
			for _, d := range rep.Days {
				sums, ok := days[d.Day]
				if !ok { // trips of the day, none kept by cleaning (e.g. a stray date)
					if d.Metrics != nil || d.Note == "" {
						t.Errorf("%s: no trip kept, yet %+v %q", d.Day, d.Metrics, d.Note)
					}
					continue
				}
				judged++
				if want := sums.Metrics(); d.Metrics == nil || *d.Metrics != want {
					t.Errorf("%s: %+v; want %+v", d.Day, d.Metrics, want)
				}
			}
			if judged != len(days) {
				t.Errorf("%d days judged; the file has %d days with kept trips", judged, len(days))
			}
		})
	}
}

// TestPredictionLogJoinsByPickupAndZones: a prediction log has no row
// index; its estimates are joined with the actual trips by pickup time and
// zones.
func TestPredictionLogJoinsByPickupAndZones(t *testing.T) {
	actuals := filepath.Join(testenv.DataDir(t), "green_tripdata_2024-03.parquet")
	dir := t.TempDir()
	sink, err := predlog.NewFileSink(dir, predlog.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := predlog.New(predlog.Options{Buffer: 1 << 20}, sink)
	if err != nil {
		t.Fatal(err)
	}
	svc, mv := seam(t, l)
	var raws []trip.Raw
	if err := tlc.ReadFile(context.Background(), actuals, func(rs []trip.Raw) error { raws = append(raws, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	// The first 5,000 trips with valid zones and a pickup time, asked one by one as the call centre would.
	var want model.Sums
	asked := 0
	for _, r := range raws {
		if asked == 5000 {
			break
		}
		if !trip.ValidZone(r.PULocationID) || !trip.ValidZone(r.DOLocationID) || r.PickupMicros == tlc.NullTime {
			continue
		}
		tr := trip.Trip{PULocationID: uint16(r.PULocationID), DOLocationID: uint16(r.DOLocationID), Passengers: trip.PassengersOf(r.Passengers),
			Pickup: time.UnixMicro(r.PickupMicros).UTC()}
		p := svc.Predict(serving.Call{Protocol: serving.REST, ID: "r"}, mv, tr)
		asked++
		if ex, ok := mv.Artifact.Cleaning.Rules.Clean(r, &trip.Stats{}); ok {
			want.Add(ex.Minutes, p)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(context.Background(), dir, actuals, mv.Artifact.Cleaning.Rules)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Estimated != 5000 || rep.Unmatched != 0 || rep.Overall.Metrics == nil {
		t.Fatalf("report %+v", rep)
	}
	// Trips that share pickup time and zones may pair up in another order,
	// so the figures agree closely rather than to the bit.
	if w := want.Metrics(); math.Abs(rep.Overall.Metrics.RMSE-w.RMSE) > 1e-6*w.RMSE || rep.Overall.Metrics.Rows != w.Rows {
		t.Errorf("overall %+v; want %+v", rep.Overall.Metrics, w)
	}
}

func TestBadInputs(t *testing.T) {
	data := testenv.DataDir(t)
	actuals := filepath.Join(data, "green_tripdata_2024-03.parquet")
	dir := t.TempDir()
	svc, mv := seam(t, nil)
	out := filepath.Join(dir, "scored.parquet")
	if _, err := batch.Run(context.Background(), batch.Options{In: filepath.Join(data, "green_tripdata_2021-01.parquet"), Out: out, Models: svc, Model: mv, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	cut := filepath.Join(dir, "cut.parquet")
	_ = os.WriteFile(cut, b[:len(b)/2], 0o644)
	empty := t.TempDir()
	tests := []struct{ estimates, actuals, want string }{
		{cut, actuals, "not a complete parquet file"},
		{actuals, actuals, "not a taxieta batch output or prediction log"},
		{empty, actuals, "no prediction log files"},
		{filepath.Join(dir, "none.parquet"), actuals, "no such file"},
		{out, filepath.Join(dir, "none.parquet"), "actual trips"},
	}
	for _, tt := range tests {
		if _, err := Evaluate(context.Background(), tt.estimates, tt.actuals, trip.Rules{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Evaluate(%s, %s): %v; want %q", filepath.Base(tt.estimates), filepath.Base(tt.actuals), err, tt.want)
		}
	}
	// Estimates of 2021-01 against the trips of 2024-03: joined by row, they
	// are judged (wrongly, but by row) — so a day with no kept trip, or no
	// match at all, reads as a note, never NaN.
	rep, err := Evaluate(context.Background(), out, actuals, trip.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(rep.Days, rep.Overall) {
		if d.Metrics == nil && d.Note == "" && d.Trips > 0 {
			t.Errorf("day %s has trips but neither figures nor a note", d.Day)
		}
		if d.Metrics != nil && (math.IsNaN(d.Metrics.RMSE) || math.IsNaN(*d.Bias)) {
			t.Errorf("day %s: NaN", d.Day)
		}
	}
}
