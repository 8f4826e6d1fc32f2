package drift

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// Hour-conditioned scoring (profile version 2).
//
// A window of a few hours sees only those hours of the week, and the trips
// of a Monday 3am differ from the week's mix (other zones, other trip
// lengths) without anything having drifted. So a window spanning hours is
// scored against what the reference says of the hours it holds: the
// expected distribution of a feature is Σ_h w_h·P(bin | hour of week h),
// w_h the share of the window's trips picked up in hour h (trips with no
// pickup time count against the whole week's mix). Its no-drift thresholds
// are calibrated by bootstrapping windows the same way: a random start in
// the week, the span's hours weighted by their reference trips (the first
// and last partial), trips drawn from those hours' reference, scored
// against the mix of the hours they drew.
//
// The hour of week itself is scored only within whole hours a window is
// known to cover (a calendar day: its 24 hours against the reference of
// that weekday's 24 hours), never in a sliding window, whose first and
// last hours are partial and whose hours depend on when it is read.

// HourCounts are a feature's reference counts per hour of week, Monday
// 00:00 first: row h lists the bins that had trips in hour h. In JSON a
// row is one string "bin:count bin:count ...", which keeps the artifact
// short (most zones have no trip in most hours).
type HourCounts []HourRow

// HourRow is one hour's bins with trips, in increasing bin order.
type HourRow []BinCount

// BinCount is a bin's count.
type BinCount struct {
	Bin   int
	Count int64
}

// MarshalJSON writes the row as "bin:count ..." pairs.
func (r HourRow) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	for i, bc := range r {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(bc.Bin))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(bc.Count, 10))
	}
	return json.Marshal(b.String())
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *HourRow) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("hour row: %w", err)
	}
	*r = (*r)[:0]
	for _, f := range strings.Fields(s) {
		bs, cs, ok := strings.Cut(f, ":")
		b, err1 := strconv.Atoi(bs)
		c, err2 := strconv.ParseInt(cs, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("hour row: %q is not bin:count", f)
		}
		*r = append(*r, BinCount{Bin: b, Count: c})
	}
	return nil
}

// sparseHours turns dense per-hour counts into HourCounts.
func sparseHours(dense [][]int64) HourCounts {
	out := make(HourCounts, len(dense))
	for h, row := range dense {
		out[h] = HourRow{}
		for b, c := range row {
			if c > 0 {
				out[h] = append(out[h], BinCount{Bin: b, Count: c})
			}
		}
	}
	return out
}

// validateHours checks feature f's version 2 parts: present exactly when
// the profile is version 2, rows of bins in range adding up to no more
// than the whole week's counts, calibrated spans.
func (p *Profile) validateHours(f Feature) error {
	fp := &p.Features[f]
	if p.Version < 2 {
		if len(fp.ByHour) != 0 || len(fp.Spans) != 0 {
			return fmt.Errorf("per-hour reference in a version %d profile", p.Version)
		}
		return nil
	}
	if !finite(p.HourSmoothing) || p.HourSmoothing < 0 {
		return fmt.Errorf("hour smoothing %v: want a finite number ≥ 0", p.HourSmoothing)
	}
	if f == HourOfWeek {
		if len(fp.ByHour) != 0 {
			return errors.New("the hour of week has no per-hour reference")
		}
	} else {
		if len(fp.ByHour) != HourBins-1 {
			return fmt.Errorf("%d hours of reference; want %d", len(fp.ByHour), HourBins-1)
		}
		sum := make([]int64, len(fp.Counts))
		for h, row := range fp.ByHour {
			for i, bc := range row {
				if bc.Bin < 0 || bc.Bin >= len(fp.Counts) || bc.Count <= 0 || (i > 0 && bc.Bin <= row[i-1].Bin) {
					return fmt.Errorf("hour %d: bin %d count %d: want increasing bins in 0..%d and counts > 0", h, bc.Bin, bc.Count, len(fp.Counts)-1)
				}
				sum[bc.Bin] += bc.Count
			}
		}
		for b, c := range sum {
			if c > fp.Counts[b] {
				return fmt.Errorf("bin %d: %d trips over the hours, %d over the week", b, c, fp.Counts[b])
			}
		}
	}
	for i, s := range fp.Spans {
		if s.Hours <= 0 || (i > 0 && s.Hours <= fp.Spans[i-1].Hours) || (f == HourOfWeek && s.Hours < 2) || len(s.Thresholds) == 0 {
			return fmt.Errorf("span %d (%d hours): want increasing spans (of 2 hours or more for the hour of week), each with thresholds", i, s.Hours)
		}
		if err := validThresholds(s.Thresholds); err != nil {
			return fmt.Errorf("span of %d hours: %w", s.Hours, err)
		}
		if !finite(s.Floor) || s.Floor < 0 {
			return fmt.Errorf("span of %d hours: floor %v: want a finite number ≥ 0", s.Hours, s.Floor)
		}
	}
	return nil
}

// spanThresholds are f's thresholds for windows of about hours hours: the
// calibrated span nearest on a log scale, or, when the whole week (168
// hours) is nearer, the whole week's; nil when none is.
func (fp *FeatureProfile) spanThresholds(hours int) *SpanThresholds {
	var best *SpanThresholds
	d := math.Inf(1)
	for i, s := range fp.Spans {
		if x := math.Abs(math.Log(float64(s.Hours) / float64(hours))); x < d {
			best, d = &fp.Spans[i], x
		}
	}
	if best != nil && math.Abs(math.Log(float64(HourBins-1)/float64(hours))) < d {
		return &SpanThresholds{Hours: HourBins - 1, Thresholds: fp.Thresholds}
	}
	return best
}

// effectiveHours is how many hours of week a sliding window's trips are
// spread over (the perplexity of their hours, rounded; at least 1), or
// clock when it holds no trip with a pickup time. A live window's trips
// usually fall in the hours its clock covers, but a client may ask about
// trips at any time (scoring last month's file through /predict): their
// thresholds are then those of windows spread as widely.
func effectiveHours(hours []int64, clock int) int {
	var n int64
	for _, v := range hours {
		n += v
	}
	if n == 0 {
		return clock
	}
	var h float64
	for _, v := range hours {
		if v > 0 {
			p := float64(v) / float64(n)
			h -= p * math.Log(p)
		}
	}
	return max(1, int(math.Round(math.Exp(h))))
}

// threshold is the span's threshold for a window of n trips.
func (st *SpanThresholds) threshold(n int64) float64 {
	return max(st.Floor, interpolate(st.Thresholds, n))
}

// mixture sets out to the reference shares of feature f expected of a
// window whose trips fall into the hours of week as hours says (HourBins
// counts, the last one trips with no pickup time): Σ_h w_h·P(bin | h),
// each hour's shares smoothed towards the week's q.
func (p *Profile) mixture(f Feature, q []float64, hours []int64, out []float64) {
	fp := &p.Features[f]
	var n int64
	for _, v := range hours {
		n += v
	}
	clear(out)
	if n == 0 {
		copy(out, q)
		return
	}
	alpha := p.HourSmoothing
	weekWeight := float64(hours[HourBins-1]) / float64(n)
	for h, nh := range hours[:HourBins-1] {
		if nh == 0 {
			continue
		}
		w := float64(nh) / float64(n)
		var total int64
		for _, bc := range fp.ByHour[h] {
			total += bc.Count
		}
		den := float64(total) + alpha
		if den <= 0 {
			weekWeight += w
			continue
		}
		for _, bc := range fp.ByHour[h] {
			out[bc.Bin] += w * float64(bc.Count) / den
		}
		weekWeight += w * alpha / den
	}
	for b := range out {
		out[b] += weekWeight * q[b]
	}
}

// mixtureWithout is mixture for the real window win of the reference
// itself, with win's trips taken out of each hour's counts (dense, per
// hour and bin), so that the window is compared with the rest.
func (p *Profile) mixtureWithout(f Feature, q []float64, hours []int64, win []timed, dense [][]int64, out []float64) {
	var n int64
	for _, v := range hours {
		n += v
	}
	clear(out)
	alpha := p.HourSmoothing
	for _, t := range win {
		dense[t.hour][t.bin]--
	}
	var weekWeight float64
	for h, nh := range hours[:HourBins-1] {
		if nh == 0 {
			continue
		}
		w := float64(nh) / float64(n)
		var total int64
		for _, c := range dense[h] {
			total += c
		}
		den := float64(total) + alpha
		if den <= 0 {
			weekWeight += w
			continue
		}
		for b, c := range dense[h] {
			out[b] += w * float64(c) / den
		}
		weekWeight += w * alpha / den
	}
	for b := range out {
		out[b] += weekWeight * q[b]
	}
	for _, t := range win {
		dense[t.hour][t.bin]++
	}
}

// hourShares are the smoothed reference shares of feature f in each hour
// of week, as mixture weighs them.
func (p *Profile) hourShares(f Feature, q []float64) [][]float64 {
	out := make([][]float64, HourBins-1)
	hours := make([]int64, HourBins)
	for h := range out {
		out[h] = make([]float64, len(q))
		hours[h] = 1
		p.mixture(f, q, hours, out[h])
		hours[h] = 0
	}
	return out
}

// timed is a reference trip for drawing real windows: its pickup (Unix
// seconds of the wall-clock time), hour of week and bin of one feature.
type timed struct {
	at   int64
	hour int
	bin  int
}

// sortTimed sorts trips by pickup, keeping the given order among equal
// times, so the same data always gives the same windows.
func sortTimed(ts []timed) []timed {
	slices.SortStableFunc(ts, func(a, b timed) int { return cmpInt64(a.at, b.at) })
	return ts
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// realExcess draws windows of span hours of real reference trips (real,
// in pickup order) and returns, per window, how much more it diverges from
// the hour-conditioned reference without it (as a window of new traffic
// would) than sampling alone makes a window of its size and hours diverge
// (the mean of a few draws), floored at 0: the day-to-day variation
// (weather, events, holidays) that multinomial draws from the reference
// do not have. whole starts each window at a midnight
// and scores the hour of week within its hours (f is then HourOfWeek).
func (p *Profile) realExcess(f Feature, span int, real []timed, q []float64, aliases []*alias, rng *rand.Rand, replicates int) []float64 {
	excess := make([]float64, replicates)
	if len(real) == 0 {
		return excess
	}
	const draws = 4
	loo := make([]float64, len(q))
	var dense [][]int64
	if f != HourOfWeek {
		dense = make([][]int64, HourBins-1)
		for h, row := range p.Features[f].ByHour {
			dense[h] = make([]int64, len(q))
			for _, bc := range row {
				dense[h][bc.Bin] = bc.Count
			}
		}
	}
	obs := make([]int64, len(q))
	sim := make([]int64, len(q))
	exp := make([]float64, len(q))
	nh := make([]int64, HourBins)
	// The real windows are drawn from the sampled trips, so a day is
	// left out of the sampled trips per hour (the row totals of a per-hour
	// reference), not of the whole training set's: the same counts while
	// the sample holds every training trip.
	hourCounts := make([]int64, HourBins-1)
	for h, row := range p.Features[PickupZone].ByHour {
		for _, bc := range row {
			hourCounts[h] += bc.Count
		}
	}
	// Windows start at a uniformly random time between the 0.1% and the
	// 99.9% pickups (leaving out the few with a wrong date), as a live
	// window is read at any time, night or day.
	first, last := real[len(real)/1000].at, real[len(real)-1-len(real)/1000].at
	for r := range excess {
		start := first + rng.Int64N(max(1, last-first))
		if f == HourOfWeek {
			start -= ((start % 86400) + 86400) % 86400
		}
		end := start + int64(span)*3600
		lo := sort.Search(len(real), func(i int) bool { return real[i].at >= start })
		clear(obs)
		clear(nh)
		var n int64
		hi := lo
		for ; hi < len(real) && real[hi].at < end; hi++ {
			obs[real[hi].bin]++
			nh[real[hi].hour]++
			n++
		}
		if n == 0 {
			continue
		}
		var a *alias
		var s float64
		if f == HourOfWeek {
			// The day's hours against the reference of the same hours
			// without this day.
			first := trip.HourOfWeek(time.Unix(start, 0).UTC())
			clear(exp)
			clear(loo)
			var total, looTotal float64
			for k := range span {
				h := (first + k) % (HourBins - 1)
				total += float64(hourCounts[h])
				looTotal += float64(hourCounts[h] - nh[h])
			}
			for k := range span {
				h := (first + k) % (HourBins - 1)
				exp[h] = float64(hourCounts[h]) / total
				if looTotal > 0 {
					loo[h] = float64(hourCounts[h]-nh[h]) / looTotal
				}
			}
			a = newAlias(exp)
			s = score(p.Features[f].Score, loo, obs, n, f)
		} else {
			p.mixture(f, q, nh, exp)
			p.mixtureWithout(f, q, nh, real[lo:hi], dense, loo)
			s = score(p.Features[f].Score, loo, obs, n, f)
		}
		var mean float64
		for range draws {
			clear(sim)
			if a != nil {
				for range n {
					sim[a.draw(rng)]++
				}
			} else {
				for h, k := range nh[:HourBins-1] {
					for range k {
						sim[aliases[h].draw(rng)]++
					}
				}
			}
			mean += score(p.Features[f].Score, exp, sim, n, f) / draws
		}
		excess[r] = max(0, s-mean)
	}
	return excess
}

// calibrateSpans sets the thresholds of f for the settings' spans: per
// span and window size, the quantile of the scores of bootstrap windows
// drawn and scored as ScoreSpan scores windows of that span, each plus the
// excess divergence of a real window of the reference trips (real, in
// pickup order; see realExcess), so that the day-to-day variation of real
// traffic is part of the no-drift threshold.
func (p *Profile) calibrateSpans(f Feature, s Settings, real []timed) error {
	fp := &p.Features[f]
	fp.Spans = nil
	if p.Version < 2 {
		return nil
	}
	hourCounts := p.Features[HourOfWeek].Counts[:HourBins-1]
	q := fp.shares(f)
	var aliases []*alias
	if f != HourOfWeek {
		for _, sh := range p.hourShares(f, q) {
			aliases = append(aliases, newAlias(sh))
		}
	}
	sizes := slices.Compact(slices.Sorted(slices.Values(s.SpanSizes)))
	if len(sizes) == 0 {
		sizes = slices.Compact(slices.Sorted(slices.Values(s.Sizes)))
	}
	spans := slices.Compact(slices.Sorted(slices.Values(s.Spans)))
	obs := make([]int64, len(q))
	exp := make([]float64, len(q))
	nh := make([]int64, HourBins)
	scores := make([]float64, s.Replicates)
	for _, span := range spans {
		if span <= 0 || span >= HourBins-1 {
			return fmt.Errorf("span %d hours: want 1..%d", span, HourBins-2)
		}
		if f == HourOfWeek && span < 2 {
			continue // the hour of week is not scored in so short a window
		}
		rng := rand.New(rand.NewPCG(s.Seed, uint64(f)+1+uint64(span)<<8))
		excess := p.realExcess(f, span, real, q, aliases, rng, s.Replicates)
		st := SpanThresholds{Hours: span, Floor: quantileOf(slices.Clone(excess), s.Quantile)}
		cum := make([]float64, span+1)
		for _, n := range sizes {
			if n <= 0 {
				return fmt.Errorf("window size %d: want > 0", n)
			}
			for r := range scores {
				clear(obs)
				clear(nh)
				start := rng.IntN(HourBins - 1)
				scores[r] = excess[r]
				if f == HourOfWeek {
					// Whole hours start..start+span-1, against their
					// reference alone.
					cum = cum[:span]
					clear(exp)
					var total float64
					for k := range span {
						total += float64(hourCounts[(start+k)%(HourBins-1)])
						cum[k] = total
					}
					if total == 0 {
						continue
					}
					for k := range span {
						exp[(start+k)%(HourBins-1)] = float64(hourCounts[(start+k)%(HourBins-1)]) / total
					}
					for range n {
						k := sort.SearchFloat64s(cum, rng.Float64()*total)
						obs[(start+min(k, span-1))%(HourBins-1)]++
					}
					scores[r] += score(fp.Score, exp, obs, int64(n), f)
					continue
				}
				// A sliding window: span+1 hours, the first and the last
				// partial, at a random point of the week.
				cum = cum[:span+1]
				u := rng.Float64()
				var total float64
				for k := range span + 1 {
					w := float64(hourCounts[(start+k)%(HourBins-1)])
					switch k {
					case 0:
						w *= 1 - u
					case span:
						w *= u
					}
					total += w
					cum[k] = total
				}
				if total == 0 {
					continue
				}
				for range n {
					k := min(sort.SearchFloat64s(cum, rng.Float64()*total), span)
					h := (start + k) % (HourBins - 1)
					nh[h]++
					obs[aliases[h].draw(rng)]++
				}
				p.mixture(f, q, nh, exp)
				scores[r] += score(fp.Score, exp, obs, int64(n), f)
			}
			st.Thresholds = append(st.Thresholds, Threshold{Trips: n, Score: quantileOf(scores, s.Quantile)})
		}
		fp.Spans = append(fp.Spans, st)
	}
	return nil
}

// quantileOf is the q quantile of scores (sorted in place), to six
// significant digits, which are plenty and keep the artifact short.
func quantileOf(scores []float64, q float64) float64 {
	slices.Sort(scores)
	i := int(math.Ceil(q*float64(len(scores)))) - 1
	v := scores[max(0, min(i, len(scores)-1))]
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return v
}

// Span says how a window is scored. The zero Span scores a window against
// the whole week (a batch run, a month). A window of a few hours sets
// Hours: its features are scored against the reference of the hours of
// week its trips were picked up in, with thresholds calibrated for windows
// of that span (the nearest calibrated one; for a sliding window, of the
// span its trips are spread over, see effectiveHours). Whole says the window covers
// exactly the Hours whole hours of week from FirstHour on (a calendar day:
// 24 hours from its weekday's midnight), and only then is the hour of week
// scored, within those hours; a sliding window's hour of week is not.
type Span struct {
	Hours     int
	Whole     bool
	FirstHour int
}

// Score references.
const (
	// RefWeek: scored against the whole week's reference.
	RefWeek = "week"
	// RefHours: scored against the reference of the window's own hours
	// of week.
	RefHours = "hours"
)

// ScoreSpan scores a window's counts against the profile as sp says,
// feature by feature in Feature order. A version 1 profile has no
// per-hour reference: its windows are scored against the whole week and,
// when sp spans hours, the hour of week is not scored.
func (p *Profile) ScoreSpan(c *Counts, o Options, sp Span) [NumFeatures]FeatureScore {
	minTrips := o.MinTrips
	if minTrips <= 0 {
		minTrips = DefaultMinTrips
	}
	hours := c.Bins[offHour : offHour+HourBins]
	spanHours := sp.Hours
	if sp.Hours > 0 && !sp.Whole {
		spanHours = effectiveHours(hours[:HourBins-1], sp.Hours)
	}
	var out [NumFeatures]FeatureScore
	for f := range NumFeatures {
		fp := &p.Features[f]
		nb := len(fp.Counts)
		obs := c.Bins[offsets[f] : offsets[f]+nb]
		fs := FeatureScore{Feature: fp.Name, Kind: fp.Score, MinEffect: fp.MinEffect, Reference: RefWeek}
		if o.MinEffects != nil && o.MinEffects[f] >= 0 {
			fs.MinEffect = o.MinEffects[f]
		}
		var unknown, all int64
		for _, b := range unknownBins(f, nb) {
			unknown += obs[b]
		}
		for b, v := range obs {
			all += v
			if scored(f, b, nb) {
				fs.Trips += v
			}
		}
		if all > 0 {
			fs.UnknownShare = float64(unknown) / float64(all)
		}
		q := fp.shares(f)
		threshold := func(n int64) float64 { return interpolate(fp.Thresholds, n) }
		if sp.Hours > 0 {
			span := fp.spanThresholds(spanHours)
			switch {
			case f == HourOfWeek && p.Version < 2:
				fs.NotScored = "the model's drift profile (version 1) has no reference for parts of the week"
			case f == HourOfWeek && !sp.Whole:
				fs.NotScored = "a sliding window's first and last hours are partial; its hours of week only condition the other features"
			case f == HourOfWeek && span == nil:
				fs.NotScored = fmt.Sprintf("the profile has no thresholds for %d hours of week", sp.Hours)
			case f == HourOfWeek:
				// Within the window's whole hours only.
				var total float64
				inside := make([]bool, nb)
				for k := range sp.Hours {
					h := ((sp.FirstHour+k)%(HourBins-1) + HourBins - 1) % (HourBins - 1)
					inside[h] = true
					total += float64(fp.Counts[h])
				}
				restricted := make([]float64, nb)
				win := make([]int64, nb)
				fs.Trips = 0
				for h := range nb {
					if inside[h] && total > 0 {
						restricted[h] = float64(fp.Counts[h]) / total
						win[h] = obs[h]
						fs.Trips += obs[h]
					}
				}
				q, obs, threshold, fs.Reference = restricted, win, span.threshold, RefHours
			case p.Version >= 2 && span != nil:
				exp := make([]float64, nb)
				p.mixture(f, q, hours, exp)
				q, threshold, fs.Reference = exp, span.threshold, RefHours
			}
		}
		if fs.NotScored == "" && fs.Trips >= minTrips {
			fs.Computed = true
			fs.Score = score(fp.Score, q, obs, fs.Trips, f)
			fs.Calibrated = threshold(fs.Trips)
			fs.Threshold = max(fs.Calibrated, fs.MinEffect)
			fs.Flag = fs.Score > fs.Threshold
		}
		out[f] = fs
	}
	return out
}
