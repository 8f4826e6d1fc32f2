package live_test

import (
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// BenchmarkObserve is the live monitor's cost on the prediction path: one
// trip per observation (a /predict request), and 100 (a batch request).
func BenchmarkObserve(b *testing.B) {
	a := defaultVersion(b)
	m, err := live.New(func() *serving.ModelVersion { return a }, live.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 100} {
		trips := make([]trip.Trip, n)
		for i := range trips {
			trips[i] = trip.Trip{PULocationID: uint16(1 + i*7%265), DOLocationID: uint16(1 + i*13%265), Passengers: 1,
				Pickup: time.Date(2024, 3, 4, i%24, 0, 0, 0, time.UTC)}
		}
		preds := make([]trip.Prediction, n)
		a.Artifact.Model.PredictBatch(trips, preds)
		o := serving.Observation{Model: a, Trips: trips, Predictions: preds}
		b.Run(map[int]string{1: "trip", 100: "batch100"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Observe(o)
			}
		})
	}
}
