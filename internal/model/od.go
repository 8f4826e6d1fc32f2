package model

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/zones"
)

// KindOD is the default model: an estimate per origin–destination pair.
const KindOD = "od"

const (
	nz       = trip.MaxZone + 1
	numPairs = nz * nz
	// intervalBuckets split trips by their estimate, so that the 10–90%
	// range is calibrated for short and long trips alike.
	intervalBuckets = 10
	hoursPerWeek    = 7 * 24
)

// ODSettings are the od model's hyperparameters. The defaults were chosen on
// the three course splits (train on a January, validate on February).
type ODSettings struct {
	// PairShrinkage is the pseudo-count pulling a pair's own mean towards its prior.
	PairShrinkage float64 `json:"pair_shrinkage"`
	// ZoneShrinkage is the pseudo-count of the additive zone effects.
	ZoneShrinkage float64 `json:"zone_shrinkage"`
	// Ridge is the L2 penalty of the prior regression.
	Ridge float64 `json:"ridge"`
	// KernelKm is the bandwidth of the spatial smoothing of residuals; 0 turns it off.
	KernelKm float64 `json:"kernel_km"`
	// KernelShrinkage is the pseudo-count of the smoothed residual.
	KernelShrinkage float64 `json:"kernel_shrinkage"`
	// ReverseShrinkage is the pseudo-count of the reverse pair's evidence.
	ReverseShrinkage float64 `json:"reverse_shrinkage"`
	// PassengerShrinkage is the pseudo-count of passenger-category offsets.
	PassengerShrinkage float64 `json:"passenger_shrinkage"`
	// HourShrinkage is the weight, in minutes of estimate, pulling hour factors towards 1.
	HourShrinkage float64 `json:"hour_shrinkage"`
	// RecencyDays is the window, at the end of the training data, whose
	// level (observed over estimated duration) scales every estimate: trips
	// drift from month to month, and the latest weeks tell which way.
	// 0 turns it off.
	RecencyDays float64 `json:"recency_days"`
	// IntervalLow and IntervalHigh are the quantiles of out-of-sample
	// duration/estimate ratios that bound the range. They are not 0.1/0.9:
	// the range is used on later months, whose trips drift (they ran longer
	// in each February measured), so the band sits slightly higher; the
	// values put next-month coverage at 78.7%, 80.5% and 81.4% on the three
	// course splits.
	IntervalLow  float64 `json:"interval_low"`
	IntervalHigh float64 `json:"interval_high"`
}

// DefaultODSettings are the settings `taxieta train` uses.
func DefaultODSettings() ODSettings {
	return ODSettings{
		PairShrinkage: 3, ZoneShrinkage: 5, Ridge: 1,
		KernelKm: 2.5, KernelShrinkage: 2, ReverseShrinkage: 10,
		PassengerShrinkage: 10, HourShrinkage: 200, RecencyDays: 14,
		IntervalLow: 0.115, IntervalHigh: 0.92,
	}
}

// ODEstimator fits the od model. For every pair of zones it learns a prior:
//
//  1. additive pickup and dropoff zone effects (shrunk backfitting);
//  2. a ridge regression of pair means on those effects and, from the zone
//     table, the distance between the zones' centroids (linear, square root,
//     log and square terms), a same-zone flag and the pair of boroughs.
//     Pairs never seen in training are mostly long trips: distance is what
//     tells;
//  3. the residuals of nearby pairs, smoothed with a Gaussian kernel over
//     the distance between pickup zones and between dropoff zones;
//  4. the evidence of the reverse trip (dropoff to pickup).
//
// A pair's estimate is its own mean shrunk towards that prior; passenger
// categories add a small offset. Every estimate is then scaled by the level
// of the last two weeks of training data (observed over estimated), since
// trips drift from month to month. When a trip gives its pickup time, a factor
// per hour of the week scales the estimate. The 10–90% range multiplies the
// estimate by quantiles of duration/estimate measured out of sample (two-fold
// cross-fitting) within ten buckets of the estimate.
type ODEstimator struct {
	// Zones supply boroughs and centroids; nil means no geography.
	Zones    zones.Table
	Settings ODSettings
}

// odParams are the learnt parameters, as written in an artifact.
type odParams struct {
	Settings ODSettings `json:"settings"`
	// Estimate is the estimate without pickup time for every pair of zones,
	// by pu*266+do (zone 0 stands for an unknown zone).
	Estimate packedFloats `json:"pair_estimate"`
	// Passengers is the additive offset per passenger category 0..9, unknown.
	Passengers []float32 `json:"passenger_offset"`
	// HourOfWeek is the multiplicative factor per hour of the week (Monday 0h = 0).
	HourOfWeek []float32 `json:"hour_of_week_factor"`
	// BucketEdges split estimates into interval buckets (lower bounds, minutes).
	BucketEdges []float32 `json:"interval_bucket_edges"`
	// RatioLow and RatioHigh are, per bucket, the quantiles of duration/estimate.
	RatioLow  []float32 `json:"interval_ratio_low"`
	RatioHigh []float32 `json:"interval_ratio_high"`
	// TimeBucketEdges, TimeRatioLow and TimeRatioHigh are the same for
	// estimates that used the pickup time, which are tighter.
	TimeBucketEdges []float32 `json:"interval_bucket_edges_time"`
	TimeRatioLow    []float32 `json:"interval_ratio_low_time"`
	TimeRatioHigh   []float32 `json:"interval_ratio_high_time"`
	// RecencyFactor is the scale the last RecencyDays of training data
	// called for, already applied to Estimate and Passengers.
	RecencyFactor float64 `json:"recency_factor"`
	// SeenPairs is the number of pairs with training trips.
	SeenPairs int `json:"seen_pairs"`
}

// OD is a fitted od model: dense tables, so that a prediction is a few
// array lookups with no allocation.
type OD struct {
	p   odParams
	est [numPairs]float32
	pax [numPassengerCats]float32
	how [hoursPerWeek]float32
	// ranges[0] is for estimates without pickup time, ranges[1] with.
	ranges [2]ranges
}

// ranges turn an estimate into its 10–90% range.
type ranges struct {
	bucketOf [62]uint8 // by whole-minute estimate 0..61
	lo, hi   [intervalBuckets]float32
}

func newRanges(edges, lo, hi []float32) (ranges, error) {
	var r ranges
	if len(edges) != intervalBuckets || len(lo) != intervalBuckets || len(hi) != intervalBuckets {
		return r, fmt.Errorf("want %d interval buckets", intervalBuckets)
	}
	for b := range intervalBuckets {
		if !(lo[b] >= 0 && lo[b] <= 1 && hi[b] >= 1 && hi[b] < 100) {
			return r, fmt.Errorf("interval ratios of bucket %d are %g..%g; want low in 0..1 and high above 1", b, lo[b], hi[b])
		}
	}
	copy(r.lo[:], lo)
	copy(r.hi[:], hi)
	for minute := range r.bucketOf {
		r.bucketOf[minute] = uint8(bucketIndex(edges, float64(minute)))
	}
	return r, nil
}

// Fit learns the od model from examples, read as one file.
func (e *ODEstimator) Fit(ctx context.Context, examples []trip.Example) (Model, error) {
	return e.FitStats(ctx, StatsOf(examples))
}

// FitStats learns the od model from training statistics: the pair
// estimates and passenger offsets from the exact sums by pair, passenger
// category and fold, the hour factors, recency level and ranges from the
// sample (every trip when there are at most SampleSize), each sampled trip
// standing for SampleWeight trips.
func (e *ODEstimator) FitStats(ctx context.Context, st *Stats) (Model, error) {
	if st.Trips() < 2 {
		return nil, fmt.Errorf("fit od: %d training examples; want at least 2", st.Trips())
	}
	s := e.Settings
	if s == (ODSettings{}) {
		s = DefaultODSettings()
	}
	if !(s.IntervalLow > 0 && s.IntervalLow < s.IntervalHigh && s.IntervalHigh < 1) {
		return nil, fmt.Errorf("fit od: interval quantiles %g..%g must satisfy 0 < low < high < 1", s.IntervalLow, s.IntervalHigh)
	}
	g := newGeography(e.Zones, s.KernelKm)
	full := fitPairs(st, -1, s, g)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Cross-fitting: the trips of each fold are estimated by a model fitted
	// on the other fold, giving honest estimates to learn the hour factors
	// and the ranges from.
	examples, folds := st.Sample()
	w := st.SampleWeight()
	oof := make([]float64, len(examples))
	for fold := range numFolds {
		half := fitPairs(st, fold, s, g)
		for i := range examples {
			if int(folds[i]) == fold {
				oof[i] = half.estimate(examples[i].Trip)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	f := recencyFactor(examples, full, s.RecencyDays, w)
	p := odParams{Settings: s, Estimate: make([]float32, numPairs), SeenPairs: full.seen, RecencyFactor: round4(f)}
	for i, v := range full.est {
		p.Estimate[i] = float32(round4(clampMinutes(v * p.RecencyFactor)))
	}
	p.Passengers = make([]float32, numPassengerCats)
	for c, v := range full.pax {
		p.Passengers[c] = float32(round4(v * p.RecencyFactor))
	}
	var hy, hm [hoursPerWeek]float64
	for i, ex := range examples {
		if h := trip.HourOfWeek(ex.Pickup); h >= 0 {
			hy[h] += float64(ex.Minutes)
			hm[h] += oof[i]
		}
	}
	p.HourOfWeek = make([]float32, hoursPerWeek)
	for h := range p.HourOfWeek {
		p.HourOfWeek[h] = float32(round4(min(max((hy[h]*w+s.HourShrinkage)/(hm[h]*w+s.HourShrinkage), 0.2), 5)))
	}
	p.BucketEdges, p.RatioLow, p.RatioHigh = intervalRatios(examples, oof, s.IntervalLow, s.IntervalHigh)
	// Ranges for estimates with a pickup time, from trips that have one.
	var timed []trip.Example
	var timedEst []float64
	for i, ex := range examples {
		if h := trip.HourOfWeek(ex.Pickup); h >= 0 {
			timed = append(timed, ex)
			timedEst = append(timedEst, clampMinutes(oof[i]*float64(p.HourOfWeek[h])))
		}
	}
	if len(timed) == 0 {
		timed, timedEst = examples, oof
	}
	p.TimeBucketEdges, p.TimeRatioLow, p.TimeRatioHigh = intervalRatios(timed, timedEst, s.IntervalLow, s.IntervalHigh)
	return newOD(p)
}

// recencyFactor is observed over estimated duration for the trips of the
// last days of the training data (ending at its 99.9th percentile pickup
// time, as TLC files hold a few stray dates), pulled towards 1 when few
// trips fall in the window and kept within 0.8..1.25. Each example stands
// for w trips.
func recencyFactor(examples []trip.Example, fit *pairFit, days, w float64) float64 {
	if days <= 0 {
		return 1
	}
	times := make([]int64, 0, len(examples))
	for _, ex := range examples {
		if !ex.Pickup.IsZero() {
			times = append(times, ex.Pickup.Unix())
		}
	}
	if len(times) == 0 {
		return 1
	}
	slices.Sort(times)
	end := times[min(len(times)-1, len(times)*999/1000)]
	start := end - int64(days*86400)
	var y, est float64
	for _, ex := range examples {
		if t := ex.Pickup.Unix(); !ex.Pickup.IsZero() && t > start && t <= end {
			y += float64(ex.Minutes)
			est += fit.estimate(ex.Trip)
		}
	}
	const prior = 20000 // minutes of estimate: about 1,500 trips
	return min(max((y*w+prior)/(est*w+prior), 0.8), 1.25)
}

// geography is what the zone table tells the prior: borough and centroid
// distances, and the smoothing kernel between zones.
type geography struct {
	borough  [nz]int
	nb       int
	dist     [nz][nz]float64
	hasDist  [nz][nz]bool
	kernel   *mat.Dense // nil without centroids or with KernelKm 0
	hasZones bool
}

func newGeography(zt zones.Table, kernelKm float64) *geography {
	g := &geography{}
	if len(zt) != nz {
		return g
	}
	g.hasZones = true
	index := map[string]int{}
	for _, b := range zt.Boroughs() {
		index[b] = len(index)
	}
	g.nb = len(index)
	haveDist := false
	for u := 1; u < nz; u++ {
		g.borough[u] = index[zt[u].Borough]
		for d := 1; d < nz; d++ {
			if km, ok := zt.DistanceKm(u, d); ok {
				g.dist[u][d], g.hasDist[u][d] = km, true
				haveDist = true
			}
		}
	}
	if !haveDist || kernelKm <= 0 {
		return g
	}
	g.kernel = mat.NewDense(nz, nz, nil)
	for u := 1; u < nz; u++ {
		for d := 1; d < nz; d++ {
			if u != d && g.hasDist[u][d] {
				x := g.dist[u][d] / kernelKm
				g.kernel.Set(u, d, math.Exp(-x*x))
			}
		}
	}
	return g
}

// features are the prior regression's inputs for pair (u, d).
func (g *geography) features(u, d int, a, b []float64, dst []float64) []float64 {
	dst = append(dst[:0], 1, a[u], b[d])
	if !g.hasZones {
		return dst
	}
	km, ok := g.dist[u][d], g.hasDist[u][d]
	same, missing := 0.0, 0.0
	if u == d {
		same = 1
	}
	if !ok {
		missing = 1
	}
	dst = append(dst, km, math.Sqrt(km), math.Log1p(km), km*km/100, same, missing)
	for i := 0; i < g.nb*g.nb; i++ {
		v := 0.0
		if u > 0 && d > 0 && i == g.borough[u]*g.nb+g.borough[d] {
			v = 1
		}
		dst = append(dst, v)
	}
	return dst
}

// pairFit is the pair table fitted on some of the trips.
type pairFit struct {
	est  []float64 // by pair
	pax  [numPassengerCats]float64
	seen int
}

func (f *pairFit) estimate(t trip.Trip) float64 {
	return clampMinutes(f.est[pairIndex(t)] + f.pax[passengerIndex(t.Passengers)])
}

// fitPairs fits pair estimates and passenger offsets on the trips of
// every fold but skip (all when skip < 0): each pair's prior is the
// regression on additive zone effects and geography, plus the smoothed
// residuals of nearby pairs; the reverse pair's evidence and then the
// pair's own pull its estimate from there.
func fitPairs(st *Stats, skip int, s ODSettings, g *geography) *pairFit {
	sum, cnt, mean := st.pairSums(skip)
	a, b := additiveEffects(sum, cnt, mean, s.ZoneShrinkage)
	xtx, xty, seen := priorNormalEquations(sum, cnt, a, b, g)
	beta := solveRidge(xtx, xty, s.Ridge, mean)
	prior := priorEstimates(beta, a, b, g)
	if g.kernel != nil {
		smoothResiduals(prior, sum, cnt, g.kernel, s.KernelShrinkage)
	}
	est := shrinkPairs(prior, sum, cnt, s.ReverseShrinkage, s.PairShrinkage)
	return &pairFit{est: est, seen: seen, pax: passengerOffsets(st, skip, est, s.PassengerShrinkage)}
}

// priorNormalEquations sums the normal equations of the prior regression
// of pair means on the pair features, over the seen pairs (those with a
// count), each weighing the same; seen is how many there are. Only the
// upper triangle of X'X is summed, and zero features are skipped.
func priorNormalEquations(sum, cnt, a, b []float64, g *geography) (xtx *mat.SymDense, xty *mat.VecDense, seen int) {
	var f []float64
	for k := range numPairs {
		if cnt[k] == 0 {
			continue
		}
		seen++
		f = g.features(k/nz, k%nz, a, b, f)
		if xtx == nil {
			xtx, xty = mat.NewSymDense(len(f), nil), mat.NewVecDense(len(f), nil)
		}
		y := sum[k] / cnt[k]
		for i, fi := range f {
			if fi == 0 {
				continue
			}
			xty.SetVec(i, xty.AtVec(i)+fi*y)
			for j := i; j < len(f); j++ {
				if f[j] != 0 {
					xtx.SetSym(i, j, xtx.At(i, j)+fi*f[j])
				}
			}
		}
	}
	return xtx, xty, seen
}

// solveRidge solves the prior regression with the ridge penalty on every
// coefficient but the intercept (the first), which gets 1e-9 to keep the
// system definite. xtx is changed. When the system is singular all the
// same, the prior is the mean.
func solveRidge(xtx *mat.SymDense, xty *mat.VecDense, ridge, mean float64) *mat.VecDense {
	for i := 1; i < xtx.SymmetricDim(); i++ {
		xtx.SetSym(i, i, xtx.At(i, i)+ridge)
	}
	xtx.SetSym(0, 0, xtx.At(0, 0)+1e-9)
	var beta mat.VecDense
	if err := beta.SolveVec(xtx, xty); err != nil {
		beta = *mat.NewVecDense(xtx.SymmetricDim(), nil)
		beta.SetVec(0, mean)
	}
	return &beta
}

// priorEstimates is the regression's estimate for every pair, clamped to
// the minutes a trip can take.
func priorEstimates(beta *mat.VecDense, a, b []float64, g *geography) []float64 {
	var f []float64
	prior := make([]float64, numPairs)
	for k := range numPairs {
		f = g.features(k/nz, k%nz, a, b, f)
		var v float64
		for i, fi := range f {
			v += fi * beta.AtVec(i)
		}
		prior[k] = clampMinutes(v)
	}
	return prior
}

// smoothResiduals adds to each pair's prior the residuals of the seen
// pairs around it, smoothed by kernel over pickup and over dropoff zones
// and shrunk by their smoothed count: prior += (K R Kᵀ) / (K N Kᵀ + shrink).
func smoothResiduals(prior, sum, cnt []float64, kernel *mat.Dense, shrink float64) {
	r := mat.NewDense(nz, nz, nil)
	c := mat.NewDense(nz, nz, nil)
	for k := range numPairs {
		if cnt[k] > 0 {
			r.Set(k/nz, k%nz, sum[k]-cnt[k]*prior[k])
			c.Set(k/nz, k%nz, cnt[k])
		}
	}
	var tmp, kr, kc mat.Dense
	tmp.Mul(kernel, r)
	kr.Mul(&tmp, kernel.T())
	tmp.Mul(kernel, c)
	kc.Mul(&tmp, kernel.T())
	for k := range numPairs {
		prior[k] += kr.At(k/nz, k%nz) / (kc.At(k/nz, k%nz) + shrink)
	}
}

// shrinkPairs is each pair's estimate: its prior moved by the reverse
// pair's residuals (pseudo-count reverse), then its own mean shrunk
// towards that (pseudo-count own), clamped.
func shrinkPairs(prior, sum, cnt []float64, reverse, own float64) []float64 {
	est := make([]float64, numPairs)
	for k := range numPairs {
		u, d := k/nz, k%nz
		rk := d*nz + u
		p := prior[k] + (sum[rk]-cnt[rk]*prior[rk])/(cnt[rk]+reverse)
		est[k] = clampMinutes((sum[k] + own*p) / (cnt[k] + own))
	}
	return est
}

// passengerOffsets is, by passenger category, the mean residual from the
// pair estimates est of the trips of every fold but skip, shrunk towards 0
// by pseudo-count shrink.
func passengerOffsets(st *Stats, skip int, est []float64, shrink float64) [numPassengerCats]float64 {
	psum, pcnt := st.passengerSums(skip, est)
	var pax [numPassengerCats]float64
	for c := range pax {
		pax[c] = psum[c] / (pcnt[c] + shrink)
	}
	return pax
}

func pairIndex(t trip.Trip) int { return int(t.PULocationID)*nz + int(t.DOLocationID) }

// additiveEffects fits mean + a[pu] + b[do] to trips by shrunk backfitting.
func additiveEffects(sum, cnt []float64, mean, shrink float64) (a, b []float64) {
	a, b = make([]float64, nz), make([]float64, nz)
	var num, den [nz]float64
	for range 15 {
		for side := range 2 {
			clear(num[:])
			clear(den[:])
			for k := range numPairs {
				if cnt[k] == 0 {
					continue
				}
				u, d := k/nz, k%nz
				if side == 0 {
					num[u] += sum[k] - cnt[k]*(mean+b[d])
					den[u] += cnt[k]
				} else {
					num[d] += sum[k] - cnt[k]*(mean+a[u])
					den[d] += cnt[k]
				}
			}
			eff := a
			if side == 1 {
				eff = b
			}
			for z := range eff {
				eff[z] = num[z] / (den[z] + shrink)
			}
		}
	}
	return a, b
}

// intervalRatios buckets trips by estimate (edges at the deciles of the
// estimates) and returns each bucket's lower edge and the low/high quantiles
// of duration/estimate within it.
func intervalRatios(examples []trip.Example, est []float64, qlo, qhi float64) (edges, lo, hi []float32) {
	sorted := slices.Clone(est)
	slices.Sort(sorted)
	edges = make([]float32, intervalBuckets)
	for b := 1; b < intervalBuckets; b++ {
		edges[b] = float32(round4(quantileSorted(sorted, float64(b)/intervalBuckets)))
	}
	ratios := make([][]float64, intervalBuckets)
	for i, ex := range examples {
		b := bucketIndex(edges, est[i])
		ratios[b] = append(ratios[b], float64(ex.Minutes)/est[i])
	}
	lo, hi = make([]float32, intervalBuckets), make([]float32, intervalBuckets)
	for b, r := range ratios {
		if len(r) == 0 {
			lo[b], hi[b] = 0.5, 1.8
			continue
		}
		lo[b], hi[b] = float32(round4(quantile(r, qlo))), float32(round4(quantile(r, qhi)))
	}
	return edges, lo, hi
}

// bucketIndex is the number of edges after the first that are <= v.
func bucketIndex(edges []float32, v float64) int {
	b := 0
	for i := 1; i < len(edges); i++ {
		if v >= float64(edges[i]) {
			b = i
		}
	}
	return b
}

// newOD checks parameters and builds the dense tables.
func newOD(p odParams) (*OD, error) {
	switch {
	case len(p.Estimate) != numPairs:
		return nil, fmt.Errorf("want %d pair estimates, have %d", numPairs, len(p.Estimate))
	case len(p.Passengers) != numPassengerCats:
		return nil, fmt.Errorf("want %d passenger offsets, have %d", numPassengerCats, len(p.Passengers))
	case len(p.HourOfWeek) != hoursPerWeek:
		return nil, fmt.Errorf("want %d hour-of-week factors, have %d", hoursPerWeek, len(p.HourOfWeek))
	}
	m := &OD{p: p}
	for i, v := range p.Estimate {
		if !(v >= 1 && v <= 60) {
			return nil, fmt.Errorf("pair estimate %d is %g; want 1..60 minutes", i, v)
		}
		m.est[i] = v
	}
	for i, v := range p.HourOfWeek {
		if !(v > 0 && v < 10) {
			return nil, fmt.Errorf("hour-of-week factor %d is %g; want 0..10", i, v)
		}
		m.how[i] = v
	}
	copy(m.pax[:], p.Passengers)
	var err error
	if m.ranges[0], err = newRanges(p.BucketEdges, p.RatioLow, p.RatioHigh); err != nil {
		return nil, err
	}
	if m.ranges[1], err = newRanges(p.TimeBucketEdges, p.TimeRatioLow, p.TimeRatioHigh); err != nil {
		return nil, fmt.Errorf("with pickup time: %w", err)
	}
	return m, nil
}

// Predict estimates one trip. Zones outside 1..MaxZone are treated as
// unknown; a pickup time, when given, scales by the hour of the week.
func (m *OD) Predict(t trip.Trip) trip.Prediction {
	i := 0
	if zoneOK(t) {
		i = pairIndex(t)
	}
	v := m.est[i] + m.pax[passengerIndex(t.Passengers)]
	r := &m.ranges[0]
	if !t.Pickup.IsZero() {
		v *= m.how[trip.HourOfWeek(t.Pickup)]
		r = &m.ranges[1]
	}
	v = min(max(v, 1), 60)
	b := r.bucketOf[int(v)]
	return trip.Prediction{Minutes: v, Low: v * r.lo[b], High: v * r.hi[b]}
}

// PredictBatch estimates trips into out.
func (m *OD) PredictBatch(trips []trip.Trip, out []trip.Prediction) { batch(m, trips, out) }

// Kind is KindOD.
func (m *OD) Kind() string { return KindOD }

// UsesPickupTime is true: the hour of the week refines the estimate.
func (m *OD) UsesPickupTime() bool { return true }

func (m *OD) params() any { return m.p }

func clampMinutes(v float64) float64 { return min(max(v, 1), 60) }

// round4 keeps four decimals (under a second): artifacts stay small and stable.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// quantileSorted is quantile on already sorted values.
func quantileSorted(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}
