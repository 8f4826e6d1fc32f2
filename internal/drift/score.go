package drift

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/taxieta/taxieta/internal/trip"
)

// Offsets of each feature's bins in Counts.Bins.
const (
	offPickup    = 0
	offDropoff   = offPickup + ZoneBins
	offPassenger = offDropoff + ZoneBins
	offHour      = offPassenger + PassengerBins
	offEstimate  = offHour + HourBins
	// TotalBins is the number of bins of all features together.
	TotalBins = offEstimate + MaxEstimateBins
)

// offsets are the features' first bins in Counts.Bins.
var offsets = [NumFeatures]int{offPickup, offDropoff, offPassenger, offHour, offEstimate}

// Counts are a window's trips counted into every feature's bins.
type Counts struct {
	Trips int64
	// Bins are all features' bins one after the other; BinsOf gives
	// where a trip falls.
	Bins [TotalBins]int64
}

// BinsOf returns the index in Counts.Bins of each feature's bin for a
// trip and its estimate. It does not allocate.
func (p *Profile) BinsOf(t *trip.Trip, pred trip.Prediction) [NumFeatures]int {
	return [NumFeatures]int{
		offPickup + zoneBin(t.PULocationID),
		offDropoff + zoneBin(t.DOLocationID),
		offPassenger + passengerBin(t.Passengers),
		offHour + hourBin(t),
		offEstimate + estimateBin(p.Features[Estimate].Edges, float64(pred.Minutes)),
	}
}

// Add counts trips and their estimates into c.
func (c *Counts) Add(p *Profile, trips []trip.Trip, preds []trip.Prediction) {
	for i := range trips {
		for _, b := range p.BinsOf(&trips[i], preds[i]) {
			c.Bins[b]++
		}
	}
	c.Trips += int64(len(trips))
}

// FeatureScore is one feature's drift in a window.
type FeatureScore struct {
	Feature string `json:"feature"`
	// Kind is ScoreJS or ScorePSI.
	Kind string `json:"kind"`
	// Trips are the window's trips the score is over (for the hour of
	// week, those that state a pickup time).
	Trips int64 `json:"trips"`
	// Computed is false when the window has fewer than the minimum of
	// trips; Score, Flag and the thresholds then say nothing.
	Computed bool `json:"computed"`
	// Score is the divergence of the window from the reference.
	Score float64 `json:"score"`
	// Calibrated is the no-drift threshold for a window of Trips trips,
	// MinEffect the minimum effect size, Threshold the larger of the two.
	Calibrated float64 `json:"calibrated_threshold"`
	MinEffect  float64 `json:"min_effect"`
	Threshold  float64 `json:"threshold"`
	// Flag says Score > Threshold.
	Flag bool `json:"flag"`
	// Reference says what the window was compared with: RefWeek (the
	// whole week's mix) or RefHours (the mix of the hours of week the
	// window holds; see Span).
	Reference string `json:"reference"`
	// NotScored says why the feature is not scored in this window however
	// many trips it has (the hour of week of a sliding window).
	NotScored string `json:"not_scored,omitempty"`
	// UnknownShare is the share of the window's trips whose value is
	// unknown: zone ids 264, 265 or invalid; no passenger count; no
	// pickup time; an estimate that is not a positive number. It is 0
	// for an empty window.
	UnknownShare float64 `json:"unknown_share"`
}

// Options tune scoring.
type Options struct {
	// MinTrips is the fewest trips a feature is scored on; below it the
	// score is not computed. Zero means DefaultMinTrips.
	MinTrips int64
	// MinEffects, where not negative, replace the profile's minimum
	// effect sizes; nil keeps the profile's.
	MinEffects *[NumFeatures]float64
}

// DefaultMinTrips is the fewest trips scored unless Options say otherwise.
const DefaultMinTrips = 200

// Score scores a window's counts against the whole week's reference,
// feature by feature in Feature order; see ScoreSpan for windows of a few
// hours.
func (p *Profile) Score(c *Counts, o Options) [NumFeatures]FeatureScore {
	return p.ScoreSpan(c, o, Span{})
}

// shares are the reference's shares per bin over the scored bins (0 for
// the others).
func (fp *FeatureProfile) shares(f Feature) []float64 {
	q := make([]float64, len(fp.Counts))
	var total int64
	for b, c := range fp.Counts {
		if scored(f, b, len(fp.Counts)) {
			total += c
		}
	}
	for b, c := range fp.Counts {
		if scored(f, b, len(fp.Counts)) {
			q[b] = float64(c) / float64(total)
		}
	}
	return q
}

// score is the divergence of observed counts obs (n trips over the scored
// bins) from reference shares q.
func score(kind string, q []float64, obs []int64, n int64, f Feature) float64 {
	nb := len(q)
	var s float64
	for b := range nb {
		if !scored(f, b, nb) {
			continue
		}
		pb := float64(obs[b]) / float64(n)
		qb := q[b]
		if kind == ScorePSI {
			pf, qf := max(pb, PSIFloor), max(qb, PSIFloor)
			s += (pf - qf) * math.Log(pf/qf)
			continue
		}
		m := (pb + qb) / 2
		if pb > 0 {
			s += pb * math.Log2(pb/m)
		}
		if qb > 0 {
			s += qb * math.Log2(qb/m)
		}
	}
	if kind == ScoreJS {
		s /= 2
	}
	// Rounding can leave a tiny negative for identical distributions.
	return max(s, 0)
}

// calibrate sets fp's thresholds: per window size, the quantile of the
// scores of bootstrap windows drawn from the reference.
func (fp *FeatureProfile) calibrate(s Settings) error {
	f := featureNamed(fp.Name)
	q := fp.shares(f)
	alias := newAlias(q)
	rng := rand.New(rand.NewPCG(s.Seed, uint64(f)+1))
	obs := make([]int64, len(q))
	scores := make([]float64, s.Replicates)
	sizes := slices.Clone(s.Sizes)
	slices.Sort(sizes)
	fp.Thresholds = fp.Thresholds[:0]
	for _, n := range slices.Compact(sizes) {
		if n <= 0 {
			return fmt.Errorf("window size %d: want > 0", n)
		}
		for r := range scores {
			clear(obs)
			for range n {
				obs[alias.draw(rng)]++
			}
			scores[r] = score(fp.Score, q, obs, int64(n), f)
		}
		fp.Thresholds = append(fp.Thresholds, Threshold{Trips: n, Score: quantileOf(scores, s.Quantile)})
	}
	return nil
}

// featureNamed is the feature of a name; NumFeatures for none.
func featureNamed(name string) Feature {
	for f := range NumFeatures {
		if f.String() == name {
			return f
		}
	}
	return NumFeatures
}

// alias is Walker's alias table: O(1) draws from a discrete distribution.
type alias struct {
	prob  []float64
	alias []int
}

func newAlias(q []float64) *alias {
	n := len(q)
	a := &alias{prob: make([]float64, n), alias: make([]int, n)}
	scaled := make([]float64, n)
	var small, large []int
	for i, v := range q {
		scaled[i] = v * float64(n)
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[s], a.alias[s] = scaled[s], l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		a.prob[i] = 1
	}
	for _, i := range small {
		a.prob[i] = 1 // only rounding leaves these
	}
	return a
}

// draw draws a bin. One 64-bit number gives both the column (its high
// part times the number of columns) and the coin (what is left), which
// halves the cost of calibrating a profile.
func (a *alias) draw(r *rand.Rand) int {
	hi, lo := bits.Mul64(r.Uint64(), uint64(len(a.prob)))
	i := int(hi)
	if float64(lo>>11)/(1<<53) < a.prob[i] {
		return i
	}
	return a.alias[i]
}

// Summary describes the profile in a few lines, for `model inspect`.
func (p *Profile) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "drift reference: %d training trips; estimates on %d %s trips; no-drift thresholds: %g quantile of %d bootstrap windows per size (seed %d)\n",
		p.Trips, p.EstimateTrips, p.EstimateSource, p.Quantile, p.Replicates, p.Seed)
	fmt.Fprintf(&b, "  %-19s %-5s %-10s %-12s %-12s %-12s %s\n", "feature", "score", "min effect", "thr @1000", "thr @10000", "thr @100000", "reference")
	for f := range NumFeatures {
		fp := &p.Features[f]
		fmt.Fprintf(&b, "  %-19s %-5s %-10g %-12.4g %-12.4g %-12.4g %s\n", fp.Name, fp.Score, fp.MinEffect,
			p.Threshold(f, 1000), p.Threshold(f, 10000), p.Threshold(f, 100000), fp.describe(f))
	}
	if p.Version < 2 {
		b.WriteString("  profile version 1: no per-hour reference; windows of a few hours are scored against the whole week\n")
		return b.String()
	}
	fmt.Fprintf(&b, "windows of a few hours, against the reference of the hours of week they hold (each hour smoothed with %g trips of the week's mix); thresholds include the excess divergence of real training windows:\n", p.HourSmoothing)
	fmt.Fprintf(&b, "  %-19s %-5s %-12s %-12s %-12s\n", "feature", "hours", "thr @200", "thr @2000", "thr @20000")
	for f := range NumFeatures {
		fp := &p.Features[f]
		for _, sp := range fp.Spans {
			fmt.Fprintf(&b, "  %-19s %-5d %-12.4g %-12.4g %-12.4g\n", fp.Name, sp.Hours,
				sp.threshold(200), sp.threshold(2000), sp.threshold(20000))
		}
	}
	return b.String()
}

// describe says what the reference of a feature holds.
func (fp *FeatureProfile) describe(f Feature) string {
	var total, unknown int64
	nonEmpty := 0
	for b, c := range fp.Counts {
		total += c
		if c > 0 && scored(f, b, len(fp.Counts)) {
			nonEmpty++
		}
	}
	for _, b := range unknownBins(f, len(fp.Counts)) {
		unknown += fp.Counts[b]
	}
	u := 0.0
	if total > 0 {
		u = 100 * float64(unknown) / float64(total)
	}
	switch f {
	case Estimate:
		return fmt.Sprintf("%d quantile bins, edges %s min", len(fp.Edges)+1, formatEdges(fp.Edges))
	case PickupZone, DropoffZone:
		return fmt.Sprintf("%d zones seen, %.1f%% unknown", nonEmpty, u)
	}
	return fmt.Sprintf("%d categories seen, %.1f%% unknown", nonEmpty, u)
}

func formatEdges(e []float64) string {
	s := make([]string, len(e))
	for i, v := range e {
		s[i] = fmt.Sprintf("%.1f", v)
	}
	return strings.Join(s, " ")
}

// Feature returns the window's counts of feature f, bin by bin as the
// profile's FeatureProfile.Counts are (a copy, for charts).
func (c *Counts) Feature(p *Profile, f Feature) []int64 {
	if f >= NumFeatures || int(f) >= len(p.Features) {
		return nil
	}
	nb := len(p.Features[f].Counts)
	return slices.Clone(c.Bins[offsets[f] : offsets[f]+nb])
}
