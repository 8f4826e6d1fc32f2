package trip

import (
	"fmt"
	"math"
	"time"
)

// Raw is one trip row as a TLC file states it, before cleaning. Times are
// NYC local wall-clock times expressed as microseconds since the Unix epoch
// (the TLC stores them without a zone).
type Raw struct {
	PickupMicros  int64
	DropoffMicros int64
	PULocationID  int64
	DOLocationID  int64
	// Passengers is the stated passenger count, NaN when the row leaves it empty.
	Passengers float64
}

// Rules decide which rows are trips worth learning from. The defaults are
// the course's: a duration of 1 to 60 minutes inclusive.
type Rules struct {
	MinMinutes float64 `json:"min_minutes"`
	MaxMinutes float64 `json:"max_minutes"`
}

// DefaultRules are the cleaning rules of the course material: on green
// 2021-01 they keep exactly 73,908 rows.
func DefaultRules() Rules { return Rules{MinMinutes: 1, MaxMinutes: 60} }

// Describe lists the rules in the order they are applied, for people.
func (r Rules) Describe() []string {
	return []string{
		fmt.Sprintf("PULocationID and DOLocationID must be zone ids 1..%d (dropped: bad_zone)", MaxZone),
		fmt.Sprintf("duration = dropoff - pickup in minutes; below %g dropped (too_short)", r.MinMinutes),
		fmt.Sprintf("duration above %g minutes dropped (too_long)", r.MaxMinutes),
		fmt.Sprintf("passenger_count empty, fractional or outside 0..%d: kept, as its own 'unknown' category", MaxPassengers),
	}
}

// Stats count what cleaning did, rule by rule.
type Stats struct {
	Read     int64 `json:"read"`
	Kept     int64 `json:"kept"`
	BadZone  int64 `json:"dropped_bad_zone"`
	TooShort int64 `json:"dropped_too_short"`
	TooLong  int64 `json:"dropped_too_long"`
	// PassengersUnknown counts kept rows whose passenger count became the
	// unknown category (empty, or not an integer in 0..MaxPassengers).
	PassengersUnknown int64 `json:"passengers_unknown"`
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Read += o.Read
	s.Kept += o.Kept
	s.BadZone += o.BadZone
	s.TooShort += o.TooShort
	s.TooLong += o.TooLong
	s.PassengersUnknown += o.PassengersUnknown
}

// Dropped is the number of rows any rule dropped.
func (s Stats) Dropped() int64 { return s.BadZone + s.TooShort + s.TooLong }

// Clean applies the rules to one row, counting the outcome in st. It reports
// false when the row is dropped.
func (r Rules) Clean(raw Raw, st *Stats) (Example, bool) {
	st.Read++
	if !ValidZone(raw.PULocationID) || !ValidZone(raw.DOLocationID) {
		st.BadZone++
		return Example{}, false
	}
	minutes := float64(raw.DropoffMicros-raw.PickupMicros) / 60e6
	if !(minutes >= r.MinMinutes) { // also catches NaN
		st.TooShort++
		return Example{}, false
	}
	if minutes > r.MaxMinutes {
		st.TooLong++
		return Example{}, false
	}
	p := PassengersOf(raw.Passengers)
	if p == NoPassengers {
		st.PassengersUnknown++
	}
	st.Kept++
	return Example{
		Trip: Trip{
			Pickup:       time.UnixMicro(raw.PickupMicros).UTC(),
			PULocationID: uint16(raw.PULocationID),
			DOLocationID: uint16(raw.DOLocationID),
			Passengers:   p,
		},
		Minutes: float32(minutes),
	}, true
}

// PassengersOf maps a stated passenger count to 0..MaxPassengers, or
// NoPassengers when it is missing (NaN), fractional or out of range.
func PassengersOf(v float64) int8 {
	if math.IsNaN(v) || v < 0 || v > MaxPassengers || v != math.Trunc(v) {
		return NoPassengers
	}
	return int8(v)
}
