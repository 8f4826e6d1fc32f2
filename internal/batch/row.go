package batch

import (
	"strconv"

	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// noTime marks a tripRow time that the input leaves empty, as internal/tlc
// marks it: cleaning drops such a trip.
const noTime = tlc.NullTime

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

// idCounter renders the ride ids of rows in input order. Most rows of a
// file follow the one before (index i+1 after i): their digits are counted
// up in place instead of formatted afresh, which halves the cost of
// writing a TLC file's ids.
type idCounter struct {
	ids rideIDs
	// last is the prefix and digits of index, the last id made from an
	// index; empty before the first. prev is the one before, when the
	// index jumped.
	last, prev []byte
	index      int64
}

// append appends r's ride id to b, as rideIDs.appendID does.
func (c *idCounter) append(b []byte, r *tripRow) []byte {
	if r.RideID != "" {
		return append(b, r.RideID...)
	}
	c.next(r)
	return append(b, c.last...)
}

// next makes c.last r's id (r has no id of its own) and returns how many
// leading bytes it shares with the id before it.
func (c *idCounter) next(r *tripRow) int {
	if len(c.last) == 0 || r.Index != c.index+1 || r.Index <= 0 {
		c.prev = append(c.prev[:0], c.last...)
		c.last = strconv.AppendInt(append(c.last[:0], c.ids.prefix...), r.Index, 10)
		c.index = r.Index
		n := min(len(c.prev), len(c.last))
		for i := range n {
			if c.prev[i] != c.last[i] {
				return i
			}
		}
		return n
	}
	c.index = r.Index
	return c.increment()
}

// increment adds one to the decimal digits after the prefix and returns
// the position of the first digit it changed.
func (c *idCounter) increment() int {
	first := len(c.ids.prefix)
	for i := len(c.last) - 1; i >= first; i-- {
		if c.last[i] != '9' {
			c.last[i]++
			return i
		}
		c.last[i] = '0'
	}
	// All nines became zeros: one digit more, a leading 1.
	c.last = append(c.last, '0')
	c.last[first] = '1'
	return first
}

// deltas appends the DELTA_BYTE_ARRAY parts of a page of rows' ids: for
// each id, the length of the prefix it shares with the id before it in
// the page (0 for the first) and of the rest, and the rest's bytes. A
// counted-up id shares all but the digits the count changed, so nothing
// is compared. ok is false, and nothing is appended, when a row has an
// id of its own.
func (c *idCounter) deltas(rows []tripRow, prefixes, lengths []int32, suffixes []byte) (_, _ []int32, _ []byte, ok bool) {
	for i := range rows {
		if rows[i].RideID != "" {
			return prefixes, lengths, suffixes, false
		}
	}
	for i := range rows {
		shared := c.next(&rows[i])
		if i == 0 {
			shared = 0
		}
		prefixes = append(prefixes, int32(shared))
		lengths = append(lengths, int32(len(c.last)-shared))
		suffixes = append(suffixes, c.last[shared:]...)
	}
	return prefixes, lengths, suffixes, true
}
