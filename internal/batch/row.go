package batch

import (
	"math"
	"strconv"

	"github.com/taxieta/taxieta/internal/trip"
)

// noTime marks a tripRow time that the input leaves empty. It is the value
// internal/tlc gives a missing timestamp, which cleaning drops.
const noTime int64 = math.MinInt64 / 2

// tripRow is one trip of a batch: the input values that identify it and that the
// model reads, and, once scored, its estimate.
type tripRow struct {
	// Index is the row's position in the input, from 0: the row of a TLC
	// file (the course's ride_id suffix) or, for JSON Lines, the line number
	// minus one.
	Index int64
	// Line is the input line for text inputs (CSV, JSON Lines), 0 otherwise.
	Line int64
	// RideID is the input's own identifier (JSON Lines); empty means the
	// identifier is derived from Index.
	RideID string
	// PickupMicros and DropoffMicros are NYC local wall-clock times in
	// microseconds since the Unix epoch, noTime when unknown.
	PickupMicros  int64
	DropoffMicros int64
	PULocationID  int64
	DOLocationID  int64
	// Passengers is the stated passenger count, NaN when unknown.
	Passengers float64

	// Pred is the estimate, set by scoring.
	Pred trip.Prediction
	// Problem says why the row cannot be scored; empty when it can.
	Problem string
	// Input is the row as the input stated it, kept for the rejects file
	// when Problem is set by a text reader (one line of CSV or JSON).
	Input []byte
}

// raw is the row as cleaning sees it.
func (r *tripRow) raw() trip.Raw {
	return trip.Raw{
		PickupMicros: r.PickupMicros, DropoffMicros: r.DropoffMicros,
		PULocationID: r.PULocationID, DOLocationID: r.DOLocationID, Passengers: r.Passengers,
	}
}

// hasPickup reports whether the input gave the pickup time.
func (r *tripRow) hasPickup() bool { return r.PickupMicros != noTime }

// actualMinutes is the observed duration, when both times are known.
func (r *tripRow) actualMinutes() (float64, bool) {
	if r.PickupMicros == noTime || r.DropoffMicros == noTime {
		return 0, false
	}
	return float64(r.DropoffMicros-r.PickupMicros) / 60e6, true
}

// rideIDs renders ride identifiers: the input's own, else prefix+Index (the
// course's "YYYY/MM_index" for TLC files).
type rideIDs struct{ prefix string }

// appendID appends r's ride id to b.
func (ids rideIDs) appendID(b []byte, r *tripRow) []byte {
	if r.RideID != "" {
		return append(b, r.RideID...)
	}
	b = append(b, ids.prefix...)
	return strconv.AppendInt(b, r.Index, 10)
}

// id returns r's ride id.
func (ids rideIDs) id(r *tripRow) string {
	if r.RideID != "" {
		return r.RideID
	}
	return string(ids.appendID(nil, r))
}
