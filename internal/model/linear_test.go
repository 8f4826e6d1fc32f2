package model

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/taxieta/taxieta/internal/trip"
)

// ex is a training example from pu to do with pax passengers taking min minutes.
func ex(pu, do uint16, pax int8, min float32) trip.Example {
	return trip.Example{Trip: trip.Trip{PULocationID: pu, DOLocationID: do, Passengers: pax}, Minutes: min}
}

func TestLinearColumns(t *testing.T) {
	tests := []struct {
		name     string
		examples []trip.Example
		want     map[int]int // category → column; every other category -1
	}{
		{"none", nil, map[int]int{}},
		{"two trips", []trip.Example{ex(3, 2, 1, 10), ex(1, 2, trip.NoPassengers, 20)},
			// In category order: PU 1, PU 3, DO 2, 1 passenger, unknown.
			map[int]int{1: 0, 3: 1, nz + 2: 2, 2*nz + 1: 3, 2*nz + numPassengerCats - 1: 4}},
		{"zone 0 and the last zone", []trip.Example{ex(0, trip.MaxZone, 0, 5)},
			map[int]int{0: 0, nz + trip.MaxZone: 1, 2 * nz: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col, k := linearColumns(StatsOf(tt.examples))
			if k != len(tt.want) {
				t.Errorf("k = %d; want %d", k, len(tt.want))
			}
			if len(col) != 2*nz+numPassengerCats {
				t.Fatalf("%d categories; want %d", len(col), 2*nz+numPassengerCats)
			}
			for c, i := range col {
				want, ok := tt.want[c]
				if !ok {
					want = -1
				}
				if i != want {
					t.Errorf("col[%d] = %d; want %d", c, i, want)
				}
			}
		})
	}
}

func TestLinearNormalEquations(t *testing.T) {
	examples := []trip.Example{ex(1, 2, 1, 10), ex(1, 3, 1, 20), ex(4, 2, 1, 6)}
	col, k := linearColumns(StatsOf(examples))
	// Columns: PU1 0, PU4 1, DO2 2, DO3 3, pax1 4.
	ne, err := linearNormalEquations(context.Background(), StatsOf(examples), col, k)
	if err != nil {
		t.Fatal(err)
	}
	wantGram := []float64{
		2, 0, 1, 1, 2,
		0, 1, 1, 0, 1,
		1, 1, 2, 0, 2,
		1, 0, 0, 1, 1,
		2, 1, 2, 1, 3,
	}
	if !slices.Equal(ne.gram, wantGram) {
		t.Errorf("X'X %v; want %v", ne.gram, wantGram)
	}
	if want := []float64{30, 6, 16, 20, 36}; !slices.Equal(ne.xty, want) {
		t.Errorf("X'y %v; want %v", ne.xty, want)
	}
	if want := []float64{2, 1, 2, 1, 3}; !slices.Equal(ne.cnt, want) {
		t.Errorf("counts %v; want %v", ne.cnt, want)
	}
	if ne.ysum != 36 || ne.k != 5 {
		t.Errorf("ysum %g, k %d; want 36, 5", ne.ysum, ne.k)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := linearNormalEquations(ctx, StatsOf(examples), col, k); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v; want context.Canceled", err)
	}
}

func TestCentred(t *testing.T) {
	// Two examples, y 2 and 3; column 0 is one in the first, column 1 in both.
	ne := &normalEquations{k: 2, gram: []float64{1, 1, 1, 2}, xty: []float64{2, 5}, cnt: []float64{1, 2}, ysum: 5}
	a, b := ne.centred(2, 2.5)
	// μ = (0.5, 1): A = X'X - n μμ', b = X'y - n μ ȳ.
	checkSystem(t, a, b, [][]float64{{0.5, 0}, {0, 0}}, []float64{-0.5, 0})
}

// checkSystem checks a linear system a x = b, exactly.
func checkSystem(t *testing.T, a mat.Matrix, b mat.Vector, wantA [][]float64, wantB []float64) {
	t.Helper()
	if r, c := a.Dims(); r != len(wantA) || c != len(wantA) || b.Len() != len(wantB) {
		t.Fatalf("a system of %d×%d and %d; want %d", r, c, b.Len(), len(wantB))
	}
	for i := range wantA {
		for j := range wantA[i] {
			if a.At(i, j) != wantA[i][j] {
				t.Errorf("A[%d][%d] = %g; want %g", i, j, a.At(i, j), wantA[i][j])
			}
		}
		if b.AtVec(i) != wantB[i] {
			t.Errorf("b[%d] = %g; want %g", i, b.AtVec(i), wantB[i])
		}
	}
}

func TestMinNormSolve(t *testing.T) {
	tests := []struct {
		name string
		a    []float64 // row-major, symmetric
		b    []float64
		want []float64
	}{
		{"diagonal", []float64{2, 0, 0, 4}, []float64{2, 8}, []float64{1, 2}},
		{"full rank", []float64{2, 1, 1, 2}, []float64{3, 3}, []float64{1, 1}},
		// Singular: of all solutions of x0 + x1 = 2, the shortest.
		{"singular", []float64{1, 1, 1, 1}, []float64{2, 2}, []float64{1, 1}},
		// A direction of eigenvalue below the tolerance counts as none.
		{"below tolerance", []float64{1, 0, 0, 1e-15}, []float64{3, 1e-15}, []float64{3, 0}},
		{"zero", []float64{0, 0, 0, 0}, []float64{0, 0}, []float64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(tt.b)
			x, err := minNormSolve(mat.NewSymDense(n, tt.a), mat.NewVecDense(n, tt.b))
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.want {
				if math.Abs(x.AtVec(i)-w) > 1e-12 {
					t.Errorf("x[%d] = %g; want %g", i, x.AtVec(i), w)
				}
			}
		})
	}
}

func TestLinearCoefficients(t *testing.T) {
	examples := []trip.Example{ex(1, 2, 1, 10), ex(4, 2, trip.NoPassengers, 6)}
	col, k := linearColumns(StatsOf(examples)) // PU1 0, PU4 1, DO2 2, pax1 3, unknown 4
	coef := mat.NewVecDense(k, []float64{1, -1, 0.5, 2, -2})
	cnt := []float64{1, 1, 2, 1, 1}
	p := linearCoefficients(col, coef, cnt, 2, 8)
	// 8 - (1·1 - 1·1 + 0.5·2 + 2·1 - 2·1)/2
	if want := 7.5; p.Intercept != want {
		t.Errorf("intercept %g; want %g", p.Intercept, want)
	}
	wantPU, wantDO, wantPax := make([]float64, nz), make([]float64, nz), make([]float64, numPassengerCats)
	wantPU[1], wantPU[4], wantDO[2], wantPax[1], wantPax[numPassengerCats-1] = 1, -1, 0.5, 2, -2
	if !slices.Equal(p.PU, wantPU) || !slices.Equal(p.DO, wantDO) || !slices.Equal(p.Passengers, wantPax) {
		t.Errorf("coefficients PU %v, DO %v, passengers %v", p.PU[:5], p.DO[:5], p.Passengers)
	}
}

// TestLinearFitExact fits minutes that are exactly additive in the inputs:
// the fit reproduces them, with an empty residual range, and gives an
// unseen zone a coefficient of zero.
func TestLinearFitExact(t *testing.T) {
	pu := map[uint16]float32{1: 0, 7: 4, 9: -2}
	do := map[uint16]float32{2: 1, 3: 6}
	pax := map[int8]float32{1: 0, 2: 1, trip.NoPassengers: 3}
	var examples []trip.Example
	for u, a := range pu {
		for d, b := range do {
			for p, c := range pax {
				examples = append(examples, ex(u, d, p, 10+a+b+c))
			}
		}
	}
	m, err := LinearEstimator{}.Fit(context.Background(), examples)
	if err != nil {
		t.Fatal(err)
	}
	lin := m.(*Linear)
	for _, e := range examples {
		if got := lin.estimate(e.Trip); math.Abs(got-float64(e.Minutes)) > 1e-9 {
			t.Errorf("estimate of %+v = %g; want %g", e.Trip, got, e.Minutes)
		}
	}
	if math.Abs(lin.p.ResidualLow) > 1e-9 || math.Abs(lin.p.ResidualHigh) > 1e-9 {
		t.Errorf("residual range %g..%g; want 0..0", lin.p.ResidualLow, lin.p.ResidualHigh)
	}
	if lin.p.PU[5] != 0 || lin.p.DO[1] != 0 || lin.p.Passengers[4] != 0 {
		t.Errorf("unseen categories have coefficients %g, %g, %g; want 0", lin.p.PU[5], lin.p.DO[1], lin.p.Passengers[4])
	}
	if _, err := (LinearEstimator{}).Fit(context.Background(), nil); err == nil {
		t.Error("fit on no examples: no error")
	}
}

// TestLinearResidualsOrthogonal checks the least-squares condition on a
// real month: the residuals of the trips of every seen category sum to
// zero (X'r = 0), up to rounding: a billionth of their minutes.
func TestLinearResidualsOrthogonal(t *testing.T) {
	_, m, examples := trained(t)
	lin := m.(*Linear)
	var sum, minutes [2*nz + numPassengerCats]float64
	for _, e := range examples {
		r := float64(e.Minutes) - lin.estimate(e.Trip)
		for _, c := range linearCategory(int(e.PULocationID), int(e.DOLocationID), passengerIndex(e.Passengers)) {
			sum[c] += r
			minutes[c] += float64(e.Minutes)
		}
	}
	checked := 0
	for c := range sum {
		if minutes[c] == 0 {
			continue
		}
		checked++
		if math.Abs(sum[c]) > 1e-9*minutes[c] {
			t.Errorf("category %d: residuals sum to %g, of %g minutes", c, sum[c], minutes[c])
		}
	}
	if checked < 100 {
		t.Errorf("only %d categories seen", checked)
	}
}
