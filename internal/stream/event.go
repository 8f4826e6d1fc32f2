package stream

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// MaxEventBytes is the largest trip-request event accepted; a larger one is
// dead-lettered unread.
const MaxEventBytes = 16 << 10

// Request is a decoded, validated trip-request event:
//
//	{"ride_id": "2024/03_17", "ride": {"PULocationID": 74, "DOLocationID": 75,
//	 "passenger_count": 1, "pickup_datetime": "2024-03-01 08:30:00"}}
type Request struct {
	RideID RideID
	Trip   trip.Trip
}

// RideID is the producer's identifier of a ride, by the rule of
// tripjson.RideID: a non-empty string or an integer. It is echoed in the
// estimate as it came (a string stays a string).
type RideID struct {
	text   string
	number bool
}

// String returns the ride id as text: the string itself, or the integer in
// decimal.
func (r RideID) String() string { return r.text }

// IsNumber reports whether the ride id was a JSON integer.
func (r RideID) IsNumber() bool { return r.number }

// AppendJSON appends the ride id as a JSON value.
func (r RideID) AppendJSON(b []byte) []byte {
	if r.number {
		return append(b, r.text...)
	}
	return tripjson.AppendString(b, r.text)
}

// EventError says why an event was rejected. It is the reason written on a
// dead letter.
type EventError struct {
	// Malformed is true when the event is not a JSON document of the
	// expected shape at all (syntax error, truncation, too large), false when
	// it is JSON whose content breaks a rule (unknown field, wrong type, out
	// of range).
	Malformed bool
	// Field is the offending field as a path, e.g. "ride.PULocationID"; empty
	// for the event as a whole.
	Field string
	// Reason is what is wrong, in words.
	Reason string
}

func (e *EventError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Class is "malformed" or "invalid", the dead-letter metric's label.
func (e *EventError) Class() string {
	if e.Malformed {
		return "malformed"
	}
	return "invalid"
}

// Decoder decodes and validates trip-request events. It is safe for
// concurrent use.
type Decoder struct {
	nyc *time.Location
}

// NewDecoder returns a Decoder. Pickup times that carry a UTC offset are
// converted to New York local time, which is what the models expect.
func NewDecoder() (*Decoder, error) {
	nyc, err := trip.NYC()
	if err != nil {
		return nil, fmt.Errorf("event decoder: %w", err)
	}
	return &Decoder{nyc: nyc}, nil
}

// Decode parses one event. The rules, checked strictly so that a producer's
// mistake is reported rather than guessed at:
//
//   - the event is one JSON object, UTF-8, at most MaxEventBytes, with
//     exactly the fields ride_id and ride (no other, none twice);
//   - ride_id is required and follows tripjson.RideID: a non-empty string of
//     at most tripjson.MaxRideIDBytes, or an integer written as one (17, not
//     17.0) that fits in 64 bits; null is refused like an absent ride_id,
//     since the estimate could not be matched to its request;
//   - ride is a trip object by the trip rules (package tripjson), as the
//     web API accepts it: no other field is allowed.
//
// A rejected event returns an *EventError: malformed when the event is not
// a JSON object (even if it also breaks a rule before the syntax error),
// else invalid, naming the first rule broken.
func (d *Decoder) Decode(data []byte) (Request, error) {
	var req Request
	if len(data) > MaxEventBytes {
		return req, &EventError{Malformed: true, Reason: fmt.Sprintf("event is %d bytes, more than the %d allowed", len(data), MaxEventBytes)}
	}
	if !utf8.Valid(data) {
		return req, &EventError{Malformed: true, Reason: "event is not valid UTF-8"}
	}
	s := tripjson.NewScanner(data)
	if s.Peek() != '{' {
		return req, &EventError{Malformed: true, Reason: "event is not a JSON object"}
	}
	var (
		invalid          *EventError // the first rule broken
		seenID, seenRide bool
	)
	fail := func(field, reason string) {
		if invalid == nil {
			invalid = &EventError{Field: field, Reason: reason}
		}
	}
	repeated := func(key []byte) error {
		fail(string(key), tripjson.Problem{Kind: tripjson.RepeatedField}.Message())
		_, err := s.Skip()
		return err
	}
	err := s.Members(func(key []byte) error {
		switch string(key) {
		case "ride_id":
			if seenID {
				return repeated(key)
			}
			seenID = true
			return rideID(&s, &req.RideID, fail)
		case "ride":
			if seenRide {
				return repeated(key)
			}
			seenRide = true
			var err error
			req.Trip, err = tripjson.Decode(&s, d.nyc, func(p tripjson.Problem) {
				switch {
				case p.Kind == tripjson.UnknownField:
					fail("ride."+fieldName([]byte(p.Field)), p.Message())
				case p.Field != "":
					fail("ride."+p.Field, p.Message())
				default: // not an object
					fail("ride", p.Message())
				}
			}, nil)
			return err
		}
		fail(fieldName(key), "is an unknown field (allowed: ride_id, ride)")
		_, err := s.Skip()
		return err
	})
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return Request{}, &EventError{Malformed: true, Reason: err.Error()}
	}
	if !seenID {
		fail("ride_id", tripjson.Problem{Kind: tripjson.MissingField}.Message())
	}
	if !seenRide {
		fail("ride", tripjson.Problem{Kind: tripjson.MissingField}.Message())
	}
	if invalid != nil {
		return Request{}, invalid
	}
	return req, nil
}

// rideID reads ride_id into id by the rule of tripjson.RideID, passing a
// broken rule to fail; null breaks the rule that an event has an id.
func rideID(s *tripjson.Scanner, id *RideID, fail func(field, reason string)) error {
	const field = "ride_id"
	refused := false
	v, number, err := tripjson.RideID(s, func(p tripjson.Problem) {
		refused = true
		fail(field, p.Message())
	})
	switch {
	case err != nil || refused:
		return err
	case v == nil:
		fail(field, tripjson.Problem{Field: field, Kind: tripjson.WrongType, Value: []byte("null")}.Message())
		return nil
	}
	*id = RideID{text: string(v), number: number}
	return nil
}

// fieldName renders an unexpected key for an error message.
func fieldName(key []byte) string {
	return strconv.Quote(tripjson.Shorten(key))
}

// errNonFinite is returned by AppendEstimate for a NaN or infinite estimate,
// which JSON cannot carry.
var errNonFinite = errors.New("the model returned a non-finite estimate")

// AppendEstimate appends the estimate event for a request:
//
//	{"ride_id":…,"prediction":{"trip_duration_prediction":12.34,
//	 "interval":{"low":8.9,"high":17.5}},"model":{"name":…,"version":…}}
//
// Minutes are rounded to hundredths. modelJSON is the JSON object that
// identifies the model (see ModelJSON).
func AppendEstimate(b []byte, id RideID, p trip.Prediction, modelJSON []byte) ([]byte, error) {
	for _, v := range [...]float32{p.Minutes, p.Low, p.High} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return b, errNonFinite
		}
	}
	b = append(b, `{"ride_id":`...)
	b = id.AppendJSON(b)
	b = append(b, `,"prediction":{"trip_duration_prediction":`...)
	b = strconv.AppendFloat(b, float64(p.Minutes), 'f', 2, 32)
	b = append(b, `,"interval":{"low":`...)
	b = strconv.AppendFloat(b, float64(p.Low), 'f', 2, 32)
	b = append(b, `,"high":`...)
	b = strconv.AppendFloat(b, float64(p.High), 'f', 2, 32)
	b = append(b, `}},"model":`...)
	b = append(b, modelJSON...)
	return append(b, '}'), nil
}

// ModelJSON returns the JSON object {"name":…,"version":…} that estimate
// events carry.
func ModelJSON(name, version string) []byte {
	b := tripjson.AppendString([]byte(`{"name":`), name)
	b = append(b, `,"version":`...)
	b = tripjson.AppendString(b, version)
	return append(b, '}')
}
