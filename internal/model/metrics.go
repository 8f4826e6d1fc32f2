package model

import (
	"math"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// Metrics measure a model on observed trips. Every figure but RMSEWithTime
// uses the lab's three inputs alone (zones and passenger count), so models
// that use the pickup time compare fairly with those that don't.
type Metrics struct {
	Rows int64   `json:"rows"`
	RMSE float64 `json:"rmse"`
	MAE  float64 `json:"mae"`
	R2   float64 `json:"r2"`
	// IntervalCoverage is the share of trips whose duration lies in the predicted 10–90% range.
	IntervalCoverage float64 `json:"interval_coverage"`
	// RMSEWithTime is the RMSE when the pickup time is given too; set only
	// for models that use it.
	RMSEWithTime *float64 `json:"rmse_with_time,omitempty"`
	// IntervalCoverageWithTime is IntervalCoverage with the pickup time given.
	IntervalCoverageWithTime *float64 `json:"interval_coverage_with_time,omitempty"`
}

// Evaluate measures m on examples.
func Evaluate(m Model, examples []trip.Example) Metrics {
	met := evaluate(m, examples, false)
	if m.UsesPickupTime() {
		withTime := evaluate(m, examples, true)
		met.RMSEWithTime = &withTime.RMSE
		met.IntervalCoverageWithTime = &withTime.IntervalCoverage
	}
	return met
}

func evaluate(p Predictor, examples []trip.Example, withTime bool) Metrics {
	const chunk = 4096
	trips := make([]trip.Trip, chunk)
	preds := make([]trip.Prediction, chunk)
	var sse, sae, sum, sumSq float64
	var inside int64
	for start := 0; start < len(examples); start += chunk {
		ex := examples[start:min(start+chunk, len(examples))]
		for i := range ex {
			trips[i] = ex[i].Trip
			if !withTime {
				trips[i].Pickup = time.Time{}
			}
		}
		p.PredictBatch(trips[:len(ex)], preds)
		for i, e := range ex {
			y := float64(e.Minutes)
			d := y - float64(preds[i].Minutes)
			sse += d * d
			sae += math.Abs(d)
			sum += y
			sumSq += y * y
			if e.Minutes >= preds[i].Low && e.Minutes <= preds[i].High {
				inside++
			}
		}
	}
	n := float64(len(examples))
	if n == 0 {
		return Metrics{}
	}
	sst := sumSq - sum*sum/n
	m := Metrics{
		Rows:             int64(len(examples)),
		RMSE:             math.Sqrt(sse / n),
		MAE:              sae / n,
		IntervalCoverage: float64(inside) / n,
	}
	if sst > 0 {
		m.R2 = 1 - sse/sst
	}
	return m
}
