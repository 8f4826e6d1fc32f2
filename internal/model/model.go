// Package model holds taxieta's trip-duration models and the artifact file
// that carries a trained model between training and every way of serving it
// (web service, batch, streaming). It knows nothing of HTTP, files of trips
// or registries: it learns from trip.Examples and predicts trip.Predictions.
package model

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/zones"
)

// Predictor estimates trip durations. Implementations are safe for
// concurrent use and do not allocate.
type Predictor interface {
	// Predict estimates one trip.
	Predict(trip.Trip) trip.Prediction
	// PredictBatch estimates trips[i] into out[i]; out must be at least as long as trips.
	PredictBatch(trips []trip.Trip, out []trip.Prediction)
}

// Model is a trained Predictor that can be written into an artifact.
type Model interface {
	Predictor
	// Kind names the model family, e.g. "od" or "linear".
	Kind() string
	// UsesPickupTime reports whether predictions change with Trip.Pickup.
	UsesPickupTime() bool
	// params returns the model's learnt parameters, written into the artifact.
	params() any
}

// Estimator learns a Model from observed trips.
type Estimator interface {
	// FitStats learns from the statistics of the training trips.
	FitStats(ctx context.Context, st *Stats) (Model, error)
	// Fit learns from trips held in memory, read as one file.
	Fit(ctx context.Context, examples []trip.Example) (Model, error)
}

// Kinds lists the model families, the default first.
var Kinds = []string{KindOD, KindLinear}

// NewEstimator returns the estimator of a model kind with its default
// settings. The zone table gives the od model geography; it may be nil.
func NewEstimator(kind string, zt zones.Table) (Estimator, error) {
	switch kind {
	case KindOD:
		return &ODEstimator{Zones: zt, Settings: DefaultODSettings()}, nil
	case KindLinear:
		return LinearEstimator{}, nil
	}
	return nil, fmt.Errorf("model kind %q: want one of %v", kind, Kinds)
}

// decodeParams rebuilds a model of kind from the parameters in an artifact.
func decodeParams(kind string, raw json.RawMessage, zt zones.Table) (Model, error) {
	switch kind {
	case KindOD:
		var p odParams
		if err := strictUnmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("od parameters: %w", err)
		}
		return newOD(p)
	case KindLinear:
		var p linearParams
		if err := strictUnmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("linear parameters: %w", err)
		}
		return newLinear(p)
	}
	return nil, fmt.Errorf("unknown model kind %q (this build knows %v)", kind, Kinds)
}

// batch is PredictBatch for any single-trip predictor.
func batch(p interface {
	Predict(trip.Trip) trip.Prediction
}, trips []trip.Trip, out []trip.Prediction) {
	out = out[:len(trips)]
	for i := range trips {
		out[i] = p.Predict(trips[i])
	}
}

// passengerIndex maps trip.Passengers to 0..10 (10 = unknown).
func passengerIndex(p int8) int {
	if p < 0 || p > trip.MaxPassengers {
		return trip.MaxPassengers + 1
	}
	return int(p)
}

// numPassengerCats is the number of passenger categories: 0..9 and unknown.
const numPassengerCats = trip.MaxPassengers + 2

// zoneOK reports whether a trip's zones index the models' tables.
func zoneOK(t trip.Trip) bool {
	return trip.ValidZone(int64(t.PULocationID)) && trip.ValidZone(int64(t.DOLocationID))
}
