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

// Fit solves the least-squares problem on examples.
func (LinearEstimator) Fit(ctx context.Context, examples []trip.Example) (Model, error) {
	if len(examples) == 0 {
		return nil, errors.New("fit linear: no training examples")
	}
	// Column layout: PU zones, DO zones, passenger categories; only
	// categories seen in training get a column.
	const nz = trip.MaxZone + 1
	col := make([]int, 2*nz+numPassengerCats)
	for i := range col {
		col[i] = -1
	}
	cat := func(e trip.Example) [3]int {
		return [3]int{int(e.PULocationID), nz + int(e.DOLocationID), 2*nz + passengerIndex(e.Passengers)}
	}
	var k int
	for _, e := range examples {
		for _, c := range cat(e) {
			if col[c] < 0 {
				col[c] = 0
			}
		}
	}
	for i := range col {
		if col[i] == 0 {
			col[i] = k
			k++
		}
	}
	n := float64(len(examples))
	gram := make([]float64, k*k)
	xty := make([]float64, k)
	cnt := make([]float64, k)
	var ysum float64
	for i, e := range examples {
		if i%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c := cat(e)
		y := float64(e.Minutes)
		ysum += y
		for _, a := range c {
			ia := col[a]
			cnt[ia]++
			xty[ia] += y
			for _, b := range c {
				gram[ia*k+col[b]]++
			}
		}
	}
	ymean := ysum / n
	// Centre: A = X'X - n μμ', b = X'y - n μ ȳ with μ the column means.
	a := mat.NewSymDense(k, nil)
	b := mat.NewVecDense(k, nil)
	for i := 0; i < k; i++ {
		mi := cnt[i] / n
		b.SetVec(i, xty[i]-n*mi*ymean)
		for j := i; j < k; j++ {
			a.SetSym(i, j, gram[i*k+j]-n*mi*cnt[j]/n)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return nil, errors.New("fit linear: eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	// coef = V diag(1/λ) V' b over eigenvalues above the rank tolerance.
	tol := float64(k) * slices.Max(vals) * 1e-12
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
	m := &Linear{p: p}
	res := make([]float64, len(examples))
	for i, e := range examples {
		res[i] = float64(e.Minutes) - m.estimate(e.Trip)
	}
	p.ResidualLow, p.ResidualHigh = quantile(res, 0.1), quantile(res, 0.9)
	return newLinear(p)
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
