package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/taxieta/taxieta/internal/trip"
)

// KindLinear is the lab's model done right: least squares on one-hot
// PULocationID, DOLocationID and passenger_count.
const KindLinear = "linear"

// LinearEstimator fits ordinary least squares with an intercept on one-hot
// pickup zone, dropoff zone and passenger category. One-hot blocks are
// collinear with the intercept, so the solution is the minimum-norm one on
// centred data (what scikit-learn's sparse solver converges to): a zone never
// seen in training gets a coefficient of exactly zero.
type LinearEstimator struct{}

type linearParams struct {
	Intercept  float64   `json:"intercept"`
	PU         []float64 `json:"pu"`         // by zone id, 0..MaxZone
	DO         []float64 `json:"do"`         // by zone id, 0..MaxZone
	Passengers []float64 `json:"passengers"` // by passenger category 0..9, unknown
	// ResidualLow and ResidualHigh are the 10th and 90th percentiles of
	// training residuals, added to the estimate for the range.
	ResidualLow  float64 `json:"residual_low"`
	ResidualHigh float64 `json:"residual_high"`
}

// Linear is a fitted linear model.
type Linear struct {
	p linearParams
}

// Fit solves the least-squares problem on examples, read as one file.
func (e LinearEstimator) Fit(ctx context.Context, examples []trip.Example) (Model, error) {
	return e.FitStats(ctx, StatsOf(examples))
}

// FitStats solves the least-squares problem on training statistics: it
// lays out a column for each category seen, sums the normal equations
// (exactly, from the counts and sums by pair and passenger category),
// centres them (which takes the intercept out), solves them for the
// minimum-norm coefficients and unpacks those by zone and passenger
// category, with the quantiles of the sample's residuals for the range.
func (LinearEstimator) FitStats(ctx context.Context, st *Stats) (Model, error) {
	if st.Trips() == 0 {
		return nil, errors.New("fit linear: no training examples")
	}
	col, k := linearColumns(st)
	ne, err := linearNormalEquations(ctx, st, col, k)
	if err != nil {
		return nil, err
	}
	n := float64(st.Trips())
	ymean := ne.ysum / n
	a, b := ne.centred(n, ymean)
	coef, err := minNormSolve(a, b)
	if err != nil {
		return nil, err
	}
	p := linearCoefficients(col, coef, ne.cnt, n, ymean)
	m := &Linear{p: p}
	examples, _ := st.Sample()
	res := make([]float64, len(examples))
	for i, e := range examples {
		res[i] = float64(e.Minutes) - m.estimate(e.Trip)
	}
	p.ResidualLow, p.ResidualHigh = quantile(res, 0.1), quantile(res, 0.9)
	return newLinear(p)
}

// linearCategory is the one-hot category of each of a trip's three
// inputs, in the layout PU zones 0..MaxZone, DO zones, passenger
// categories.
func linearCategory(pu, do, cat int) [3]int {
	return [3]int{pu, nz + do, 2*nz + cat}
}

// linearColumns numbers the categories the trips use, in category
// order: col[c] is category c's column, -1 for one never seen, and k is
// the number of columns.
func linearColumns(st *Stats) (col []int, k int) {
	col = make([]int, 2*nz+numPassengerCats)
	for i := range col {
		col[i] = -1
	}
	st.forKeys(func(pu, do, cat int, _ int64, _ float64) {
		for _, c := range linearCategory(pu, do, cat) {
			if col[c] < 0 {
				col[c] = 0
			}
		}
	})
	for i := range col {
		if col[i] == 0 {
			col[i] = k
			k++
		}
	}
	return col, k
}

// normalEquations are the sums of least squares on one-hot columns, before
// centring: X'X (k×k, row-major), X'y, each column's count of ones (its
// diagonal) and the sum of y.
type normalEquations struct {
	k    int
	gram []float64
	xty  []float64
	cnt  []float64
	ysum float64
}

// linearNormalEquations sums the normal equations over the statistics'
// (pair, passenger category) keys in the layout of col.
func linearNormalEquations(ctx context.Context, st *Stats, col []int, k int) (*normalEquations, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ne := &normalEquations{k: k, gram: make([]float64, k*k), xty: make([]float64, k), cnt: make([]float64, k)}
	st.forKeys(func(pu, do, cat int, n int64, y float64) {
		c := linearCategory(pu, do, cat)
		w := float64(n)
		ne.ysum += y
		for _, a := range c {
			ia := col[a]
			ne.cnt[ia] += w
			ne.xty[ia] += y
			for _, b := range c {
				ne.gram[ia*k+col[b]] += w
			}
		}
	})
	return ne, nil
}

// centred are the normal equations of the columns centred on their means μ
// over n examples whose mean y is ymean: A = X'X - n μμ', b = X'y - n μ ȳ.
func (ne *normalEquations) centred(n, ymean float64) (*mat.SymDense, *mat.VecDense) {
	k := ne.k
	a := mat.NewSymDense(k, nil)
	b := mat.NewVecDense(k, nil)
	for i := 0; i < k; i++ {
		mi := ne.cnt[i] / n
		b.SetVec(i, ne.xty[i]-n*mi*ymean)
		for j := i; j < k; j++ {
			a.SetSym(i, j, ne.gram[i*k+j]-n*mi*ne.cnt[j]/n)
		}
	}
	return a, b
}

// minNormSolve is the minimum-norm solution of a x = b for a symmetric a,
// singular as centred one-hot blocks are: x = V diag(1/λ) V' b over the
// eigenvalues λ above the rank tolerance, k × the largest × 1e-12.
func minNormSolve(a *mat.SymDense, b *mat.VecDense) (*mat.VecDense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return nil, errors.New("fit linear: eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	tol := float64(a.SymmetricDim()) * slices.Max(vals) * 1e-12
	var vtb mat.VecDense
	vtb.MulVec(vecs.T(), b)
	for i, l := range vals {
		if l > tol {
			vtb.SetVec(i, vtb.AtVec(i)/l)
		} else {
			vtb.SetVec(i, 0)
		}
	}
	var coef mat.VecDense
	coef.MulVec(&vecs, &vtb)
	return &coef, nil
}

// linearCoefficients unpacks the centred solution coef, column by column
// of col, into coefficients by zone and passenger category (zero for a
// category never seen), and the intercept that undoes the centring:
// ȳ - Σ coef·μ.
func linearCoefficients(col []int, coef *mat.VecDense, cnt []float64, n, ymean float64) linearParams {
	p := linearParams{
		PU:         make([]float64, nz),
		DO:         make([]float64, nz),
		Passengers: make([]float64, numPassengerCats),
	}
	intercept := ymean
	for c, i := range col {
		if i < 0 {
			continue
		}
		v := coef.AtVec(i)
		intercept -= v * cnt[i] / n
		switch {
		case c < nz:
			p.PU[c] = v
		case c < 2*nz:
			p.DO[c-nz] = v
		default:
			p.Passengers[c-2*nz] = v
		}
	}
	p.Intercept = intercept
	return p
}

func newLinear(p linearParams) (*Linear, error) {
	if len(p.PU) != trip.MaxZone+1 || len(p.DO) != trip.MaxZone+1 || len(p.Passengers) != numPassengerCats {
		return nil, fmt.Errorf("linear parameters: want %d zone and %d passenger coefficients", trip.MaxZone+1, numPassengerCats)
	}
	return &Linear{p: p}, nil
}

func (m *Linear) estimate(t trip.Trip) float64 {
	return m.p.Intercept + m.p.PU[t.PULocationID] + m.p.DO[t.DOLocationID] + m.p.Passengers[passengerIndex(t.Passengers)]
}

// Predict estimates one trip; zones outside 1..MaxZone count as unseen.
func (m *Linear) Predict(t trip.Trip) trip.Prediction {
	if !zoneOK(t) {
		t.PULocationID, t.DOLocationID = 0, 0
	}
	v := m.estimate(t)
	return trip.Prediction{
		Minutes: float32(v),
		Low:     float32(math.Max(0, v+m.p.ResidualLow)),
		High:    float32(v + m.p.ResidualHigh),
	}
}

// PredictBatch estimates trips into out.
func (m *Linear) PredictBatch(trips []trip.Trip, out []trip.Prediction) { batch(m, trips, out) }

// Kind is KindLinear.
func (m *Linear) Kind() string { return KindLinear }

// UsesPickupTime is false: the lab's inputs only.
func (m *Linear) UsesPickupTime() bool { return false }

func (m *Linear) params() any { return m.p }

// quantile returns the q-quantile of xs (linear interpolation, as numpy's
// default); it sorts xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	return quantileSorted(xs, q)
}
