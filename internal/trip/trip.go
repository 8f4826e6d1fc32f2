// Package trip holds the domain types every part of taxieta shares: a trip to
// estimate, an observed trip to learn from, and the estimate itself. It knows
// nothing of files, HTTP or registries.
package trip

import "time"

// MaxZone is the largest TLC taxi zone id (LocationID). Zones are 1..MaxZone;
// 264 and 265 are the TLC's "Unknown" and "Outside of NYC".
const MaxZone = 265

// MaxPassengers is the largest passenger count a trip may state.
const MaxPassengers = 9

// NoPassengers marks a trip whose passenger count is unknown. The TLC leaves
// it empty on a large share of green-taxi rows, so it is a category of its
// own rather than a reason to drop the trip.
const NoPassengers int8 = -1

// Trip is what is known before a ride: where it starts and ends, how many
// people ride, and optionally when it starts (NYC local wall-clock time).
// The rules by which every JSON input states one are in package tripjson's
// doc.
type Trip struct {
	// Pickup is the local pickup time; the zero Time means unknown.
	Pickup time.Time
	// PULocationID and DOLocationID are TLC zone ids in 1..MaxZone.
	PULocationID uint16
	DOLocationID uint16
	// Passengers is 0..MaxPassengers, or NoPassengers when unknown.
	Passengers int8
}

// Example is a trip whose duration was observed: what models learn from and
// are measured on.
type Example struct {
	Trip
	// Minutes is the observed duration, dropoff minus pickup.
	Minutes float32
}

// Prediction is a duration estimate in minutes with its 10–90% range: in
// about eight trips out of ten the real duration lies within [Low, High].
type Prediction struct {
	Minutes float32
	Low     float32
	High    float32
}

// HourOfWeek returns the hour of the week of t, 0 (Monday 00:00–00:59) to
// 167, using t's own clock fields, which for trip times are NYC local time.
// It returns -1 for the zero Time.
func HourOfWeek(t time.Time) int {
	if t.IsZero() {
		return -1
	}
	if t.Location() == time.UTC {
		// Trip times carry NYC wall-clock time as UTC: count hours
		// from a Monday midnight instead of asking the calendar twice,
		// which scoring a file does for every trip.
		const monday = 4 * 24 // 1970-01-05 00:00 UTC, in hours since the epoch
		h := floorDiv(t.Unix(), 3600) - monday
		return int(h - floorDiv(h, 168)*168)
	}
	wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
	return wd*24 + t.Hour()
}

// floorDiv is a/b rounded down (b > 0), for times before 1970 too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// ValidZone reports whether id is a TLC zone id.
func ValidZone(id int64) bool { return id >= 1 && id <= MaxZone }

// DataFile identifies a file of observed trips, so that a model can say
// exactly what it learnt from and was measured on.
type DataFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Rows is the number of rows read from the file, before cleaning.
	Rows int64 `json:"rows"`
	// Kept is the number of rows cleaning kept.
	Kept int64 `json:"kept"`
}
