package model

import "slices"

// The accessors below hand a model's learnt tables to code that must compute
// exactly what Predict computes in another runtime (an exported graph). They
// return copies laid out as Predict reads them, so that such code needs no
// knowledge of the artifact's parameters, and cannot change the model.

// PassengerCategory maps a trip's passenger count to the index of the
// passenger tables: 0..MaxPassengers as themselves, anything else (unknown)
// to MaxPassengers+1.
func PassengerCategory(p int8) int { return passengerIndex(p) }

// ODTables are an od model's tables, as OD.Predict reads them.
type ODTables struct {
	// PairEstimate is the estimate without pickup time by
	// PULocationID*(trip.MaxZone+1)+DOLocationID; a trip with a zone
	// outside 1..trip.MaxZone reads index 0.
	PairEstimate []float32
	// PassengerOffset is added to the pair estimate, by PassengerCategory.
	PassengerOffset []float32
	// HourOfWeekFactor multiplies the estimate when the pickup time is
	// known, by trip.HourOfWeek.
	HourOfWeekFactor []float32
	// MinMinutes and MaxMinutes bound the estimate, after the factor.
	MinMinutes, MaxMinutes float32
	// RangeLow and RangeHigh multiply the bounded estimate into the
	// 10–90% range, by the estimate's whole minutes (0..len-1); index 0
	// is for estimates without pickup time, 1 for those with.
	RangeLow, RangeHigh [2][]float32
}

// Tables returns a copy of m's tables.
func (m *OD) Tables() ODTables {
	t := ODTables{
		PairEstimate:     slices.Clone(m.est[:]),
		PassengerOffset:  slices.Clone(m.pax[:]),
		HourOfWeekFactor: slices.Clone(m.how[:]),
		MinMinutes:       1,
		MaxMinutes:       60,
	}
	for k, r := range m.ranges {
		lo := make([]float32, len(r.bucketOf))
		hi := make([]float32, len(r.bucketOf))
		for minute, b := range r.bucketOf {
			lo[minute], hi[minute] = r.lo[b], r.hi[b]
		}
		t.RangeLow[k], t.RangeHigh[k] = lo, hi
	}
	return t
}

// LinearTables are a linear model's coefficients, as Linear.Predict reads
// them: in float64, the estimate is ((Intercept + PU[pu]) + DO[do]) +
// Passengers[PassengerCategory(p)], with both zones read as 0 when either
// is outside 1..trip.MaxZone; the range is max(0, estimate+ResidualLow) to
// estimate+ResidualHigh; all three are then rounded to float32.
type LinearTables struct {
	Intercept float64
	// PU and DO are by zone id 0..trip.MaxZone.
	PU, DO []float64
	// Passengers is by PassengerCategory.
	Passengers                []float64
	ResidualLow, ResidualHigh float64
}

// Tables returns a copy of m's coefficients.
func (m *Linear) Tables() LinearTables {
	return LinearTables{
		Intercept:    m.p.Intercept,
		PU:           slices.Clone(m.p.PU),
		DO:           slices.Clone(m.p.DO),
		Passengers:   slices.Clone(m.p.Passengers),
		ResidualLow:  m.p.ResidualLow,
		ResidualHigh: m.p.ResidualHigh,
	}
}
