package batch

import (
	"math"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/trip"
)

// Evaluation judges the predictions of a run on the rows whose actual
// duration is known, cleaned by the model's rules as training cleans: the
// same figures `taxieta train` reports.
type Evaluation struct {
	Rules    trip.Rules    `json:"rules"`
	Cleaning trip.Stats    `json:"cleaning"`
	Metrics  model.Metrics `json:"metrics"`
}

// sums accumulate what model.Evaluate computes, in the same order, so that
// a batch run and model.Evaluate on the same trips give the same figures.
type sums struct {
	n, inside        int64
	sse, sae, s, ssq float64
}

func (a *sums) add(minutes float32, p trip.Prediction) {
	y := float64(minutes)
	d := y - float64(p.Minutes)
	a.sse += d * d
	a.sae += math.Abs(d)
	a.s += y
	a.ssq += y * y
	if minutes >= p.Low && minutes <= p.High {
		a.inside++
	}
	a.n++
}

func (a *sums) metrics() model.Metrics {
	if a.n == 0 {
		return model.Metrics{}
	}
	n := float64(a.n)
	m := model.Metrics{
		Rows:             a.n,
		RMSE:             math.Sqrt(a.sse / n),
		MAE:              a.sae / n,
		IntervalCoverage: float64(a.inside) / n,
	}
	if sst := a.ssq - a.s*a.s/n; sst > 0 {
		m.R2 = 1 - a.sse/sst
	}
	return m
}

// evaluator cleans rows and accumulates the metrics on the lab's inputs and,
// for models that use it, with the pickup time as well.
type evaluator struct {
	rules    trip.Rules
	withTime bool
	stats    trip.Stats
	lab, wt  sums
}

func (e *evaluator) result() *Evaluation {
	m := e.lab.metrics()
	if e.withTime {
		wt := e.wt.metrics()
		m.RMSEWithTime = &wt.RMSE
		m.IntervalCoverageWithTime = &wt.IntervalCoverage
	}
	return &Evaluation{Rules: e.rules, Cleaning: e.stats, Metrics: m}
}
