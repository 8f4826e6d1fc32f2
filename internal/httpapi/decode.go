package httpapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// The request body is decoded by internal/tripjson, whose package doc states
// the trip rules the OpenAPI schema holds, and which costs no allocation for
// a valid trip; the web API allows no unknown field. Malformed JSON is a
// syntax error (400); well-formed JSON that breaks a rule gives field errors
// (422), all of them, each naming its field.

// FieldError is one rule a request broke.
type FieldError struct {
	// Location is where: "body.PULocationID", or "body[3].PULocationID" in a batch.
	Location string `json:"location" doc:"Where the error is, e.g. body.PULocationID or body[3].passenger_count"`
	// Message says which rule was broken and what was sent instead, to
	// read after the field's name.
	Message string `json:"message" example:"must be from 0 to 9, got 12" doc:"The rule that was broken and what was sent, to read after the field's name"`
	// Value is the offending value as sent, when there is one.
	Value any `json:"value,omitempty" doc:"The offending value, when there is one"`
}

// decoder collects the field errors of one request body.
type decoder struct {
	errs []FieldError
	// index is the position in a batch, -1 for a single trip.
	index int
}

func (d *decoder) fieldErr(field, msg string, value any) {
	loc := "body"
	if d.index >= 0 {
		loc += "[" + strconv.Itoa(d.index) + "]"
	}
	if field != "" {
		loc += "." + field
	}
	d.errs = append(d.errs, FieldError{Location: loc, Message: msg, Value: value})
}

// problem records a trip's broken rule as a field error, in tripjson's
// words, which name the rule and the value sent and read after the field's
// name (the call-centre page shows "Passengers must be from 0 to 9, got 12.").
func (d *decoder) problem(p tripjson.Problem) {
	var v any
	if p.Value != nil {
		v = rawValue(p.Value)
	}
	d.fieldErr(p.Field, p.Message(), v)
}

// decodeTrip decodes a single trip object. The error is a
// *tripjson.SyntaxError.
func decodeTrip(b []byte, ny *time.Location) (trip.Trip, []FieldError, error) {
	d := decoder{index: -1}
	s := tripjson.NewScanner(b)
	t, err := tripjson.Decode(&s, ny, d.problem, nil)
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return t, nil, err
	}
	return t, d.errs, nil
}

// decodeTrips decodes an array of trips into dst[:0], refusing more than
// max. The error is a *tripjson.SyntaxError.
func decodeTrips(b []byte, max int, ny *time.Location, dst []trip.Trip) ([]trip.Trip, []FieldError, error) {
	d := decoder{index: -1}
	dst = dst[:0]
	s := tripjson.NewScanner(b)
	var err error
	if s.Peek() == '[' {
		err = s.Elements(func() error {
			d.index = len(dst)
			t, err := tripjson.Decode(&s, ny, d.problem, nil)
			dst = append(dst, t)
			return err
		})
		d.index = -1
		if err == nil && len(dst) == 0 {
			d.fieldErr("", "must hold at least one trip", nil)
		}
	} else if _, err = s.Skip(); err == nil {
		d.fieldErr("", "must be a JSON array of trips", nil)
	}
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return dst, nil, err
	}
	if len(dst) > max {
		d.errs = append(d.errs[:0], FieldError{Location: "body", Message: fmt.Sprintf("at most %d trips per request", max), Value: len(dst)})
	}
	return dst, d.errs, nil
}

// rawValue is an offending JSON value as sent, for FieldError.Value: the
// value itself, or its text cut short when it is long.
func rawValue(b []byte) any {
	if s := tripjson.Shorten(b); s != string(b) {
		return s
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}
