package live_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

func defaultVersion(t *testing.T) *serving.ModelVersion {
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
