package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
)

// The request decoder is hand-written for the one shape the API accepts, so
// that a prediction costs no allocation and the rules of the OpenAPI schema
// hold exactly: integers only, zone ids 1..265, passenger_count 0..9 or null,
// pickup_datetime an ISO 8601 string or null, no unknown or repeated fields.
// Malformed JSON is a syntax error (400); well-formed JSON that breaks a rule
// gives field errors (422), all of them, each naming its field.

// errSyntax marks malformed JSON.
var errSyntax = errors.New("malformed JSON")

// maxDepth bounds the nesting of values we skip, so hostile input cannot
// exhaust the stack.
const maxDepth = 64

// FieldError is one rule a request broke.
type FieldError struct {
	// Location is where: "body.PULocationID", or "body[3].PULocationID" in a batch.
	Location string `json:"location" doc:"Where the error is, e.g. body.PULocationID or body[3].passenger_count"`
	// Message says which rule was broken.
	Message string `json:"message" doc:"The rule that was broken"`
	// Value is the offending value as sent, when there is one.
	Value any `json:"value,omitempty" doc:"The offending value, when there is one"`
}

// decoder walks one request body.
type decoder struct {
	b    []byte
	i    int
	ny   *time.Location
	errs []FieldError
	// index is the position in a batch, -1 for a single trip.
	index int
}

func (d *decoder) syntaxErr(what string) error {
	return fmt.Errorf("%w at byte %d: %s", errSyntax, d.i, what)
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
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

// decodeTrip decodes a single trip object.
func decodeTrip(b []byte, ny *time.Location) (trip.Trip, []FieldError, error) {
	d := decoder{b: b, ny: ny, index: -1}
	d.ws()
	t, err := d.trip()
	if err != nil {
		return t, nil, err
	}
	d.ws()
	if d.i != len(d.b) {
		return t, nil, d.syntaxErr("data after the JSON value")
	}
	return t, d.errs, nil
}

// decodeTrips decodes an array of trips into dst[:0], refusing more than max.
func decodeTrips(b []byte, max int, ny *time.Location, dst []trip.Trip) ([]trip.Trip, []FieldError, error) {
	d := decoder{b: b, ny: ny, index: -1}
	dst = dst[:0]
	d.ws()
	if d.i >= len(d.b) {
		return dst, nil, d.syntaxErr("empty body")
	}
	if d.b[d.i] != '[' {
		if err := d.skip(0); err != nil {
			return dst, nil, err
		}
		d.fieldErr("", "must be a JSON array of trips", nil)
		return dst, d.errs, d.end()
	}
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.fieldErr("", "must hold at least one trip", nil)
		return dst, d.errs, d.end()
	}
	for {
		d.index = len(dst)
		d.ws()
		t, err := d.trip()
		if err != nil {
			return dst, nil, err
		}
		dst = append(dst, t)
		d.ws()
		if d.i >= len(d.b) {
			return dst, nil, d.syntaxErr("unterminated array")
		}
		c := d.b[d.i]
		d.i++
		if c == ']' {
			break
		}
		if c != ',' {
			return dst, nil, d.syntaxErr("want , or ] in array")
		}
	}
	d.index = -1
	if len(dst) > max {
		d.errs = append(d.errs[:0], FieldError{Location: "body", Message: fmt.Sprintf("at most %d trips per request", max), Value: len(dst)})
	}
	return dst, d.errs, d.end()
}

func (d *decoder) end() error {
	d.ws()
	if d.i != len(d.b) {
		return d.syntaxErr("data after the JSON value")
	}
	return nil
}

const (
	seenPU = 1 << iota
	seenDO
	seenPax
	seenPickup
)

// trip decodes one trip object at d.i.
func (d *decoder) trip() (trip.Trip, error) {
	t := trip.Trip{Passengers: trip.NoPassengers}
	if d.i >= len(d.b) {
		return t, d.syntaxErr("unexpected end of input")
	}
	if d.b[d.i] != '{' {
		start := d.i
		if err := d.skip(0); err != nil {
			return t, err
		}
		d.fieldErr("", "must be a JSON object", rawValue(d.b[start:d.i]))
		return t, nil
	}
	d.i++
	var seen int
	first := true
	for {
		d.ws()
		if d.i >= len(d.b) {
			return t, d.syntaxErr("unterminated object")
		}
		if d.b[d.i] == '}' && first {
			d.i++
			break
		}
		if d.b[d.i] != '"' {
			return t, d.syntaxErr("want a field name")
		}
		key, err := d.str()
		if err != nil {
			return t, err
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return t, d.syntaxErr("want : after field name")
		}
		d.i++
		d.ws()
		bit := 0
		switch string(key) {
		case "PULocationID":
			bit = seenPU
		case "DOLocationID":
			bit = seenDO
		case "passenger_count":
			bit = seenPax
		case "pickup_datetime":
			bit = seenPickup
		}
		switch {
		case bit == 0:
			if err := d.skip(0); err != nil {
				return t, err
			}
			d.fieldErr(string(key), "unknown field (allowed: PULocationID, DOLocationID, passenger_count, pickup_datetime)", nil)
		case seen&bit != 0:
			if err := d.skip(0); err != nil {
				return t, err
			}
			d.fieldErr(string(key), "field given more than once", nil)
		default:
			seen |= bit
			if err := d.field(bit, &t); err != nil {
				return t, err
			}
		}
		first = false
		d.ws()
		if d.i >= len(d.b) {
			return t, d.syntaxErr("unterminated object")
		}
		c := d.b[d.i]
		d.i++
		if c == '}' {
			break
		}
		if c != ',' {
			return t, d.syntaxErr("want , or } in object")
		}
	}
	if seen&seenPU == 0 {
		d.fieldErr("PULocationID", "field required", nil)
	}
	if seen&seenDO == 0 {
		d.fieldErr("DOLocationID", "field required", nil)
	}
	return t, nil
}

// field decodes the value of a known field into t.
func (d *decoder) field(bit int, t *trip.Trip) error {
	start := d.i
	switch bit {
	case seenPU, seenDO:
		name := "PULocationID"
		if bit == seenDO {
			name = "DOLocationID"
		}
		v, isNum, err := d.integer()
		if err != nil {
			return err
		}
		switch {
		case !isNum:
			d.fieldErr(name, fmt.Sprintf("must be an integer zone id from 1 to %d", trip.MaxZone), rawValue(d.b[start:d.i]))
		case v < 1 || v > trip.MaxZone:
			d.fieldErr(name, fmt.Sprintf("must be a zone id from 1 to %d", trip.MaxZone), v)
		case bit == seenPU:
			t.PULocationID = uint16(v)
		default:
			t.DOLocationID = uint16(v)
		}
	case seenPax:
		if d.literal("null") {
			return nil
		}
		v, isNum, err := d.integer()
		if err != nil {
			return err
		}
		switch {
		case !isNum:
			d.fieldErr("passenger_count", fmt.Sprintf("must be an integer from 0 to %d, or null", trip.MaxPassengers), rawValue(d.b[start:d.i]))
		case v < 0 || v > trip.MaxPassengers:
			d.fieldErr("passenger_count", fmt.Sprintf("must be from 0 to %d", trip.MaxPassengers), v)
		default:
			t.Passengers = int8(v)
		}
	case seenPickup:
		if d.literal("null") {
			return nil
		}
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			if err := d.skip(0); err != nil {
				return err
			}
			d.fieldErr("pickup_datetime", "must be an ISO 8601 date-time string (NYC local time), e.g. 2024-03-04T08:15:00, or null", rawValue(d.b[start:d.i]))
			return nil
		}
		s, err := d.str()
		if err != nil {
			return err
		}
		pt, ok := trip.ParseTime(s, d.ny)
		if !ok {
			d.fieldErr("pickup_datetime", "must be an ISO 8601 date-time, e.g. 2024-03-04T08:15:00 (NYC local time) or with an offset", string(s))
			return nil
		}
		t.Pickup = pt
	}
	return nil
}

// literal consumes lit if it is next.
func (d *decoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// integer reads any JSON value; isNum reports whether it was a number with
// an integral value (1 and 1.0 alike, as JSON Schema's integer), which is
// then returned (saturated far outside any valid range).
func (d *decoder) integer() (v int64, isNum bool, err error) {
	start := d.i
	if d.i < len(d.b) && (d.b[d.i] == '-' || (d.b[d.i] >= '0' && d.b[d.i] <= '9')) {
		if err := d.number(); err != nil {
			return 0, false, err
		}
		tok := d.b[start:d.i]
		// Fast path: plain digits.
		plain := len(tok) <= 18
		for _, c := range tok {
			if c < '0' || c > '9' {
				plain = false
				break
			}
		}
		if plain {
			for _, c := range tok {
				v = v*10 + int64(c-'0')
			}
			return v, true, nil
		}
		f, perr := strconv.ParseFloat(string(tok), 64)
		if perr != nil && !errors.Is(perr, strconv.ErrRange) {
			return 0, false, d.syntaxErr("bad number")
		}
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, false, nil
		}
		return int64(math.Max(-1e9, math.Min(1e9, f))), true, nil
	}
	return 0, false, d.skip(0)
}

// number consumes a JSON number.
func (d *decoder) number() error {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		d.i = i
		return d.syntaxErr("bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return d.syntaxErr("bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return d.syntaxErr("bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return nil
}

// str consumes a JSON string and returns its content, unescaped. Without
// escapes it is a slice of the input (no allocation).
func (d *decoder) str() ([]byte, error) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, nil
		case c == '\\':
			return d.strSlow(start)
		case c < 0x20:
			return nil, d.syntaxErr("control character in string")
		}
		d.i++
	}
	return nil, d.syntaxErr("unterminated string")
}

func (d *decoder) strSlow(start int) ([]byte, error) {
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return out, nil
		case c < 0x20:
			return nil, d.syntaxErr("control character in string")
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return nil, d.syntaxErr("unterminated string")
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return nil, d.syntaxErr("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					if lo, ok := d.hex4(); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						r2 = utf16.DecodeRune(r, lo)
					} else {
						d.i = save
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, d.syntaxErr("bad escape")
		}
	}
	return nil, d.syntaxErr("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// skip consumes any JSON value, checking its syntax.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return d.syntaxErr("nested too deeply")
	}
	if d.i >= len(d.b) {
		return d.syntaxErr("unexpected end of input")
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		if d.literal("true") {
			return nil
		}
	case c == 'f':
		if d.literal("false") {
			return nil
		}
	case c == 'n':
		if d.literal("null") {
			return nil
		}
	case c == '[' || c == '{':
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == closer {
			d.i++
			return nil
		}
		for {
			d.ws()
			if c == '{' {
				if d.i >= len(d.b) || d.b[d.i] != '"' {
					return d.syntaxErr("want a field name")
				}
				if _, err := d.str(); err != nil {
					return err
				}
				d.ws()
				if d.i >= len(d.b) || d.b[d.i] != ':' {
					return d.syntaxErr("want :")
				}
				d.i++
				d.ws()
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.syntaxErr("unterminated value")
			}
			n := d.b[d.i]
			d.i++
			if n == closer {
				return nil
			}
			if n != ',' {
				return d.syntaxErr("want , between values")
			}
		}
	}
	return d.syntaxErr("invalid value")
}

// rawValue is an offending JSON value as sent, for an error message;
// long values are cut.
func rawValue(b []byte) any {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}
