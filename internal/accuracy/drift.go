package accuracy

import (
	"fmt"
	"slices"
	"time"

	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/trip"
)

// DriftConfig asks Run for the drift of the judged trips from the
// training data of the model that made the estimates.
type DriftConfig struct {
	// Model is the model whose profile scores the trips, "NAME VERSION"
	// as the estimates name it. Only the estimates that model made are
	// counted.
	Model string
	// Profile is that model's drift profile; nil when it has none, and
	// then NoProfile says why drift is not computed.
	Profile   *drift.Profile
	NoProfile string
	// Options tune scoring (fewest trips scored, minimum effects).
	Options drift.Options
}

// Drift is the drift of the trips a report judged: over the whole period
// and per day. When Computed is false, Reason says why and there are no
// windows.
type Drift struct {
	Computed bool   `json:"computed"`
	Reason   string `json:"reason,omitempty"`
	// Model is the model whose drift profile the trips were scored against.
	Model string `json:"model"`
	// MinTrips is the fewest trips a feature is scored on.
	MinTrips int64        `json:"min_trips,omitempty"`
	Overall  *DriftScore  `json:"overall,omitempty"`
	Days     []DriftScore `json:"days,omitempty"`
}

// DriftScore is one window's drift (a day, or the whole period). A day is
// scored against the reference of its own 24 hours of week (so a Sunday
// is compared with the training Sundays), its hour of week within them;
// the whole period against the whole week.
type DriftScore struct {
	// Day is YYYY-MM-DD; empty for the whole period.
	Day   string `json:"day,omitempty"`
	Trips int64  `json:"trips"`
	// Features are the scores in feature order; a feature with fewer than
	// MinTrips trips has computed false and no flag.
	Features []drift.FeatureScore `json:"features"`
	// Flagged lists the features flagged.
	Flagged []string `json:"flagged"`
	// Note says what could not be computed, e.g. a day with too few trips.
	Note string `json:"note,omitempty"`
}

// driftCounter counts the judged trips into drift bins, overall and per day.
type driftCounter struct {
	cfg     *DriftConfig
	reason  string
	overall drift.Counts
	days    map[string]*drift.Counts
}

// newDriftCounter starts counting for cfg; the estimates were made by models.
// It returns nil when cfg is nil (drift not asked for).
func newDriftCounter(cfg *DriftConfig, models []string) *driftCounter {
	if cfg == nil {
		return nil
	}
	dc := &driftCounter{cfg: cfg, days: map[string]*drift.Counts{}}
	switch {
	case cfg.Profile == nil:
		dc.reason = cfg.NoProfile
		if dc.reason == "" {
			dc.reason = "the model has no drift profile"
		}
	case !slices.Contains(models, cfg.Model):
		dc.reason = fmt.Sprintf("the estimates were made by %v, not by %s whose profile was given; name the model that made them with --model", models, cfg.Model)
	}
	return dc
}

func (dc *driftCounter) add(day, model string, t *trip.Trip, pred trip.Prediction) {
	if dc == nil || dc.reason != "" || model != dc.cfg.Model {
		return
	}
	c := dc.days[day]
	if c == nil {
		c = new(drift.Counts)
		dc.days[day] = c
	}
	for _, b := range dc.cfg.Profile.BinsOf(t, pred) {
		c.Bins[b]++
		dc.overall.Bins[b]++
	}
	c.Trips++
	dc.overall.Trips++
}

func (dc *driftCounter) report() *Drift {
	if dc == nil {
		return nil
	}
	d := &Drift{Model: dc.cfg.Model}
	if dc.reason != "" {
		d.Reason = dc.reason
		return d
	}
	d.MinTrips = dc.cfg.Options.MinTrips
	if d.MinTrips <= 0 {
		d.MinTrips = drift.DefaultMinTrips
	}
	if dc.overall.Trips == 0 {
		d.Reason = "no trip was judged, so there is nothing to score"
		return d
	}
	d.Computed = true
	o := dc.score("", &dc.overall, d.MinTrips)
	d.Overall = &o
	for _, day := range slices.Sorted(func(yield func(string) bool) {
		for k := range dc.days {
			if !yield(k) {
				return
			}
		}
	}) {
		d.Days = append(d.Days, dc.score(day, dc.days[day], d.MinTrips))
	}
	return d
}

// daySpan is how a day's trips are scored: one day holds 24 of the week's
// 168 hours, so its features are scored against the reference of those
// hours, and its hour of week within them (drift.Span). The whole period
// (day "") is scored against the whole week.
func daySpan(day string) drift.Span {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return drift.Span{}
	}
	return drift.Span{Hours: 24, Whole: true, FirstHour: trip.HourOfWeek(d)}
}

func (dc *driftCounter) score(day string, c *drift.Counts, minTrips int64) DriftScore {
	scores := dc.cfg.Profile.ScoreSpan(c, dc.cfg.Options, daySpan(day))
	w := DriftScore{Day: day, Trips: c.Trips, Features: scores[:], Flagged: []string{}}
	var skipped []string
	for _, s := range scores {
		if s.Flag {
			w.Flagged = append(w.Flagged, s.Feature)
		}
		if !s.Computed && s.NotScored == "" {
			skipped = append(skipped, s.Feature)
		}
	}
	switch {
	case c.Trips < minTrips:
		w.Note = fmt.Sprintf("not computed: %d trips, fewer than the %d a score needs", c.Trips, minTrips)
	case len(skipped) > 0:
		w.Note = fmt.Sprintf("not computed for %v: fewer than %d trips state the feature", skipped, minTrips)
	}
	return w
}
