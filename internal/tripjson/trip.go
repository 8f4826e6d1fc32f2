package tripjson

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
)

// The trip fields, as the web API's schema names them.
const (
	fieldPU     = "PULocationID"
	fieldDO     = "DOLocationID"
	fieldPax    = "passenger_count"
	fieldPickup = "pickup_datetime"
)

// Kind is the sort of rule a Problem breaks.
type Kind uint8

const (
	// NotObject: the trip is not a JSON object. Problem.Field is empty.
	NotObject Kind = iota + 1
	// UnknownField: a member that is not a trip field. Problem.Field is its
	// name as sent.
	UnknownField
	// RepeatedField: a trip field given more than once.
	RepeatedField
	// MissingField: a required field (PULocationID, DOLocationID) is absent.
	MissingField
	// WrongType: a value of the wrong JSON type, or a number that is not an
	// integer (for ride_id, one not written as an integer).
	WrongType
	// BadValue: a value of the right type that the field's rule (the
	// package doc, RideID) refuses: a zone id or passenger count out of
	// range, a string that is not a date-time, a ride id too long, empty or
	// beyond 64 bits.
	BadValue
)

// Problem is one rule a well-formed trip object (or ride id) breaks: which
// field, which sort of rule, and the value sent. Its words (Message, Error)
// are the only words for it: the web API's field errors, a dead letter and a
// batch reject all read alike.
type Problem struct {
	// Field is the member's name: a trip field, ride_id (see RideID) or,
	// for UnknownField, the name as sent. It is empty for NotObject.
	Field string
	// Kind is the sort of rule broken.
	Kind Kind
	// Value is the offending JSON value as sent, for NotObject, WrongType
	// and BadValue; nil otherwise. It is a slice of the input: render it
	// before the input is reused.
	Value []byte
}

// Message says plainly which rule was broken and, when there is one, what
// was sent instead, to read after the field's name ("Passengers must be from
// 0 to 9, got 12." on the web API's call-centre page; "passenger_count must
// be from 0 to 9, got 12" in a batch reject): the rule, then ", got" and the
// value, or its type when the type is wrong. The value is in it because a
// dead letter's or a batch reject's reader sees no separate value.
func (p Problem) Message() string {
	if p.Field == fieldRideID && (p.Kind == WrongType || p.Kind == BadValue) {
		return rideIDMessage(p)
	}
	switch p.Kind {
	case NotObject:
		return "must be a JSON object, got " + Describe(p.Value)
	case UnknownField:
		return "is an unknown field (allowed: " + fieldPU + ", " + fieldDO + ", " + fieldPax + ", " + fieldPickup + ")"
	case RepeatedField:
		return "is given more than once"
	case MissingField:
		return "is missing"
	case WrongType:
		switch p.Field {
		case fieldPax:
			return fmt.Sprintf("must be an integer from 0 to %d or null, got %s", trip.MaxPassengers, Describe(p.Value))
		case fieldPickup:
			return "must be an ISO 8601 date-time string or null, got " + Describe(p.Value)
		}
		return fmt.Sprintf("must be an integer zone id from 1 to %d, got %s", trip.MaxZone, Describe(p.Value))
	}
	switch p.Field {
	case fieldPax:
		return fmt.Sprintf("must be from 0 to %d, got %s", trip.MaxPassengers, Shorten(p.Value))
	case fieldPickup:
		s := NewScanner(p.Value)
		v, _ := s.Text()
		return "must be an ISO 8601 date-time like 2024-03-04T08:15:00 (New York time) or with an offset like 2024-03-04T13:15:00Z, got " + strconv.Quote(Shorten(v))
	}
	return fmt.Sprintf("must be a zone id from 1 to %d, got %s", trip.MaxZone, Shorten(p.Value))
}

// Error is the field's name followed by Message: "passenger_count must be
// from 0 to 9, got 12".
func (p Problem) Error() string {
	if p.Field == "" {
		return p.Message()
	}
	return p.Field + " " + p.Message()
}

// Describe names the type of a JSON value as written, for an error message:
// "a string", "a boolean", "null", "an array", "an object", or a number as
// written.
func Describe(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	return Shorten(raw)
}

// Shorten renders text from the input for an error message: as it is when
// short, else cut (at a UTF-8 boundary) after 64 bytes with an ellipsis, so
// that a hostile value cannot make a message as long as the input.
func Shorten(b []byte) string {
	const max = 64
	if len(b) <= max {
		return string(b)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}

// Decode reads the trip object at s and returns the trip it states; an
// absent or null passenger_count is trip.NoPassengers, an absent or null
// pickup_datetime the zero time. A pickup time with a UTC offset is
// converted to New York local time (ny; nil refuses offsets).
//
// Each rule the object breaks is passed to report as it is found, and
// decoding goes on to the end of the object, so that malformed JSON is told
// from a broken rule; the trip is meaningful only if nothing was reported. A
// value that is not an object is read and reported as NotObject.
//
// A member that is not a trip field is passed to other, with s at its
// value, which other must read (batch input's ride_id, and the fields batch
// ignores); when other is nil, such a member is an UnknownField problem, as
// the web API's schema has it.
//
// The error, which stops decoding, is a *SyntaxError or one of other's.
func Decode(s *Scanner, ny *time.Location, report func(Problem), other func(key []byte) error) (trip.Trip, error) {
	t := trip.Trip{Passengers: trip.NoPassengers}
	if s.Peek() != '{' {
		raw, err := s.Skip()
		if err == nil {
			report(Problem{Kind: NotObject, Value: raw})
		}
		return t, err
	}
	fields := [...]string{fieldPU, fieldDO, fieldPax, fieldPickup}
	var seen [len(fields)]bool
	err := s.Members(func(key []byte) error {
		var f int
		switch string(key) {
		case fieldPU:
			f = 0
		case fieldDO:
			f = 1
		case fieldPax:
			f = 2
		case fieldPickup:
			f = 3
		default:
			if other != nil {
				return other(key)
			}
			_, err := s.Skip()
			if err == nil {
				report(Problem{Field: string(key), Kind: UnknownField})
			}
			return err
		}
		if seen[f] {
			_, err := s.Skip()
			if err == nil {
				report(Problem{Field: fields[f], Kind: RepeatedField})
			}
			return err
		}
		seen[f] = true
		switch f {
		case 0:
			return zone(s, fieldPU, &t.PULocationID, report)
		case 1:
			return zone(s, fieldDO, &t.DOLocationID, report)
		case 2:
			return passengers(s, &t.Passengers, report)
		}
		return pickup(s, ny, &t.Pickup, report)
	})
	if err != nil {
		return t, err
	}
	if !seen[0] {
		report(Problem{Field: fieldPU, Kind: MissingField})
	}
	if !seen[1] {
		report(Problem{Field: fieldDO, Kind: MissingField})
	}
	return t, nil
}

// zone reads a zone id.
func zone(s *Scanner, field string, dst *uint16, report func(Problem)) error {
	v, raw, isInt, err := integer(s)
	switch {
	case err != nil:
		return err
	case !isInt:
		report(Problem{Field: field, Kind: WrongType, Value: raw})
	case !trip.ValidZone(v):
		report(Problem{Field: field, Kind: BadValue, Value: raw})
	default:
		*dst = uint16(v)
	}
	return nil
}

// passengers reads a passenger count: null leaves dst NoPassengers.
func passengers(s *Scanner, dst *int8, report func(Problem)) error {
	if s.Null() {
		return nil
	}
	v, raw, isInt, err := integer(s)
	switch {
	case err != nil:
		return err
	case !isInt:
		report(Problem{Field: fieldPax, Kind: WrongType, Value: raw})
	case v < 0 || v > trip.MaxPassengers:
		report(Problem{Field: fieldPax, Kind: BadValue, Value: raw})
	default:
		*dst = int8(v)
	}
	return nil
}

// pickup reads a pickup time: null leaves dst zero.
func pickup(s *Scanner, ny *time.Location, dst *time.Time, report func(Problem)) error {
	if s.Null() {
		return nil
	}
	if s.Peek() != '"' {
		raw, err := s.Skip()
		if err == nil {
			report(Problem{Field: fieldPickup, Kind: WrongType, Value: raw})
		}
		return err
	}
	start := s.i
	v, err := s.Text()
	if err != nil {
		return err
	}
	t, ok := trip.ParseTime(v, ny)
	if !ok {
		report(Problem{Field: fieldPickup, Kind: BadValue, Value: s.b[start:s.i]})
		return nil
	}
	*dst = t
	return nil
}

// integer reads any value; isInt reports whether it is a number with an
// integral value (74, 74.0 and 7.4e1 alike, as JSON Schema's integer). The
// value is then returned, saturated far outside any valid range.
func integer(s *Scanner) (v int64, raw []byte, isInt bool, err error) {
	if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
		raw, err = s.Skip()
		return 0, raw, false, err
	}
	lit, err := s.Number()
	if err != nil {
		return 0, nil, false, err
	}
	if len(lit) <= 18 { // fast path: plain digits, which cannot overflow
		plain := true
		for _, c := range lit {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			v = v*10 + int64(c-'0')
		}
		if plain {
			return v, lit, true, nil
		}
	}
	// 1e400 is integral but out of any range (encoding/json calls it no
	// float64 at all; both refuse it); 1e-400 rounds to 0, as in
	// encoding/json.
	f, perr := strconv.ParseFloat(string(lit), 64)
	if (perr != nil && !errors.Is(perr, strconv.ErrRange)) || f != math.Trunc(f) {
		return 0, lit, false, nil
	}
	return int64(math.Max(-1e9, math.Min(1e9, f))), lit, true, nil
}
