// Package live monitors drift while a model serves: a serving.Observer
// that counts every prediction of the default model into sliding windows
// (the last hour in per-minute buckets, the last day in per-hour buckets)
// and scores each window against the model's drift profile on demand: for
// GET /monitoring, for Prometheus scrapes and at the end of a batch run.
//
// Counting is O(1) per trip, allocates nothing and takes no lock: each
// bucket's counters are atomics, and a bucket is cleared by the first trip
// of its new period, while the trips that arrive meanwhile yield for the
// few hundred stores that takes (once a minute or an hour), so none is lost.
package live

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/serving"
)

// Window is a sliding window of Buckets buckets of Width each.
type Window struct {
	// Name labels the window in metrics and JSON: "1h", "24h".
	Name    string
	Buckets int
	Width   time.Duration
}

// DefaultWindows are the last hour, by the minute, and the last day, by
// the hour.
func DefaultWindows() []Window {
	return []Window{{Name: "1h", Buckets: 60, Width: time.Minute}, {Name: "24h", Buckets: 24, Width: time.Hour}}
}

// Options tune a Monitor.
type Options struct {
	// Windows are the sliding windows; nil means DefaultWindows.
	Windows []Window
	// Score tunes scoring: the fewest trips scored and the minimum effects.
	Score drift.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets one line when a model without a profile is served.
	Logger *slog.Logger
	// Registerer receives the drift metrics; nil means none.
	Registerer prometheus.Registerer
}

// Monitor counts the default model's predictions into windows and scores
// them. Predictions of other versions (asked for by model_version) are not
// counted. When the default model changes, the windows start anew for it.
type Monitor struct {
	current func() *serving.ModelVersion
	opts    Options
	st      atomic.Pointer[state]
}

// state is the monitoring of one model version.
type state struct {
	mv      *serving.ModelVersion
	profile *drift.Profile // nil: monitoring off for this model
	rings   []*ring
}

// ring is one window's buckets.
type ring struct {
	w     Window
	slots []slot
}

// slot is one bucket: its period and counts.
type slot struct {
	// period is the bucket's period number plus one (0: never used).
	period atomic.Int64
	trips  atomic.Int64
	bins   [drift.TotalBins]atomic.Uint32
}

// New returns a Monitor of the model current returns (the Service's
// default, e.g. svc.Current).
func New(current func() *serving.ModelVersion, opts Options) (*Monitor, error) {
	if opts.Windows == nil {
		opts.Windows = DefaultWindows()
	}
	for _, w := range opts.Windows {
		if w.Name == "" || w.Buckets <= 0 || w.Width <= 0 {
			return nil, &WindowError{w}
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{current: current, opts: opts}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(collector{m}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// WindowError is a window a Monitor cannot keep.
type WindowError struct{ W Window }

func (e *WindowError) Error() string {
	return "drift window " + e.W.Name + ": want a name, at least one bucket and a positive bucket width"
}

// Observe counts an observation of the default model; see serving.Observer.
func (m *Monitor) Observe(o serving.Observation) {
	st := m.st.Load()
	if st == nil || st.mv != o.Model {
		if st = m.switchTo(o.Model); st == nil {
			return
		}
	}
	if st.profile == nil || len(o.Trips) == 0 {
		return
	}
	now := m.opts.Now().UnixNano()
	for _, r := range st.rings {
		s := r.slotAt(now)
		for i := range o.Trips {
			for _, b := range st.profile.BinsOf(&o.Trips[i], o.Predictions[i]) {
				s.bins[b].Add(1)
			}
		}
		s.trips.Add(int64(len(o.Trips)))
	}
}

// switchTo starts monitoring mv if it is the default model; nil if not.
func (m *Monitor) switchTo(mv *serving.ModelVersion) *state {
	if mv == nil || mv != m.current() {
		return nil
	}
	for {
		old := m.st.Load()
		if old != nil && old.mv == mv {
			return old
		}
		st := m.newState(mv)
		if m.st.CompareAndSwap(old, st) {
			if st.profile == nil {
				m.opts.Logger.Warn("drift monitoring off: the model has no drift profile (trained before taxieta kept one; retrain to monitor it)",
					"model", mv.Name, "model_version", mv.Version)
			} else {
				m.opts.Logger.Info("drift monitoring", "model", mv.Name, "model_version", mv.Version)
			}
			return st
		}
	}
}

func (m *Monitor) newState(mv *serving.ModelVersion) *state {
	st := &state{mv: mv}
	if mv.Artifact == nil || mv.Artifact.Profile == nil {
		return st
	}
	st.profile = mv.Artifact.Profile
	for _, w := range m.opts.Windows {
		st.rings = append(st.rings, &ring{w: w, slots: make([]slot, w.Buckets)})
	}
	return st
}

// slotAt is the bucket of time now (Unix nanoseconds), cleared if it last
// held an older period. The goroutine that claims a bucket for a new period
// marks it (the period negated) while it clears the counters; the others
// yield until it is done, which happens once a period per bucket and takes
// a few hundred atomic stores, so that no trip counted into the new period
// is wiped by the clearing.
func (r *ring) slotAt(now int64) *slot {
	p := now/int64(r.w.Width) + 1
	s := &r.slots[p%int64(len(r.slots))]
	for {
		old := s.period.Load()
		switch {
		case old >= p: // this period, or a later one (a clock step back)
			return s
		case old < 0: // being cleared for a period
			runtime.Gosched()
		case s.period.CompareAndSwap(old, -p):
			for i := range s.bins {
				s.bins[i].Store(0)
			}
			s.trips.Store(0)
			s.period.Store(p)
			return s
		}
	}
}

// sum adds up the buckets of the window ending at now.
func (r *ring) sum(now int64, c *drift.Counts) {
	p := now/int64(r.w.Width) + 1
	for i := range r.slots {
		s := &r.slots[i]
		sp := s.period.Load()
		if sp <= p-int64(len(r.slots)) || sp > p {
			continue
		}
		c.Trips += s.trips.Load()
		for b := range s.bins {
			c.Bins[b] += int64(s.bins[b].Load())
		}
	}
}

// Snapshot is the monitoring state at one time, as GET /monitoring answers.
type Snapshot struct {
	// Enabled says the default model has a drift profile and is monitored.
	Enabled bool `json:"enabled"`
	// Reason says why monitoring is off.
	Reason string `json:"reason,omitempty"`
	// Model and ModelVersion name the monitored model.
	Model        string    `json:"model,omitempty"`
	ModelVersion string    `json:"model_version,omitempty"`
	At           time.Time `json:"at"`
	// MinTrips is the fewest trips a feature is scored on.
	MinTrips int64            `json:"min_trips"`
	Windows  []WindowSnapshot `json:"windows"`
}

// WindowSnapshot is one window's scores.
type WindowSnapshot struct {
	Window string `json:"window"`
	// Seconds is the window's length.
	Seconds float64 `json:"seconds"`
	// Trips are the predictions counted in the window.
	Trips int64 `json:"trips"`
	// Features are the scores, feature by feature; a feature with too few
	// trips has computed false and no flag.
	Features []drift.FeatureScore `json:"features"`
	// Flagged lists the features flagged.
	Flagged []string `json:"flagged"`
}

// Snapshot scores every window now.
func (m *Monitor) Snapshot() Snapshot {
	now := m.opts.Now()
	snap := Snapshot{At: now.UTC(), MinTrips: m.minTrips(), Windows: []WindowSnapshot{}}
	st, reason := m.stateNow()
	if st == nil {
		snap.Reason = reason
		return snap
	}
	snap.Model, snap.ModelVersion = st.mv.Name, st.mv.Version
	if st.profile == nil {
		snap.Reason = reason
		return snap
	}
	snap.Enabled = true
	for _, r := range st.rings {
		var c drift.Counts
		r.sum(now.UnixNano(), &c)
		snap.Windows = append(snap.Windows, Score(r.w.Name, time.Duration(r.w.Buckets)*r.w.Width, st.profile, &c, m.opts.Score))
	}
	return snap
}

func (m *Monitor) minTrips() int64 {
	if m.opts.Score.MinTrips > 0 {
		return m.opts.Score.MinTrips
	}
	return drift.DefaultMinTrips
}

// Score scores counts as a window named name, of length d (0 for a batch
// run's whole file). A window shorter than a week is a sliding window of
// its length in hours (drift.Span): its features are scored against the
// reference of the hours of week its trips were picked up in, and its
// hour of week is not scored. A batch run's file, or a window of a week or
// more, is scored against the whole week.
func Score(name string, d time.Duration, p *drift.Profile, c *drift.Counts, o drift.Options) WindowSnapshot {
	var sp drift.Span
	if d > 0 && d < 7*24*time.Hour {
		sp.Hours = max(1, int(d.Round(time.Hour)/time.Hour))
	}
	scores := p.ScoreSpan(c, o, sp)
	w := WindowSnapshot{Window: name, Seconds: d.Seconds(), Trips: c.Trips, Features: scores[:], Flagged: []string{}}
	for _, s := range scores {
		if s.Flag {
			w.Flagged = append(w.Flagged, s.Feature)
		}
	}
	return w
}

// Handler answers GET /monitoring with the Snapshot as JSON.
func (m *Monitor) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, err := json.Marshal(m.Snapshot())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(b, '\n'))
	})
}

var (
	scoreDesc = prometheus.NewDesc("taxieta_drift_score",
		"Drift of the window's trips from the served model's training data (Jensen–Shannon divergence in bits; PSI for the estimate); absent while the window has too few trips.",
		[]string{"feature", "window"}, nil)
	thresholdDesc = prometheus.NewDesc("taxieta_drift_threshold",
		"The score beyond which the feature is flagged: the larger of the no-drift threshold calibrated for the window's trip count (99th percentile of bootstrap windows of the reference) and the minimum effect size.",
		[]string{"feature", "window"}, nil)
	flagDesc = prometheus.NewDesc("taxieta_drift_flag",
		"1 when the feature's drift score is beyond its threshold, else 0 (also while the window has too few trips).",
		[]string{"feature", "window"}, nil)
	tripsDesc = prometheus.NewDesc("taxieta_drift_window_trips",
		"Predictions of the served model counted in the window.", []string{"window"}, nil)
	unknownDesc = prometheus.NewDesc("taxieta_drift_unknown_share",
		"Share of the window's trips whose value of the feature is unknown (zones 264, 265; no passenger count; no pickup time).",
		[]string{"feature", "window"}, nil)
	enabledDesc = prometheus.NewDesc("taxieta_monitoring_enabled",
		"1 when the served model has a drift profile and drift is monitored, else 0.", nil, nil)
)

// collector reports a Snapshot at scrape time.
type collector struct{ m *Monitor }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{scoreDesc, thresholdDesc, flagDesc, tripsDesc, unknownDesc, enabledDesc} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.m.Snapshot()
	enabled := 0.0
	if snap.Enabled {
		enabled = 1
	}
	ch <- prometheus.MustNewConstMetric(enabledDesc, prometheus.GaugeValue, enabled)
	for _, w := range snap.Windows {
		ch <- prometheus.MustNewConstMetric(tripsDesc, prometheus.GaugeValue, float64(w.Trips), w.Window)
		for _, f := range w.Features {
			flag := 0.0
			if f.Flag {
				flag = 1
			}
			ch <- prometheus.MustNewConstMetric(flagDesc, prometheus.GaugeValue, flag, f.Feature, w.Window)
			ch <- prometheus.MustNewConstMetric(unknownDesc, prometheus.GaugeValue, f.UnknownShare, f.Feature, w.Window)
			if f.Computed {
				ch <- prometheus.MustNewConstMetric(scoreDesc, prometheus.GaugeValue, f.Score, f.Feature, w.Window)
				ch <- prometheus.MustNewConstMetric(thresholdDesc, prometheus.GaugeValue, f.Threshold, f.Feature, w.Window)
			}
		}
	}
}

// Batch counts every prediction of a run into one window, for a batch
// run's report. Unlike a Monitor it counts every model version it sees
// (a batch run has one) and keeps the first version's profile.
type Batch struct {
	mv   atomic.Pointer[serving.ModelVersion]
	bins [drift.TotalBins]atomic.Int64
	n    atomic.Int64
}

// Observe counts an observation; see serving.Observer.
func (b *Batch) Observe(o serving.Observation) {
	if o.Model == nil || o.Model.Artifact == nil || o.Model.Artifact.Profile == nil {
		return
	}
	b.mv.CompareAndSwap(nil, o.Model)
	if b.mv.Load() != o.Model {
		return
	}
	// Counted here first, then added once a bin: an atomic add a trip
	// and feature, from both of a batch run's scoring goroutines, kept
	// the counters' cache lines moving between the cores and took a sixth
	// of a run.
	p := o.Model.Artifact.Profile
	var local [drift.TotalBins]int64
	for i := range o.Trips {
		for _, x := range p.BinsOf(&o.Trips[i], o.Predictions[i]) {
			local[x]++
		}
	}
	for x, n := range local {
		if n != 0 {
			b.bins[x].Add(n)
		}
	}
	b.n.Add(int64(len(o.Trips)))
}

// Score scores what the run predicted against the model's profile; ok is
// false when the model has no profile or nothing was predicted.
func (b *Batch) Score(o drift.Options) (w WindowSnapshot, ok bool) {
	mv := b.mv.Load()
	if mv == nil {
		return WindowSnapshot{}, false
	}
	var c drift.Counts
	c.Trips = b.n.Load()
	for i := range c.Bins {
		c.Bins[i] = b.bins[i].Load()
	}
	return Score("run", 0, mv.Artifact.Profile, &c, o), true
}

// Distributions are the reference's and each window's counts, bin by bin,
// for the monitoring page's charts (reference against now). The bins are
// those of drift.FeatureProfile: zones 0..265 (0 an invalid id), passenger
// counts 0..9 then unknown, hours of week 0..167 (Monday 00:00 first) then
// no pickup time, estimate quantile bins then not finite.
type Distributions struct {
	// Enabled, Reason, Model and ModelVersion are as in Snapshot.
	Enabled      bool      `json:"enabled"`
	Reason       string    `json:"reason,omitempty"`
	Model        string    `json:"model,omitempty"`
	ModelVersion string    `json:"model_version,omitempty"`
	At           time.Time `json:"at"`
	// Reference are the training trips' counts (the validation trips'
	// for the estimate), feature by feature.
	Reference []FeatureCounts `json:"reference"`
	// Windows are each window's counts now.
	Windows []WindowCounts `json:"windows"`
}

// FeatureCounts are one feature's counts per bin.
type FeatureCounts struct {
	Feature string  `json:"feature"`
	Counts  []int64 `json:"counts"`
	// Edges are the estimate bins' upper edges in minutes (estimate only).
	Edges []float64 `json:"edges,omitempty"`
}

// WindowCounts are one window's counts.
type WindowCounts struct {
	Window   string          `json:"window"`
	Seconds  float64         `json:"seconds"`
	Trips    int64           `json:"trips"`
	Features []FeatureCounts `json:"features"`
}

// Distributions counts every window now, next to the reference.
func (m *Monitor) Distributions() Distributions {
	now := m.opts.Now()
	d := Distributions{At: now.UTC(), Reference: []FeatureCounts{}, Windows: []WindowCounts{}}
	st, reason := m.stateNow()
	if st == nil {
		d.Reason = reason
		return d
	}
	d.Model, d.ModelVersion = st.mv.Name, st.mv.Version
	if st.profile == nil {
		d.Reason = reason
		return d
	}
	d.Enabled = true
	for _, fp := range st.profile.Features {
		d.Reference = append(d.Reference, FeatureCounts{Feature: fp.Name, Counts: fp.Counts, Edges: fp.Edges})
	}
	for _, r := range st.rings {
		var c drift.Counts
		r.sum(now.UnixNano(), &c)
		wc := WindowCounts{Window: r.w.Name, Seconds: (time.Duration(r.w.Buckets) * r.w.Width).Seconds(), Trips: c.Trips}
		for f := range drift.Feature(len(st.profile.Features)) {
			wc.Features = append(wc.Features, FeatureCounts{Feature: f.String(), Counts: c.Feature(st.profile, f)})
		}
		d.Windows = append(d.Windows, wc)
	}
	return d
}

// stateNow is the state of the current default model (fresh and empty
// when nothing was observed since it became the default), with the reason
// monitoring is off when st is nil or has no profile.
func (m *Monitor) stateNow() (st *state, reason string) {
	cur := m.current()
	if cur == nil {
		return nil, "no model is loaded yet"
	}
	if st = m.st.Load(); st == nil || st.mv != cur {
		st = m.newState(cur)
	}
	if st.profile == nil {
		return st, "the model has no drift profile (trained before taxieta kept one); retrain it to monitor drift"
	}
	return st, ""
}
