// Package drift says whether the trips a model is asked about still look
// like the ones it learnt from. Training computes a reference Profile: the
// distribution of pickup and dropoff zones, passenger category and hour of
// week of the training trips, and of the model's estimates on the
// validation trips, with, per statistic, the score a window of that many
// trips drawn from the reference itself stays under 99 times out of 100
// (a no-drift threshold calibrated by bootstrap). Monitoring counts the
// trips of a window into the same bins (Counts) and scores them against
// the profile (Profile.Score): Jensen–Shannon divergence (base 2, so 0..1)
// for the zones, passenger category and hour of week, the population
// stability index (PSI) for the estimates. A feature is flagged when its
// score is beyond both the calibrated threshold (so the shift is
// statistically real: about 1% false alarms per window and feature) and a
// minimum effect size (so a large window does not alarm on a shift too
// small to matter). Windows of a few hours (the live 1h and 24h windows, a
// day of the accuracy report) are scored against the reference of the
// hours of week they hold, with thresholds calibrated for that (see
// ScoreSpan and hours.go), so that a night or a Sunday is not drift.
//
// The package knows trips and predictions only: nothing of HTTP, files or
// the model artifact, which carries a Profile.
package drift

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/taxieta/taxieta/internal/trip"
)

// Feature is a monitored distribution.
type Feature uint8

// The monitored features, in the order of Profile.Features.
const (
	PickupZone Feature = iota
	DropoffZone
	PassengerCategory
	HourOfWeek
	Estimate
	// NumFeatures is the number of features.
	NumFeatures
)

// String is the feature's name, as metrics label it.
func (f Feature) String() string {
	switch f {
	case PickupZone:
		return "pickup_zone"
	case DropoffZone:
		return "dropoff_zone"
	case PassengerCategory:
		return "passenger_category"
	case HourOfWeek:
		return "hour_of_week"
	case Estimate:
		return "estimate"
	}
	return fmt.Sprintf("feature(%d)", uint8(f))
}

// Score kinds.
const (
	// ScoreJS is the Jensen–Shannon divergence in bits, 0 (same
	// distribution) to 1 (disjoint).
	ScoreJS = "js"
	// ScorePSI is the population stability index, Σ (o−r)·ln(o/r) over
	// bins with shares floored at PSIFloor; 0.1 is commonly read as a
	// moderate shift and 0.25 as a major one.
	ScorePSI = "psi"
)

// PSIFloor is the smallest share PSI uses for a bin, so an empty bin
// scores finitely.
const PSIFloor = 1e-4

// Bin layout of the categorical features. Every trip falls in one bin of
// each feature; the "unknown" bins hold what a trip does not state or
// states outside the domain.
const (
	// ZoneBins: bin 0 is an id outside 1..265, bins 1..265 the zones.
	ZoneBins = trip.MaxZone + 1
	// PassengerBins: bins 0..9 the passenger count, bin 10 unknown.
	PassengerBins = trip.MaxPassengers + 2
	// HourBins: bins 0..167 the hour of week (Monday 00:00 first), bin
	// 168 no pickup time.
	HourBins = 168 + 1
	// MaxEstimateBins bounds the estimate bins: quantile bins, plus one
	// for estimates that are not finite positive numbers.
	MaxEstimateBins = 32
)

// unknownZones are the zone bins counted as unknown: an invalid id, and
// the TLC's own 264 "Unknown" and 265 "Outside of NYC".
var unknownZones = [...]int{0, 264, 265}

// ProfileVersion is the profile format this build writes. Version 1 (or
// no version) holds the whole-week reference only; version 2 adds, per
// feature, the reference counts of each hour of week and the thresholds of
// windows scored against the hours they cover (see Span).
const ProfileVersion = 2

// Profile is what a model saw, for monitoring: per feature the reference
// counts and the calibrated no-drift thresholds.
type Profile struct {
	// Version is the profile format, ProfileVersion when written by this
	// build; 0 in profiles written before versions (read as version 1).
	Version int `json:"version,omitempty"`
	// Trips is the number of training trips counted.
	Trips int64 `json:"trips"`
	// EstimateTrips is the number of trips the estimates were made on,
	// and EstimateSource which data they were ("validation" or "training").
	EstimateTrips  int64  `json:"estimate_trips"`
	EstimateSource string `json:"estimate_source"`
	// Quantile is the bootstrap quantile the thresholds are, 0.99.
	Quantile float64 `json:"quantile"`
	// Replicates is the number of bootstrap windows per size.
	Replicates int `json:"replicates"`
	// Seed seeds the bootstrap, so the same data gives the same profile.
	Seed uint64 `json:"seed"`
	// HourSmoothing is the weight, in trips, of the whole-week mix in
	// each hour's reference (version 2): an hour's shares are
	// (count + HourSmoothing·week share) / (hour's trips + HourSmoothing),
	// so that an hour with few reference trips does not make its rare
	// bins look impossible.
	HourSmoothing float64 `json:"hour_smoothing,omitempty"`
	// Features are the features in Feature order.
	Features []FeatureProfile `json:"features"`
}

// FeatureProfile is one feature's reference.
type FeatureProfile struct {
	Name string `json:"name"`
	// Score is ScoreJS or ScorePSI.
	Score string `json:"score"`
	// Counts are the reference trips per bin.
	Counts []int64 `json:"counts"`
	// Edges are the estimate bins' upper edges in minutes (Estimate only):
	// bin i holds estimates ≤ Edges[i] (and > Edges[i-1]); the bin after
	// the last edge holds larger ones and the final bin the non-finite.
	Edges []float64 `json:"edges,omitempty"`
	// MinEffect is the smallest score that may flag, whatever the
	// window's size.
	MinEffect float64 `json:"min_effect"`
	// Thresholds are the calibrated no-drift thresholds by window size,
	// in increasing size, of windows scored against the whole week.
	Thresholds []Threshold `json:"thresholds"`
	// ByHour are the reference counts of each hour of week (version 2;
	// every feature but the hour of week): 168 rows, Monday 00:00 first.
	ByHour HourCounts `json:"by_hour,omitempty"`
	// Spans are the calibrated thresholds of windows of a few hours
	// scored against the hours they cover (version 2), by span.
	Spans []SpanThresholds `json:"span_thresholds,omitempty"`
}

// SpanThresholds are the no-drift thresholds of windows spanning Hours
// hours of the week, scored as Profile.ScoreSpan does: by window size, in
// increasing size.
type SpanThresholds struct {
	Hours      int         `json:"hours"`
	Thresholds []Threshold `json:"thresholds"`
	// Floor is the threshold's limit for windows of ever more trips: the
	// quantile of the real windows' excess divergence alone, which no
	// number of trips averages away. Beyond the largest calibrated size
	// the threshold is the larger of Floor and the 1/n extrapolation.
	Floor float64 `json:"floor"`
}

// Threshold is the bootstrap quantile of the score of windows of Trips
// trips drawn from the reference.
type Threshold struct {
	Trips int     `json:"trips"`
	Score float64 `json:"score"`
}

// DefaultMinEffects are the minimum effect sizes a profile is made with
// unless Settings say otherwise: a Jensen–Shannon divergence of 0.02 bits
// for the zones (a month inside the training months scores about 0.002 on
// a whole month's trips, a month three years earlier 0.1), 0.01 for the
// passenger category and the hour of week, and a PSI of 0.1 (the usual
// "moderate shift") for the estimates.
var DefaultMinEffects = [NumFeatures]float64{0.02, 0.02, 0.01, 0.01, 0.1}

// Settings tune how a profile is computed.
type Settings struct {
	// MinEffects are the minimum effect sizes per feature.
	MinEffects [NumFeatures]float64
	// Sizes are the window sizes (trips) thresholds are calibrated at.
	Sizes []int
	// Replicates is the number of bootstrap windows per size.
	Replicates int
	// Quantile is the threshold's bootstrap quantile.
	Quantile float64
	// EstimateBins is the number of quantile bins of the estimates.
	EstimateBins int
	// Seed seeds the bootstrap.
	Seed uint64
	// Spans are the window spans in hours calibrated for scoring against
	// the hours a window covers (Profile.ScoreSpan); none makes a version 1
	// profile. SpanSizes are their window sizes (fewer than Sizes: each
	// span's draws cost more, and beyond the largest its Floor holds).
	Spans     []int
	SpanSizes []int
	// HourSmoothing is Profile.HourSmoothing.
	HourSmoothing float64
}

// DefaultSettings are the settings training uses.
func DefaultSettings() Settings {
	return Settings{
		MinEffects:   DefaultMinEffects,
		Sizes:        []int{100, 200, 500, 1000, 2000, 5000, 10000, 20000},
		Replicates:   400,
		Quantile:     0.99,
		EstimateBins: 10,
		Seed:         13,
		// The live windows (1h, 24h) and the monitor's days (24h).
		Spans:         []int{1, 24},
		SpanSizes:     []int{100, 200, 500, 1000, 2000, 5000},
		HourSmoothing: 50,
	}
}

// Predictor is what a profile needs of a model: estimates of trips.
type Predictor interface {
	PredictBatch(trips []trip.Trip, out []trip.Prediction)
}

// NewProfile computes the reference of a model trained on train: the
// input distributions of train, and the model's estimates on valid (on
// train when valid is empty), then calibrates the thresholds. It is
// NewProfileFrom of a Reference holding every trip of train.
func NewProfile(train, valid []trip.Example, m Predictor, s Settings) (*Profile, error) {
	if len(train) == 0 {
		return nil, errors.New("drift profile: no training trips")
	}
	ref := NewReference()
	for i := range train {
		ref.AddInput(&train[i].Trip, 1)
		ref.AddSampled(&train[i].Trip)
	}
	est, src := valid, "validation"
	if len(est) == 0 {
		est, src = train, "training"
	}
	ref.EstimateSource = src
	for i, v := range estimates(est, m) {
		ref.AddEstimate(&est[i].Trip, v)
	}
	return NewProfileFrom(ref, s)
}

// Reference is what a profile is computed from, gathered while the trips
// are read so that no training trip needs keeping: the training trips'
// counts per bin of each input feature, how many times the model gave
// each estimate on the trips of EstimateSource, and, for the per-hour
// reference of a version 2 profile, timed records (pickup time, hour of
// week and the bins) of the sampled training trips and of the estimated
// trips.
//
// The per-hour reference (FeatureProfile.ByHour) and the real windows the
// span thresholds are calibrated against come from the sampled trips
// (AddSampled): every training trip while the trainer's sample holds them
// all (the default model's), a uniform sample beyond. They are then the
// sample's counts, not scaled up to the whole training set: the smoothing
// (Profile.HourSmoothing pseudo-trips towards the whole week) then weighs
// against the trips each hour's shares were actually measured on, and the
// real windows, drawn from the same trips, are compared with the rest of
// those counts (leave-one-out), which scaled counts would not match.
type Reference struct {
	// Trips is the number of training trips.
	Trips int64
	// Inputs are the training trips per bin of PickupZone, DropoffZone,
	// PassengerCategory and HourOfWeek.
	Inputs [Estimate][]int64
	// Estimates counts the estimates, in minutes, by value.
	Estimates map[float64]int64
	// EstimateSource says which trips were estimated: "validation" or "training".
	EstimateSource string

	// sampled are the sampled training trips with a pickup time, in
	// training order; estimated the estimates of trips with a pickup
	// time, in the order estimated. Ties of pickup time keep this order
	// in the real windows, so the same data gives the same profile.
	sampled   []sampledTrip
	estimated []estimatedTrip
}

// sampledTrip is a sampled training trip's pickup (Unix seconds of the
// wall-clock time), hour of week and input bins.
type sampledTrip struct {
	at           int64
	hour         int16
	pickup, drop int16
	passengers   int8
}

// estimatedTrip is an estimated trip's pickup, hour of week and estimate.
type estimatedTrip struct {
	at      int64
	hour    int16
	minutes float64
}

// NewReference returns an empty reference.
func NewReference() *Reference {
	return &Reference{
		Inputs: [Estimate][]int64{
			make([]int64, ZoneBins), make([]int64, ZoneBins), make([]int64, PassengerBins), make([]int64, HourBins),
		},
		Estimates: map[float64]int64{},
	}
}

// AddInput counts n training trips like t in the input features.
func (r *Reference) AddInput(t *trip.Trip, n int64) {
	r.Trips += n
	r.Inputs[PickupZone][zoneBin(t.PULocationID)] += n
	r.Inputs[DropoffZone][zoneBin(t.DOLocationID)] += n
	r.Inputs[PassengerCategory][passengerBin(t.Passengers)] += n
	r.Inputs[HourOfWeek][hourBin(t)] += n
}

// AddSampled records t, a training trip already counted by AddInput, as
// one of the sampled trips the per-hour reference and the real windows
// are computed from (see Reference); trips are added in training order.
// A trip with no pickup time has no hour and is not recorded.
func (r *Reference) AddSampled(t *trip.Trip) {
	if t.Pickup.IsZero() {
		return
	}
	r.sampled = append(r.sampled, sampledTrip{
		at: t.Pickup.Unix(), hour: int16(hourBin(t)),
		pickup: int16(zoneBin(t.PULocationID)), drop: int16(zoneBin(t.DOLocationID)), passengers: int8(passengerBin(t.Passengers)),
	})
}

// AddEstimate counts the model's estimate of t, in minutes, and records
// it with t's pickup time for the estimates' per-hour reference. Every
// estimated trip with a pickup time is recorded (24 bytes each): unlike
// the training trips, the estimated ones are not sampled.
func (r *Reference) AddEstimate(t *trip.Trip, minutes float64) {
	r.Estimates[minutes]++
	if !t.Pickup.IsZero() {
		r.estimated = append(r.estimated, estimatedTrip{at: t.Pickup.Unix(), hour: int16(hourBin(t)), minutes: minutes})
	}
}

// NewProfileFrom computes the profile of a reference and calibrates its
// thresholds. With spans in s it is a version 2 profile, whose per-hour
// reference and span thresholds come from the reference's sampled and
// estimated trips.
func NewProfileFrom(ref *Reference, s Settings) (*Profile, error) {
	if ref.Trips <= 0 {
		return nil, errors.New("drift profile: no training trips")
	}
	if s.Replicates < 10 || s.Quantile <= 0 || s.Quantile >= 1 || len(s.Sizes) == 0 || s.EstimateBins < 2 || s.EstimateBins > MaxEstimateBins-2 {
		return nil, fmt.Errorf("drift profile: settings %+v: want ≥ 10 replicates, a quantile in (0,1), window sizes and 2..%d estimate bins", s, MaxEstimateBins-2)
	}
	for f, c := range ref.Inputs {
		if want := (&FeatureProfile{Name: Feature(f).String()}).bins(); len(c) != want {
			return nil, fmt.Errorf("drift profile: %s: %d counts; want %d", Feature(f), len(c), want)
		}
	}
	values := make([]float64, 0, len(ref.Estimates))
	var estTrips int64
	for v, n := range ref.Estimates {
		values = append(values, v)
		estTrips += n
	}
	slices.Sort(values)
	edges := quantileEdges(values, ref.Estimates, s.EstimateBins)
	p := &Profile{
		Trips: ref.Trips, EstimateTrips: estTrips, EstimateSource: ref.EstimateSource,
		Quantile: s.Quantile, Replicates: s.Replicates, Seed: s.Seed,
		Features: make([]FeatureProfile, NumFeatures),
	}
	for f := range NumFeatures {
		fp := &p.Features[f]
		fp.Name, fp.Score, fp.MinEffect = f.String(), ScoreJS, s.MinEffects[f]
		if f == Estimate {
			fp.Score, fp.Edges = ScorePSI, edges
			fp.Counts = make([]int64, fp.bins())
			continue
		}
		fp.Counts = slices.Clone(ref.Inputs[f])
	}
	for v, n := range ref.Estimates { // integer sums: the order does not matter
		p.Features[Estimate].Counts[estimateBin(edges, v)] += n
	}
	var real [NumFeatures][]timed
	if len(s.Spans) > 0 {
		p.Version, p.HourSmoothing = ProfileVersion, s.HourSmoothing
		for _, t := range ref.sampled {
			h := int(t.hour)
			real[PickupZone] = append(real[PickupZone], timed{t.at, h, int(t.pickup)})
			real[DropoffZone] = append(real[DropoffZone], timed{t.at, h, int(t.drop)})
			real[PassengerCategory] = append(real[PassengerCategory], timed{t.at, h, int(t.passengers)})
			real[HourOfWeek] = append(real[HourOfWeek], timed{t.at, h, h})
		}
		for _, t := range ref.estimated {
			real[Estimate] = append(real[Estimate], timed{t.at, int(t.hour), estimateBin(edges, t.minutes)})
		}
		for f := range NumFeatures {
			if f == HourOfWeek {
				continue
			}
			fp := &p.Features[f]
			dense := make([][]int64, HourBins-1)
			for h := range dense {
				dense[h] = make([]int64, len(fp.Counts))
			}
			sum := make([]int64, len(fp.Counts))
			for _, t := range real[f] {
				dense[t.hour][t.bin]++
				sum[t.bin]++
			}
			for b, c := range sum {
				if c > fp.Counts[b] {
					return nil, fmt.Errorf("drift profile: %s: bin %d: %d trips recorded by hour, %d counted", fp.Name, b, c, fp.Counts[b])
				}
			}
			fp.ByHour = sparseHours(dense)
		}
	}
	for f := range p.Features {
		if err := p.Features[f].calibrate(s); err != nil {
			return nil, fmt.Errorf("drift profile: %s: %w", p.Features[f].Name, err)
		}
	}
	for f := range NumFeatures {
		if err := p.calibrateSpans(f, s, sortTimed(real[f])); err != nil {
			return nil, fmt.Errorf("drift profile: %s: %w", p.Features[f].Name, err)
		}
	}
	return p, nil
}

// estimates are m's estimates of examples, in minutes.
func estimates(examples []trip.Example, m Predictor) []float64 {
	const chunk = 4096
	trips := make([]trip.Trip, 0, chunk)
	preds := make([]trip.Prediction, chunk)
	out := make([]float64, 0, len(examples))
	for i := 0; i < len(examples); i += chunk {
		trips = trips[:0]
		for _, e := range examples[i:min(i+chunk, len(examples))] {
			trips = append(trips, e.Trip)
		}
		m.PredictBatch(trips, preds)
		for _, p := range preds[:len(trips)] {
			out = append(out, float64(p.Minutes))
		}
	}
	return out
}

// quantileEdges are the upper edges of k quantile bins of the finite
// positive values, sorted, each counted count[v] times; ties merged, so
// there may be fewer than k bins.
func quantileEdges(sorted []float64, count map[float64]int64, k int) []float64 {
	var vals []float64
	var cum []int64 // cum[i]: values before vals[i] and itself
	var n int64
	for _, x := range sorted {
		if x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			n += count[x]
			vals = append(vals, x)
			cum = append(cum, n)
		}
	}
	if n == 0 {
		return []float64{}
	}
	edges := make([]float64, 0, k-1)
	for i := 1; i < k; i++ {
		pos := min(n-1, int64(i)*n/int64(k)) // index into the values, repeated
		j := sort.Search(len(cum), func(j int) bool { return cum[j] > pos })
		// Round to float32, as estimates are, so the edges encode short.
		e := float64(float32(vals[j]))
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// bins is the number of bins of the feature.
func (fp *FeatureProfile) bins() int {
	switch fp.Name {
	case "pickup_zone", "dropoff_zone":
		return ZoneBins
	case "passenger_category":
		return PassengerBins
	case "hour_of_week":
		return HourBins
	}
	return len(fp.Edges) + 2
}

// zoneBin is the bin of a zone id.
func zoneBin(id uint16) int {
	if !trip.ValidZone(int64(id)) {
		return 0
	}
	return int(id)
}

// passengerBin is the bin of a passenger count.
func passengerBin(n int8) int {
	if n < 0 || n > trip.MaxPassengers {
		return trip.MaxPassengers + 1
	}
	return int(n)
}

// hourBin is the bin of a trip's hour of week.
func hourBin(t *trip.Trip) int {
	h := trip.HourOfWeek(t.Pickup)
	if h < 0 {
		return HourBins - 1
	}
	return h
}

// estimateBin is the bin of an estimate.
func estimateBin(edges []float64, v float64) int {
	if !(v > 0) || math.IsInf(v, 0) {
		return len(edges) + 1
	}
	return sort.SearchFloat64s(edges, v)
}

// unknownBins are the bins of a feature counted as unknown.
func unknownBins(f Feature, nbins int) []int {
	switch f {
	case PickupZone, DropoffZone:
		return unknownZones[:]
	}
	return []int{nbins - 1}
}

// scored reports whether bin b of feature f takes part in the score. The
// hour of week is scored over the trips that state a pickup time: a
// request may leave it out (the model then uses zones and passengers
// alone), which its unknown share reports instead.
func scored(f Feature, b, nbins int) bool {
	return f != HourOfWeek || b != nbins-1
}

// Validate checks a profile read from a file: the features in order with
// their bins, finite non-negative counts and thresholds.
func (p *Profile) Validate() error {
	if p.Trips <= 0 {
		return fmt.Errorf("drift profile: trips %d: want > 0", p.Trips)
	}
	if !(p.Quantile > 0 && p.Quantile < 1) {
		return fmt.Errorf("drift profile: quantile %v: want in (0,1)", p.Quantile)
	}
	if len(p.Features) != int(NumFeatures) {
		return fmt.Errorf("drift profile: %d features; want %d", len(p.Features), NumFeatures)
	}
	if p.Version < 0 || p.Version > ProfileVersion {
		return fmt.Errorf("drift profile: version %d: this build reads versions up to %d", p.Version, ProfileVersion)
	}
	for f := range NumFeatures {
		fp := &p.Features[f]
		if fp.Name != f.String() {
			return fmt.Errorf("drift profile: feature %d is %q; want %q", f, fp.Name, f.String())
		}
		want := ScoreJS
		if f == Estimate {
			want = ScorePSI
		} else if len(fp.Edges) != 0 {
			return fmt.Errorf("drift profile: %s: edges are for the estimate only", fp.Name)
		}
		if fp.Score != want {
			return fmt.Errorf("drift profile: %s: score %q; want %q", fp.Name, fp.Score, want)
		}
		if len(fp.Edges) > MaxEstimateBins-2 {
			return fmt.Errorf("drift profile: %s: %d edges; want at most %d", fp.Name, len(fp.Edges), MaxEstimateBins-2)
		}
		for i, e := range fp.Edges {
			if !finite(e) || (i > 0 && e <= fp.Edges[i-1]) {
				return fmt.Errorf("drift profile: %s: edges must be finite and increasing (edge %d is %v)", fp.Name, i, e)
			}
		}
		if len(fp.Counts) != fp.bins() {
			return fmt.Errorf("drift profile: %s: %d counts; want %d", fp.Name, len(fp.Counts), fp.bins())
		}
		var total int64
		for i, c := range fp.Counts {
			if c < 0 {
				return fmt.Errorf("drift profile: %s: count %d is negative", fp.Name, i)
			}
			if scored(f, i, len(fp.Counts)) {
				total += c
			}
		}
		if total <= 0 {
			return fmt.Errorf("drift profile: %s: no reference trips", fp.Name)
		}
		if !finite(fp.MinEffect) || fp.MinEffect < 0 {
			return fmt.Errorf("drift profile: %s: min_effect %v: want a finite number ≥ 0", fp.Name, fp.MinEffect)
		}
		if len(fp.Thresholds) == 0 {
			return fmt.Errorf("drift profile: %s: no thresholds", fp.Name)
		}
		if err := validThresholds(fp.Thresholds); err != nil {
			return fmt.Errorf("drift profile: %s: %w", fp.Name, err)
		}
		if err := p.validateHours(f); err != nil {
			return fmt.Errorf("drift profile: %s: %w", fp.Name, err)
		}
	}
	return nil
}

// validThresholds checks thresholds: increasing sizes, finite scores ≥ 0.
func validThresholds(ts []Threshold) error {
	for i, t := range ts {
		if t.Trips <= 0 || !finite(t.Score) || t.Score < 0 || (i > 0 && t.Trips <= ts[i-1].Trips) {
			return fmt.Errorf("threshold %d (%d trips, %v): want increasing sizes and finite scores ≥ 0", i, t.Trips, t.Score)
		}
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Threshold returns the calibrated no-drift threshold of f for a window
// of n trips: interpolated between calibrated sizes on log–log axes, and
// beyond the largest as 1/n (the scores' sampling noise shrinks so).
func (p *Profile) Threshold(f Feature, n int64) float64 {
	return interpolate(p.Features[f].Thresholds, n)
}

// interpolate is the threshold of thresholds ts for a window of n trips,
// as Profile.Threshold says.
func interpolate(ts []Threshold, n int64) float64 {
	if n <= int64(ts[0].Trips) {
		return ts[0].Score
	}
	last := ts[len(ts)-1]
	if n >= int64(last.Trips) {
		return last.Score * float64(last.Trips) / float64(n)
	}
	i := sort.Search(len(ts), func(i int) bool { return int64(ts[i].Trips) >= n })
	a, b := ts[i-1], ts[i]
	if a.Score <= 0 || b.Score <= 0 {
		return max(a.Score, b.Score)
	}
	x := (math.Log(float64(n)) - math.Log(float64(a.Trips))) / (math.Log(float64(b.Trips)) - math.Log(float64(a.Trips)))
	return math.Exp(math.Log(a.Score) + x*(math.Log(b.Score)-math.Log(a.Score)))
}
