package live_test

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc/tlctest"
	"github.com/taxieta/taxieta/internal/trip"
)

func defaultVersion(t testing.TB) *serving.ModelVersion {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	return &serving.ModelVersion{Artifact: a, Name: a.Name, Version: "1"}
}

// clock is a settable time.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func TestWindowsSlideAndModelsSwap(t *testing.T) {
	mv := defaultVersion(t)
	var cur atomic.Pointer[serving.ModelVersion]
	cur.Store(mv)
	var clk clock
	clk.ns.Store(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC).UnixNano())
	reg := prometheus.NewRegistry()
	m, err := live.New(cur.Load, live.Options{Now: clk.now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	trips := make([]trip.Trip, 300)
	for i := range trips {
		trips[i] = trip.Trip{PULocationID: uint16(1 + i%200), DOLocationID: 75, Passengers: 1}
	}
	preds := make([]trip.Prediction, len(trips))
	mv.Artifact.Model.PredictBatch(trips, preds)
	m.Observe(serving.Observation{Model: mv, Trips: trips, Predictions: preds})
	trips1 := func(w string) int64 {
		for _, x := range m.Snapshot().Windows {
			if x.Window == w {
				return x.Trips
			}
		}
		return -1
	}
	if trips1("1h") != 300 || trips1("24h") != 300 {
		t.Fatalf("after 300 trips: %+v", m.Snapshot())
	}
	// Not the default model: not counted.
	other := &serving.ModelVersion{Artifact: mv.Artifact, Name: mv.Name, Version: "2"}
	m.Observe(serving.Observation{Model: other, Trips: trips, Predictions: preds})
	if trips1("1h") != 300 {
		t.Errorf("a non-default version was counted")
	}
	clk.add(61 * time.Minute)
	if trips1("1h") != 0 || trips1("24h") != 300 {
		t.Errorf("61 minutes later: 1h %d, 24h %d; want 0 and 300", trips1("1h"), trips1("24h"))
	}
	clk.add(24 * time.Hour)
	if trips1("24h") != 0 {
		t.Errorf("a day later: 24h %d; want 0", trips1("24h"))
	}
	// Metrics: bounded names, enabled, no score while too few trips.
	if n, v := series(t, reg, "taxieta_monitoring_enabled"); n != 1 || v != 1 {
		t.Errorf("taxieta_monitoring_enabled: %d series, %v", n, v)
	}
	if n, _ := series(t, reg, "taxieta_drift_score"); n != 0 {
		t.Errorf("taxieta_drift_score series with empty windows: %d", n)
	}
	if n, _ := series(t, reg, "taxieta_drift_flag"); n != 10 {
		t.Errorf("taxieta_drift_flag series %d; want 5 features × 2 windows", n)
	}
	// A new default without a profile: monitoring off.
	bare := *mv.Artifact
	bare.Profile = nil
	cur.Store(&serving.ModelVersion{Artifact: &bare, Name: "old", Version: "0"})
	m.Observe(serving.Observation{Model: cur.Load(), Trips: trips, Predictions: preds})
	if s := m.Snapshot(); s.Enabled || !strings.Contains(s.Reason, "no drift profile") {
		t.Errorf("model without a profile: %+v", s)
	}
}

// series counts the series of a metric and gives the first one's value.
func series(t *testing.T, reg *prometheus.Registry, name string) (int, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric()), mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0, 0
}

// TestObserveConcurrent counts from many goroutines while snapshots are
// taken (run with -race), and observing allocates nothing.
func TestObserveConcurrent(t *testing.T) {
	mv := defaultVersion(t)
	m, err := live.New(func() *serving.ModelVersion { return mv }, live.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := []trip.Trip{{PULocationID: 74, DOLocationID: 75, Passengers: 1, Pickup: time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)}}
	pr := []trip.Prediction{mv.Artifact.Model.Predict(tr[0])}
	o := serving.Observation{Model: mv, Trips: tr, Predictions: pr}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				m.Observe(o)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = m.Snapshot()
		}
	})
	wg.Wait()
	if got := m.Snapshot().Windows[0].Trips; got != 8000 {
		t.Errorf("counted %d; want 8000", got)
	}
	if a := testing.AllocsPerRun(100, func() { m.Observe(o) }); a != 0 {
		t.Errorf("Observe allocates %v times", a)
	}
}

// replay observes trips in pickup order, one prediction at a time, with
// the clock at each trip's pickup time (as live traffic would have it),
// and scores the windows every 30 minutes of that clock. It returns, per
// window and feature, how many snapshots computed the feature and how
// many flagged it, and the same counts of the snapshots whose window holds
// no hour of a day in skip.
func replay(t *testing.T, mv *serving.ModelVersion, trips []trip.Trip, skip []string) (computed, flagged, computedOff, flaggedOff map[string]int) {
	t.Helper()
	trips = slices.Clone(trips)
	slices.SortStableFunc(trips, func(a, b trip.Trip) int { return a.Pickup.Compare(b.Pickup) })
	preds := make([]trip.Prediction, len(trips))
	mv.Artifact.Model.PredictBatch(trips, preds)
	var clk clock
	m, err := live.New(func() *serving.ModelVersion { return mv }, live.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	computed, flagged, computedOff, flaggedOff = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	const every = 30 * time.Minute
	skipped := func(w live.WindowSnapshot, at time.Time) bool {
		for _, d := range skip {
			day, _ := time.Parse(time.DateOnly, d)
			if at.After(day) && at.Add(-time.Duration(w.Seconds)*time.Second).Before(day.AddDate(0, 0, 1)) {
				return true
			}
		}
		return false
	}
	var next time.Time
	for i := range trips {
		at := trips[i].Pickup
		for !next.IsZero() && !at.Before(next) {
			clk.ns.Store(next.UnixNano())
			for _, w := range m.Snapshot().Windows {
				off := !skipped(w, next)
				for _, f := range w.Features {
					k := w.Window + " " + f.Feature
					if f.Computed {
						computed[k]++
						if off {
							computedOff[k]++
						}
					}
					if f.Flag {
						flagged[k]++
						if off {
							flaggedOff[k]++
						}
						if flagged[k]%12 == 1 {
							t.Logf("%s %s: %.4f > %.4f (%d trips)", next.Format(time.DateTime), k, f.Score, f.Threshold, f.Trips)
						}
					}
				}
			}
			next = next.Add(every)
		}
		if next.IsZero() {
			next = at.Truncate(every).Add(every)
		}
		clk.ns.Store(at.UnixNano())
		m.Observe(serving.Observation{Model: mv, Trips: trips[i : i+1], Predictions: preds[i : i+1]})
	}
	return computed, flagged, computedOff, flaggedOff
}

// TestReplayRealMonths replays whole real months through the live windows
// in time order, as a deployment would see them. The four months the
// default model was trained on raise flags no more often than the
// calibrated false-alarm rate (1% of windows, 2% allowed), though their
// nights and weekends differ from the week's mix, and none at all outside
// the windows that hold a public holiday (a Monday holiday's trips look
// like a Sunday's, and the day windows that hold New Year's Day, Martin
// Luther King Day or Presidents' Day may flag the zones). The hour of week
// of a sliding window is never scored. Another taxi type (the yellow
// sample) and another period (green 2021-01) flag the pickup zones in
// every day window.
func TestReplayRealMonths(t *testing.T) {
	if raceEnabled {
		t.Skip("a single-goroutine replay of six months, run without the race detector (it makes each atomic count a hundred times slower; TestObserveConcurrent covers races): go test -run TestReplayRealMonths ./internal/drift/live")
	}
	dir := testenv.DataDir(t)
	mv := defaultVersion(t)
	holidays := []string{"2023-01-01", "2023-01-02", "2023-01-16", "2023-02-20"}
	total := map[string][2]int{}
	for _, tt := range []struct {
		file    string
		drifted bool
	}{
		{"green_tripdata_2023-01.parquet", false},
		{"green_tripdata_2023-02.parquet", false},
		{"green_tripdata_2023-03.parquet", false},
		{"green_tripdata_2023-04.parquet", false},
		{"yellow_tripdata_sample_2019-03.csv", true},
		{"green_tripdata_2021-01.parquet", true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			trips := inMonth(tlctest.CleanTrips(t, filepath.Join(dir, tt.file)))
			computed, flagged, computedOff, flaggedOff := replay(t, mv, trips, holidays)
			for _, w := range []string{"1h", "24h"} {
				for f := range drift.NumFeatures {
					k := w + " " + f.String()
					t.Logf("%s %-28s computed in %5d snapshots, flagged in %5d (%d of %d outside holidays)", tt.file, k, computed[k], flagged[k], flaggedOff[k], computedOff[k])
					if f == drift.HourOfWeek && computed[k] != 0 {
						t.Errorf("%s: a sliding window's hour of week was scored", k)
					}
					if !tt.drifted {
						total[k] = [2]int{total[k][0] + computed[k], total[k][1] + flagged[k]}
						if flaggedOff[k] != 0 {
							t.Errorf("%s: flagged in %d of %d snapshots outside public holidays; want none", k, flaggedOff[k], computedOff[k])
						}
					}
				}
			}
			k := "24h pickup_zone"
			if computed[k] < 1300 {
				t.Errorf("%s computed in %d snapshots only; want all but the first day's", k, computed[k])
			}
			if tt.drifted && flagged[k] != computed[k] {
				t.Errorf("%s: flagged in %d of %d snapshots; want all", k, flagged[k], computed[k])
			}
		})
	}
	for k, v := range total {
		if float64(v[1]) > 0.02*float64(v[0]) {
			t.Errorf("training months, %s: flagged in %d of %d snapshots; want about 1%%", k, v[1], v[0])
		}
	}
}

// inMonth keeps the trips picked up in the month most trips are, leaving
// out the few a file holds with a pickup years away.
func inMonth(trips []trip.Trip) []trip.Trip {
	n := map[time.Time]int{}
	for _, t := range trips {
		n[time.Date(t.Pickup.Year(), t.Pickup.Month(), 1, 0, 0, 0, 0, time.UTC)]++
	}
	var month time.Time
	for m, k := range n {
		if k > n[month] {
			month = m
		}
	}
	return slices.DeleteFunc(slices.Clone(trips), func(t trip.Trip) bool {
		return t.Pickup.Before(month) || !t.Pickup.Before(month.AddDate(0, 1, 0))
	})
}
