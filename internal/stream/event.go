package stream

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	_ "time/tzdata" // pickup times with a UTC offset are converted to New York time, on any machine
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
)

// MaxEventBytes is the largest trip-request event accepted; a larger one is
// dead-lettered unread.
const MaxEventBytes = 16 << 10

// MaxRideIDBytes is the longest ride_id string accepted.
const MaxRideIDBytes = 256

// maxDepth bounds nesting while skipping a value of the wrong type, so that
// a hostile event cannot exhaust the stack.
const maxDepth = 64

// Request is a decoded, validated trip-request event:
//
//	{"ride_id": "2024/03_17", "ride": {"PULocationID": 74, "DOLocationID": 75,
//	 "passenger_count": 1, "pickup_datetime": "2024-03-01 08:30:00"}}
type Request struct {
	RideID RideID
	Trip   trip.Trip
}

// RideID is the producer's identifier of a ride: a non-empty string or an
// integer. It is echoed in the estimate as it came (a string stays a string).
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
	return appendJSONString(b, r.text)
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
	nyc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return nil, fmt.Errorf("event decoder: load New York time zone: %w", err)
	}
	return &Decoder{nyc: nyc}, nil
}

// Decode parses one event. The rules, checked strictly so that a producer's
// mistake is reported rather than guessed at:
//
//   - the event is one JSON object, UTF-8, at most MaxEventBytes, with
//     exactly the fields ride_id and ride (no other, none twice);
//   - ride_id is a non-empty string of at most MaxRideIDBytes, or an integer
//     that fits in 64 bits;
//   - ride is an object with PULocationID and DOLocationID, integers in
//     1..265, and optionally passenger_count, an integer in 0..9, and
//     pickup_datetime, a string "YYYY-MM-DD HH:MM:SS" (or with a T, with
//     optional fractional seconds) in New York local time, or RFC 3339 with a
//     UTC offset; null or absent means unknown. No other field is allowed.
//
// Integers are written as integers: 74.0, 7.4e1 and "74" are rejected.
// A rejected event returns an *EventError.
func (d *Decoder) Decode(data []byte) (Request, error) {
	var req Request
	if len(data) > MaxEventBytes {
		return req, &EventError{Malformed: true, Reason: fmt.Sprintf("event is %d bytes, more than the %d allowed", len(data), MaxEventBytes)}
	}
	if !utf8.Valid(data) {
		return req, &EventError{Malformed: true, Reason: "event is not valid UTF-8"}
	}
	s := scanner{b: data}
	if err := s.object(func(key []byte) error {
		switch string(key) {
		case "ride_id":
			return d.rideID(&s, &req)
		case "ride":
			return d.ride(&s, &req)
		}
		return &EventError{Field: fieldName(key), Reason: "unknown field (want ride_id and ride)"}
	}, "", "ride_id", "ride"); err != nil {
		return Request{}, err
	}
	s.ws()
	if s.i != len(s.b) {
		return Request{}, s.malformed("", "unexpected data after the event's JSON object")
	}
	return req, nil
}

func (d *Decoder) rideID(s *scanner, req *Request) error {
	const field = "ride_id"
	switch s.peek() {
	case '"':
		v, err := s.str(field)
		if err != nil {
			return err
		}
		switch {
		case len(v) == 0:
			return &EventError{Field: field, Reason: "must not be empty"}
		case len(v) > MaxRideIDBytes:
			return &EventError{Field: field, Reason: fmt.Sprintf("is %d bytes long, more than the %d allowed", len(v), MaxRideIDBytes)}
		}
		req.RideID = RideID{text: string(v)}
		return nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		lit, isInt, err := s.number(field)
		if err != nil {
			return err
		}
		if !isInt {
			return &EventError{Field: field, Reason: fmt.Sprintf("want a string or an integer, got %s", lit)}
		}
		n, err := strconv.ParseInt(string(lit), 10, 64)
		if err != nil {
			return &EventError{Field: field, Reason: fmt.Sprintf("integer %s does not fit in 64 bits", lit)}
		}
		req.RideID = RideID{text: strconv.FormatInt(n, 10), number: true}
		return nil
	}
	return s.wrongType(field, "a string or an integer")
}

func (d *Decoder) ride(s *scanner, req *Request) error {
	if s.peek() != '{' {
		return s.wrongType("ride", "an object")
	}
	t := trip.Trip{Passengers: trip.NoPassengers}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "PULocationID":
			z, err := s.intIn("ride.PULocationID", 1, trip.MaxZone, false)
			t.PULocationID = uint16(z)
			return err
		case "DOLocationID":
			z, err := s.intIn("ride.DOLocationID", 1, trip.MaxZone, false)
			t.DOLocationID = uint16(z)
			return err
		case "passenger_count":
			n, err := s.intIn("ride.passenger_count", 0, trip.MaxPassengers, true)
			t.Passengers = int8(n)
			return err
		case "pickup_datetime":
			p, err := d.pickup(s)
			t.Pickup = p
			return err
		}
		return &EventError{Field: "ride." + fieldName(key), Reason: "unknown field (want PULocationID, DOLocationID, passenger_count, pickup_datetime)"}
	}, "ride.", "PULocationID", "DOLocationID")
	req.Trip = t
	return err
}

// pickup reads pickup_datetime: null, or a string in one of the accepted forms.
func (d *Decoder) pickup(s *scanner) (time.Time, error) {
	const field = "ride.pickup_datetime"
	if s.peek() == 'n' {
		return time.Time{}, s.null(field)
	}
	if s.peek() != '"' {
		return time.Time{}, s.wrongType(field, "a string or null")
	}
	v, err := s.str(field)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := d.parseTime(v)
	if !ok {
		return time.Time{}, &EventError{Field: field, Reason: fmt.Sprintf("%q is not a time like \"2024-03-01 08:30:00\" (New York local) or \"2024-03-01T13:30:00Z\"", truncate(v))}
	}
	return t, nil
}

func (d *Decoder) parseTime(v []byte) (time.Time, bool) {
	return trip.ParseTime(v, d.nyc)
}

// fieldName renders an unexpected key for an error message.
func fieldName(key []byte) string {
	return strconv.Quote(truncate(key))
}

func truncate(b []byte) string {
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

// scanner reads the JSON subset an event may hold. It validates as it goes:
// whatever it accepts, encoding/json accepts too.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) malformed(field, reason string) *EventError {
	return &EventError{Malformed: true, Field: field, Reason: fmt.Sprintf("%s (at byte %d)", reason, s.i)}
}

// object reads an object at s.i, calling member with s.i at each member's
// value, which member must consume. A key seen twice is an error, and so is a
// missing required key. path prefixes field names in errors.
func (s *scanner) object(member func(key []byte) error, path string, required ...string) error {
	s.ws()
	if s.peek() != '{' {
		if path == "" {
			return s.malformed("", "event is not a JSON object")
		}
		return s.wrongType(path[:len(path)-1], "an object")
	}
	s.i++
	var seen [8][]byte // keys alias the event (or an unescaped copy)
	n := 0
	for first := true; ; first = false {
		s.ws()
		if first && s.peek() == '}' {
			s.i++
			break
		}
		if s.peek() != '"' {
			return s.malformed(path, "want a field name in double quotes")
		}
		key, err := s.str(path)
		if err != nil {
			return err
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				return &EventError{Field: path + string(key), Reason: "field appears twice"}
			}
		}
		s.ws()
		if s.peek() != ':' {
			return s.malformed(path, "want ':' after a field name")
		}
		s.i++
		s.ws()
		if err := member(key); err != nil {
			return err
		}
		if n < len(seen) {
			seen[n] = key
			n++
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
			continue
		case '}':
			s.i++
		default:
			return s.malformed(path, "want ',' or '}' after a field")
		}
		break
	}
outer:
	for _, r := range required {
		for _, k := range seen[:n] {
			if string(k) == r {
				continue outer
			}
		}
		return &EventError{Field: path + r, Reason: "is required"}
	}
	return nil
}

// str reads a string at s.i and returns its decoded bytes, which alias the
// input when the string has no escapes.
func (s *scanner) str(field string) ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, nil
		case c == '\\':
			return s.strEscaped(field, start)
		case c < 0x20:
			return nil, s.malformed(field, "control character in a string")
		}
		s.i++
	}
	return nil, s.malformed(field, "unterminated string")
}

// strEscaped finishes a string that has escapes, from its start.
func (s *scanner) strEscaped(field string, start int) ([]byte, error) {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, s.malformed(field, "control character in a string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, s.malformed(field, "unterminated string")
		}
		e := s.b[s.i+1]
		s.i += 2
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
			r, ok := s.hex4()
			if !ok {
				return nil, s.malformed(field, `bad \u escape`)
			}
			if utf16IsSurrogate(r) {
				// A valid pair makes one rune; anything else is U+FFFD, as
				// encoding/json does.
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					var ok2 bool
					if r2, ok2 = s.hex4(); !ok2 {
						return nil, s.malformed(field, `bad \u escape`)
					}
					if dec := utf16DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						continue
					}
					s.i = save
				}
				out = utf8.AppendRune(out, utf8.RuneError)
				continue
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.malformed(field, "bad escape in a string")
		}
	}
	return nil, s.malformed(field, "unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

func utf16IsSurrogate(r rune) bool { return 0xd800 <= r && r < 0xe000 }

func utf16DecodeRune(r1, r2 rune) rune {
	if 0xd800 <= r1 && r1 < 0xdc00 && 0xdc00 <= r2 && r2 < 0xe000 {
		return (r1-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
	}
	return utf8.RuneError
}

// number reads a JSON number at s.i and returns its literal and whether it is
// written as an integer (no fraction, no exponent).
func (s *scanner) number(field string) (lit []byte, isInt bool, err error) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, false, s.malformed(field, "bad number")
	}
	isInt = true
	if s.peek() == '.' {
		isInt = false
		s.i++
		if !s.digits() {
			return nil, false, s.malformed(field, "bad number")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		isInt = false
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return nil, false, s.malformed(field, "bad number")
		}
	}
	return s.b[start:s.i], isInt, nil
}

// digits reads one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// intIn reads an integer in lo..hi; with nullable, null gives -1.
func (s *scanner) intIn(field string, lo, hi int64, nullable bool) (int64, error) {
	c := s.peek()
	if nullable && c == 'n' {
		return -1, s.null(field)
	}
	if c != '-' && (c < '0' || c > '9') {
		want := "an integer"
		if nullable {
			want = "an integer or null"
		}
		return 0, s.wrongType(field, want)
	}
	lit, isInt, err := s.number(field)
	if err != nil {
		return 0, err
	}
	if !isInt {
		return 0, &EventError{Field: field, Reason: fmt.Sprintf("want an integer, got %s", truncate(lit))}
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &EventError{Field: field, Reason: fmt.Sprintf("%s is out of range %d..%d", truncate(lit), lo, hi)}
	}
	return n, nil
}

// null reads the literal null.
func (s *scanner) null(field string) error {
	if !s.literal("null") {
		return s.malformed(field, "bad literal")
	}
	return nil
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// wrongType reports a value of the wrong JSON type at s.i. It reads the
// value first, so that a syntax error is reported as such.
func (s *scanner) wrongType(field, want string) error {
	kind, err := s.skip(field, 0)
	if err != nil {
		return err
	}
	return &EventError{Field: field, Reason: fmt.Sprintf("want %s, got %s", want, kind)}
}

// skip reads any JSON value and returns its kind.
func (s *scanner) skip(field string, depth int) (string, error) {
	if depth > maxDepth {
		return "", s.malformed(field, "nested too deeply")
	}
	s.ws()
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str(field)
		return "a string", err
	case c == '-' || ('0' <= c && c <= '9'):
		_, _, err := s.number(field)
		return "a number", err
	case c == 't' || c == 'f':
		if s.literal("true") || s.literal("false") {
			return "a boolean", nil
		}
	case c == 'n':
		if s.literal("null") {
			return "null", nil
		}
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return "an array", nil
		}
		for {
			if _, err := s.skip(field, depth+1); err != nil {
				return "", err
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				continue
			case ']':
				s.i++
				return "an array", nil
			}
			return "", s.malformed(field, "want ',' or ']' in an array")
		}
	case c == '{':
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return "an object", nil
		}
		for {
			s.ws()
			if s.peek() != '"' {
				return "", s.malformed(field, "want a field name in double quotes")
			}
			if _, err := s.str(field); err != nil {
				return "", err
			}
			s.ws()
			if s.peek() != ':' {
				return "", s.malformed(field, "want ':' after a field name")
			}
			s.i++
			if _, err := s.skip(field, depth+1); err != nil {
				return "", err
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				continue
			case '}':
				s.i++
				return "an object", nil
			}
			return "", s.malformed(field, "want ',' or '}' in an object")
		}
	case c == 0 && s.i >= len(s.b):
		return "", s.malformed(field, "unexpected end of event")
	}
	return "", s.malformed(field, "invalid JSON value")
}

// appendJSONString appends v as a JSON string. v is valid UTF-8.
func appendJSONString(b []byte, v string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, v[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, v[start:]...)
	return append(b, '"')
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
	b := append([]byte(`{"name":`), appendJSONString(nil, name)...)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, version)
	return append(b, '}')
}
