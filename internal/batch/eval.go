package batch

import (
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

// evaluator cleans rows and accumulates the metrics on the lab's inputs and,
// for models that use it, with the pickup time as well.
type evaluator struct {
	rules    trip.Rules
	withTime bool
	stats    trip.Stats
	lab, wt  model.Sums
}

func (e *evaluator) result() *Evaluation {
	m := e.lab.Metrics()
	if e.withTime {
		wt := e.wt.Metrics()
		m.RMSEWithTime = &wt.RMSE
		m.IntervalCoverageWithTime = &wt.IntervalCoverage
	}
	return &Evaluation{Rules: e.rules, Cleaning: e.stats, Metrics: m}
}
