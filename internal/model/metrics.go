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
	var sums Sums
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
			sums.Add(e.Minutes, preds[i])
		}
	}
	return sums.Metrics()
}

// Sums accumulate the figures of Metrics one trip at a time, so that every
// evaluation (training, batch scoring, monitoring against actual trips)
// adds the same terms in the same order and agrees to the last bit.
type Sums struct {
	n, inside            int64
	sse, sae, sum, sumSq float64
	// Bias is the sum of estimate minus actual, for MeanError.
	bias float64
}

// Add counts one trip of actual duration minutes and its prediction p.
func (a *Sums) Add(minutes float32, p trip.Prediction) {
	y := float64(minutes)
	d := y - float64(p.Minutes)
	a.sse += d * d
	a.sae += math.Abs(d)
	a.sum += y
	a.sumSq += y * y
	a.bias -= d
	if minutes >= p.Low && minutes <= p.High {
		a.inside++
	}
	a.n++
}

// Rows is how many trips were added.
func (a *Sums) Rows() int64 { return a.n }

// MeanError is the mean of estimate minus actual (positive: estimates too
// long); 0 with no trips.
func (a *Sums) MeanError() float64 {
	if a.n == 0 {
		return 0
	}
	return a.bias / float64(a.n)
}

// Metrics are the figures of the trips added; the zero Metrics with none.
func (a *Sums) Metrics() Metrics {
	if a.n == 0 {
		return Metrics{}
	}
	n := float64(a.n)
	sst := a.sumSq - a.sum*a.sum/n
	m := Metrics{
		Rows:             a.n,
		RMSE:             math.Sqrt(a.sse / n),
		MAE:              a.sae / n,
		IntervalCoverage: float64(a.inside) / n,
	}
	if sst > 0 {
		m.R2 = 1 - a.sse/sst
	}
	return m
}

// Evaluator measures a model one trip at a time, so that trips can be
// measured as they are read; it adds the same terms in the same order as
// Evaluate on the same trips, so the figures agree to the last bit.
type Evaluator struct {
	m            Model
	plain, timed Sums
}

// NewEvaluator returns an Evaluator of m with no trips.
func NewEvaluator(m Model) *Evaluator { return &Evaluator{m: m} }

// Add measures the model on ex and returns its prediction of ex as given
// (with its pickup time).
func (e *Evaluator) Add(ex trip.Example) trip.Prediction {
	t := ex.Trip
	t.Pickup = time.Time{}
	p := e.m.Predict(t)
	e.plain.Add(ex.Minutes, p)
	if !e.m.UsesPickupTime() {
		return p
	}
	p = e.m.Predict(ex.Trip)
	e.timed.Add(ex.Minutes, p)
	return p
}

// Metrics are the figures of the trips added, as Evaluate gives them.
func (e *Evaluator) Metrics() Metrics {
	met := e.plain.Metrics()
	if e.m.UsesPickupTime() {
		withTime := e.timed.Metrics()
		met.RMSEWithTime = &withTime.RMSE
		met.IntervalCoverageWithTime = &withTime.IntervalCoverage
	}
	return met
}
