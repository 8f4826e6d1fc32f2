package model

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/taxieta/taxieta/internal/trip"
)

// The steps of fitPairs, each on a few pairs whose answer is known; the
// whole od fit is checked on real data here and, byte for byte, by
// `make check-default-model`.

func pair(u, d int) int { return u*nz + d }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestPairSums(t *testing.T) {
	examples := []trip.Example{ex(1, 2, 1, 10), ex(1, 2, 2, 20), ex(3, 1, 1, 6), ex(1, 2, 1, 40)}
	tests := []struct {
		name     string
		skip     int // the fold left out, -1 for none
		wantSum  map[int]float64
		wantCnt  map[int]float64
		wantMean float64
	}{
		{"all", -1, map[int]float64{pair(1, 2): 70, pair(3, 1): 6}, map[int]float64{pair(1, 2): 3, pair(3, 1): 1}, 19},
		{"even rows", 1, map[int]float64{pair(1, 2): 10, pair(3, 1): 6}, map[int]float64{pair(1, 2): 1, pair(3, 1): 1}, 8},
		{"odd rows", 0, map[int]float64{pair(1, 2): 60}, map[int]float64{pair(1, 2): 2}, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, cnt, mean := StatsOf(examples).pairSums(tt.skip)
			if mean != tt.wantMean {
				t.Errorf("mean %g; want %g", mean, tt.wantMean)
			}
			for k := range numPairs {
				if sum[k] != tt.wantSum[k] || cnt[k] != tt.wantCnt[k] {
					t.Errorf("pair %d→%d: sum %g, count %g; want %g, %g", k/nz, k%nz, sum[k], cnt[k], tt.wantSum[k], tt.wantCnt[k])
				}
			}
		})
	}
}

func TestPriorNormalEquations(t *testing.T) {
	// Without zones the features are 1, a[pu] and b[do].
	g := &geography{}
	sum, cnt := make([]float64, numPairs), make([]float64, numPairs)
	sum[pair(1, 2)], cnt[pair(1, 2)] = 30, 2 // mean 15
	sum[pair(3, 2)], cnt[pair(3, 2)] = 5, 1  // mean 5
	a, b := make([]float64, nz), make([]float64, nz)
	a[1], a[3], b[2] = 2, 0, -1 // a[3] = 0: that feature is skipped
	xtx, xty, seen := priorNormalEquations(sum, cnt, a, b, g)
	if seen != 2 {
		t.Errorf("seen %d; want 2", seen)
	}
	// Rows (1, 2, -1) → 15 and (1, 0, -1) → 5, each once.
	checkSystem(t, xtx, xty, [][]float64{{2, 2, -2}, {2, 4, -2}, {-2, -2, 2}}, []float64{20, 30, -20})
}

func TestSolveRidge(t *testing.T) {
	tests := []struct {
		name  string
		xtx   []float64
		xty   []float64
		ridge float64
		want  []float64
	}{
		// The intercept gets 1e-9, the others the ridge.
		{"ridge", []float64{2, 0, 0, 3}, []float64{4, 8}, 1, []float64{4 / (2 + 1e-9), 2}},
		// [[1+1e-9, 1], [1, 2]] x = (3, 5), by Cramer's rule.
		{"no ridge", []float64{1, 1, 1, 2}, []float64{3, 5}, 0, []float64{1 / (1 + 2e-9), (2 + 5e-9) / (1 + 2e-9)}},
		// Singular even so: the prior is the mean.
		{"singular", []float64{0, 0, 0, 0}, []float64{0, 0}, 0, []float64{12.5, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(tt.xty)
			beta := solveRidge(mat.NewSymDense(n, tt.xtx), mat.NewVecDense(n, tt.xty), tt.ridge, 12.5)
			for i, w := range tt.want {
				if !near(beta.AtVec(i), w) {
					t.Errorf("beta[%d] = %.15g; want %.15g", i, beta.AtVec(i), w)
				}
			}
		})
	}
}

func TestPriorEstimates(t *testing.T) {
	g := &geography{}
	a, b := make([]float64, nz), make([]float64, nz)
	a[1], a[2], b[3], b[4] = 1, 30, 2, -10
	beta := mat.NewVecDense(3, []float64{5, 2, 0.5})
	prior := priorEstimates(beta, a, b, g)
	tests := []struct {
		u, d int
		want float64
	}{
		{1, 3, 5 + 2*1 + 0.5*2},
		{0, 0, 5},
		{2, 3, 60}, // 66, clamped
		{0, 4, 1},  // 0, clamped
	}
	for _, tt := range tests {
		if got := prior[pair(tt.u, tt.d)]; got != tt.want {
			t.Errorf("prior %d→%d = %g; want %g", tt.u, tt.d, got, tt.want)
		}
	}
}

func TestSmoothResiduals(t *testing.T) {
	identity := mat.NewDense(nz, nz, nil)
	for z := range nz {
		identity.Set(z, z, 1)
	}
	// Zone 1 also takes in zone 2's residuals.
	spread := mat.DenseCopyOf(identity)
	spread.Set(1, 2, 1)
	tests := []struct {
		name   string
		kernel *mat.Dense
		want   map[int]float64 // pairs whose prior changes, from 10
	}{
		// Each pair keeps its own residual, shrunk: 10 + (24 - 2·10)/(2 + 2).
		{"identity", identity, map[int]float64{pair(2, 2): 11}},
		{"spread", spread, map[int]float64{pair(2, 2): 11, pair(1, 1): 11, pair(1, 2): 11, pair(2, 1): 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prior, sum, cnt := make([]float64, numPairs), make([]float64, numPairs), make([]float64, numPairs)
			for k := range prior {
				prior[k] = 10
			}
			sum[pair(2, 2)], cnt[pair(2, 2)] = 24, 2
			smoothResiduals(prior, sum, cnt, tt.kernel, 2)
			for k, p := range prior {
				want, ok := tt.want[k]
				if !ok {
					want = 10
				}
				if !near(p, want) {
					t.Errorf("prior %d→%d = %g; want %g", k/nz, k%nz, p, want)
				}
			}
		})
	}
}

func TestShrinkPairs(t *testing.T) {
	prior, sum, cnt := make([]float64, numPairs), make([]float64, numPairs), make([]float64, numPairs)
	for k := range prior {
		prior[k] = 10
	}
	sum[pair(1, 2)], cnt[pair(1, 2)] = 40, 2
	sum[pair(2, 1)], cnt[pair(2, 1)] = 30, 1
	sum[pair(5, 6)], cnt[pair(5, 6)] = 1000, 10
	est := shrinkPairs(prior, sum, cnt, 10, 3)
	tests := []struct {
		u, d int
		want float64
	}{
		// The reverse pair's residual 20 over 1 + 10, then 40 over 2 + 3.
		{1, 2, (40 + 3*(10+20.0/11)) / 5},
		{2, 1, (30 + 3*(10+20.0/12)) / 4},
		{3, 3, 10},
		{5, 6, 60},                        // 1030/13, clamped
		{6, 5, 10 + (1000-100)/(10+10.0)}, // no trips of its own: its prior and the reverse's
	}
	for _, tt := range tests {
		if got := est[pair(tt.u, tt.d)]; !near(got, tt.want) {
			t.Errorf("estimate %d→%d = %.15g; want %.15g", tt.u, tt.d, got, tt.want)
		}
	}
}

func TestPassengerOffsets(t *testing.T) {
	est := make([]float64, numPairs)
	for k := range est {
		est[k] = 10
	}
	examples := []trip.Example{ex(1, 2, 1, 14), ex(1, 2, 1, 16), ex(1, 2, trip.NoPassengers, 4), ex(1, 2, 2, 100)}
	tests := []struct {
		name string
		skip int // the fold left out, -1 for none
		want map[int]float64
	}{
		{"all", -1, map[int]float64{1: 10.0 / 12, numPassengerCats - 1: -6.0 / 11, 2: 90.0 / 11}},
		{"even rows", 1, map[int]float64{1: 4.0 / 11, numPassengerCats - 1: -6.0 / 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pax := passengerOffsets(StatsOf(examples), tt.skip, est, 10)
			for c, got := range pax {
				if !near(got, tt.want[c]) {
					t.Errorf("offset of category %d = %g; want %g", c, got, tt.want[c])
				}
			}
		})
	}
}

// TestFitPairsRealData fits the pairs of a real month: a pair with many
// trips is estimated near its own mean (less its passenger offset), and
// every estimate is a duration a trip can take.
func TestFitPairsRealData(t *testing.T) {
	_, _, examples := trained(t)
	s := DefaultODSettings()
	g := newGeography(fixture.zones, s.KernelKm)
	st := StatsOf(examples)
	fit := fitPairs(st, -1, s, g)
	sum, cnt, _ := st.pairSums(-1)
	busy, seen := 0, 0
	for k, e := range fit.est {
		if !(e >= 1 && e <= 60) {
			t.Fatalf("estimate of %d→%d is %g; want 1..60", k/nz, k%nz, e)
		}
		if cnt[k] > 0 {
			seen++
		}
		if cnt[k] < 500 {
			continue
		}
		busy++
		// 3 pseudo-trips of prior against 500 or more of the pair's own.
		if mean := sum[k] / cnt[k]; math.Abs(e-mean) > 0.02*mean {
			t.Errorf("pair %d→%d of %g trips: estimate %g, mean %g", k/nz, k%nz, cnt[k], e, mean)
		}
	}
	if busy < 5 || fit.seen != seen {
		t.Errorf("%d pairs of 500 trips or more, %d seen (fit says %d)", busy, seen, fit.seen)
	}
}
