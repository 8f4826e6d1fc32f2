package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"
	_ "time/tzdata" // pickup times with a UTC offset are converted to NYC local time
	"unicode/utf16"
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
)

// MaxLineBytes is the longest JSON Lines line read; a longer line is
// rejected as a whole.
const MaxLineBytes = 1 << 20

// maxRideIDBytes is the longest ride_id accepted.
const maxRideIDBytes = 1024

// maxDepth bounds the nesting of values skipped in unknown fields.
const maxDepth = 64

// jsonlSource reads JSON Lines: one trip object per line.
type jsonlSource struct {
	label    string
	rc       io.ReadCloser
	size     int64
	consumed atomic.Int64
	dec      lineDecoder
}

func newJSONLSource(name string, rc io.ReadCloser, size int64) *jsonlSource {
	return &jsonlSource{label: name, rc: rc, size: size, dec: newLineDecoder()}
}

func (s *jsonlSource) name() string            { return s.label }
func (s *jsonlSource) durations() bool         { return false }
func (s *jsonlSource) ids() rideIDs            { return rideIDs{} }
func (s *jsonlSource) where(r *tripRow) string { return fmt.Sprintf("line %d", r.Line) }

func (s *jsonlSource) fraction() float64 {
	if s.size <= 0 {
		return -1
	}
	return math.Min(1, float64(s.consumed.Load())/float64(s.size))
}

func (s *jsonlSource) read(ctx context.Context, fn chunkFunc) error {
	defer s.rc.Close()
	br := bufio.NewReaderSize(countingReader{s.rc, &s.consumed}, 64<<10)
	rows := make([]tripRow, 0, chunkRows)
	var long []byte // a line longer than the reader's buffer
	for line := int64(1); ; line++ {
		b, err := br.ReadSlice('\n')
		tooLong := false
		for err == bufio.ErrBufferFull {
			if len(long)+len(b) <= MaxLineBytes {
				long = append(long, b...)
			} else {
				tooLong = true
			}
			b, err = br.ReadSlice('\n')
		}
		if long != nil {
			if len(long)+len(b) <= MaxLineBytes && !tooLong {
				b = append(long, b...)
			} else {
				tooLong = true
			}
			long = long[:0:0]
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: line %d: %w", s.label, line, err)
		}
		if len(bytes.TrimSpace(b)) > 0 || tooLong {
			r := tripRow{Index: line - 1, Line: line}
			if tooLong {
				r.Problem = fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)
				r.Input = []byte(`"(too long to show)"`)
			} else {
				s.dec.decode(b, &r)
			}
			rows = append(rows, r)
		}
		if len(rows) == chunkRows || (err == io.EOF && len(rows) > 0) {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			var ferr error
			if rows, ferr = fn(rows); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// lineDecoder decodes one JSON Lines trip:
//
//	{"ride_id": "2021/01_7", "PULocationID": 43, "DOLocationID": 151,
//	 "passenger_count": 1, "pickup_datetime": "2021-01-01 00:15:56"}
//
// PULocationID and DOLocationID are required integers (132 and 132.0
// alike); passenger_count is an integer 0..9, null or absent (unknown);
// pickup_datetime is "YYYY-MM-DD HH:MM:SS" (or with a T, optionally with
// fractional seconds) in New York local time, or RFC 3339 with a UTC offset,
// null or absent; ride_id is a string or a number, and defaults to the line
// number. Other fields are ignored; a field given twice is an error.
type lineDecoder struct {
	nyc *time.Location // nil when the zone database is unavailable
}

func newLineDecoder() lineDecoder {
	nyc, err := time.LoadLocation("America/New_York")
	if err != nil {
		nyc = nil
	}
	return lineDecoder{nyc: nyc}
}

// decode fills r from line, or sets r.Problem and r.Input.
func (d lineDecoder) decode(line []byte, r *tripRow) {
	r.PickupMicros, r.DropoffMicros = noTime, noTime
	r.Passengers = math.NaN()
	if err := d.decodeObject(line, r); err != nil {
		r.Problem = err.Error()
	}
	if r.RideID == "" {
		r.RideID = strconv.FormatInt(r.Line, 10)
	}
	// The line as read, for the rejects file: scoring may still reject a
	// well-formed line (a zone id outside 1..265).
	line = bytes.TrimSpace(line)
	if r.Problem == "" || json.Valid(line) {
		r.Input = bytes.Clone(line)
	} else {
		r.Input, _ = json.Marshal(string(line))
	}
}

// errNotObject rejects a line that is not a JSON object (malformed or not).
var errNotObject = errors.New(`not a JSON object (want {"PULocationID": 43, "DOLocationID": 151, ...})`)

// fieldError is a field whose value is unusable; decoding goes on to check
// the rest of the line is JSON.
type fieldError struct{ msg string }

func (d lineDecoder) decodeObject(line []byte, r *tripRow) error {
	if !utf8.Valid(line) {
		return errors.New("malformed JSON: not valid UTF-8")
	}
	s := scanner{b: line}
	var (
		seen  [5]bool
		first string // the first field problem
	)
	fieldProblem := func(format string, args ...any) {
		if first == "" {
			first = fmt.Sprintf(format, args...)
		}
	}
	s.ws()
	if !s.consume('{') {
		return errNotObject
	}
	s.ws()
	if !s.consume('}') {
		for {
			s.ws()
			key, err := s.str()
			if err != nil {
				return err
			}
			s.ws()
			if !s.consume(':') {
				return s.syntax("want ':' after a key")
			}
			s.ws()
			slot := -1
			switch string(key) {
			case "ride_id":
				slot = 0
			case "PULocationID":
				slot = 1
			case "DOLocationID":
				slot = 2
			case "passenger_count":
				slot = 3
			case "pickup_datetime":
				slot = 4
			}
			if slot >= 0 {
				if seen[slot] {
					fieldProblem("%s is given twice", key)
				}
				seen[slot] = true
			}
			var ferr *fieldError
			switch slot {
			case -1:
				err = s.skip(0)
			case 0:
				ferr, err = d.rideID(&s, r)
			case 1:
				ferr, err = zone(&s, "PULocationID", &r.PULocationID)
			case 2:
				ferr, err = zone(&s, "DOLocationID", &r.DOLocationID)
			case 3:
				ferr, err = passengers(&s, &r.Passengers)
			case 4:
				ferr, err = d.pickup(&s, &r.PickupMicros)
			}
			if err != nil {
				return err
			}
			if ferr != nil {
				fieldProblem("%s", ferr.msg)
			}
			s.ws()
			if s.consume('}') {
				break
			}
			if !s.consume(',') {
				return s.syntax("want ',' or '}' after a value")
			}
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.syntax("unexpected data after the object")
	}
	switch {
	case first != "":
		return errors.New(first)
	case !seen[1]:
		return errors.New("PULocationID is missing")
	case !seen[2]:
		return errors.New("DOLocationID is missing")
	}
	return nil
}

func (d lineDecoder) rideID(s *scanner, r *tripRow) (*fieldError, error) {
	switch s.peek() {
	case 'n':
		return nil, s.null()
	case '"':
		v, err := s.str()
		if err != nil {
			return nil, err
		}
		switch {
		case len(v) == 0:
			return &fieldError{"ride_id is empty"}, nil
		case len(v) > maxRideIDBytes:
			return &fieldError{fmt.Sprintf("ride_id is longer than %d bytes", maxRideIDBytes)}, nil
		}
		r.RideID = string(v)
		return nil, nil
	}
	if isNumberStart(s.peek()) {
		tok, err := s.number()
		if err != nil {
			return nil, err
		}
		r.RideID = string(tok)
		return nil, nil
	}
	if err := s.skip(0); err != nil {
		return nil, err
	}
	return &fieldError{"ride_id must be a string or a number"}, nil
}

// zone reads a zone id: an integer. Whether it names a zone is checked when
// scoring, as for every input format.
func zone(s *scanner, name string, dst *int64) (*fieldError, error) {
	if s.peek() == 'n' {
		if err := s.null(); err != nil {
			return nil, err
		}
		return &fieldError{fmt.Sprintf("%s is null (want a zone id 1..%d)", name, trip.MaxZone)}, nil
	}
	v, ok, err := integer(s)
	if err != nil {
		return nil, err
	}
	if !ok || v < math.MinInt32 || v > math.MaxInt32 {
		return &fieldError{fmt.Sprintf("%s must be an integer zone id 1..%d", name, trip.MaxZone)}, nil
	}
	*dst = int64(v)
	return nil, nil
}

func passengers(s *scanner, dst *float64) (*fieldError, error) {
	if s.peek() == 'n' {
		return nil, s.null()
	}
	v, ok, err := integer(s)
	if err != nil {
		return nil, err
	}
	if !ok || v < 0 || v > trip.MaxPassengers {
		return &fieldError{fmt.Sprintf("passenger_count must be an integer 0..%d, or null when unknown", trip.MaxPassengers)}, nil
	}
	*dst = v
	return nil, nil
}

// integer reads any JSON value; ok reports whether it was a number with an
// integral value (132 and 132.0 alike).
func integer(s *scanner) (v float64, ok bool, err error) {
	if !isNumberStart(s.peek()) {
		return 0, false, s.skip(0)
	}
	tok, err := s.number()
	if err != nil {
		return 0, false, err
	}
	f, perr := strconv.ParseFloat(string(tok), 64)
	if perr != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
		return 0, false, nil
	}
	return f, true, nil
}

func (d lineDecoder) pickup(s *scanner, dst *int64) (*fieldError, error) {
	if s.peek() == 'n' {
		return nil, s.null()
	}
	if s.peek() != '"' {
		if err := s.skip(0); err != nil {
			return nil, err
		}
		return &fieldError{`pickup_datetime must be a string like "2021-01-01 00:15:56" (New York local time), or null`}, nil
	}
	v, err := s.str()
	if err != nil {
		return nil, err
	}
	micros, ok := d.parseTime(v)
	if !ok {
		return &fieldError{fmt.Sprintf(`pickup_datetime %q is not a time like "2021-01-01 00:15:56" (New York local) or "2021-01-01T05:15:56Z"`, truncate(v))}, nil
	}
	*dst = micros
	return nil, nil
}

// parseTime reads a local time, or a time with an offset converted to New
// York local time, as wall-clock microseconds.
func (d lineDecoder) parseTime(v []byte) (int64, bool) {
	t, ok := trip.ParseTime(v, d.nyc)
	return t.UnixMicro(), ok
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

// scanner reads JSON tokens from one line.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) syntax(msg string) error {
	return fmt.Errorf("malformed JSON at byte %d: %s", s.i+1, msg)
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

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return nil
	}
	return s.syntax("invalid literal")
}

func (s *scanner) null() error { return s.literal("null") }

func isNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

// number consumes a JSON number and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.i
	s.consume('-')
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	switch {
	case s.consume('0'):
	case digits() == 0:
		return nil, s.syntax("invalid number")
	}
	if s.consume('.') && digits() == 0 {
		return nil, s.syntax("invalid number: want digits after '.'")
	}
	if s.consume('e') || s.consume('E') {
		if !s.consume('+') {
			s.consume('-')
		}
		if digits() == 0 {
			return nil, s.syntax("invalid number: want digits in the exponent")
		}
	}
	return s.b[start:s.i], nil
}

// str consumes a JSON string and returns its value, unescaped. Without
// escapes the result aliases the line.
func (s *scanner) str() ([]byte, error) {
	if !s.consume('"') {
		return nil, s.syntax("want a string")
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, nil
		case c == '\\':
			return s.strEscaped(start)
		case c < 0x20:
			return nil, s.syntax("control character in a string")
		}
		s.i++
	}
	return nil, s.syntax("unterminated string")
}

func (s *scanner) strEscaped(start int) ([]byte, error) {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, s.syntax("control character in a string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		s.i++
		if s.i >= len(s.b) {
			break
		}
		e := s.b[s.i]
		s.i++
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
				return nil, s.syntax("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one character;
				// anything else is replaced, as encoding/json does.
				save := s.i
				if s.consume('\\') && s.consume('u') {
					if r2, ok := s.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							out = utf8.AppendRune(out, d)
							continue
						}
					}
				}
				s.i = save
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.syntax("invalid escape in a string")
		}
	}
	return nil, s.syntax("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// skip consumes any JSON value.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.syntax(fmt.Sprintf("nested deeper than %d levels", maxDepth))
	}
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == 'n':
		return s.literal("null")
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case isNumberStart(c):
		_, err := s.number()
		return err
	case c == '[':
		s.i++
		s.ws()
		if s.consume(']') {
			return nil
		}
		for {
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.consume(']') {
				return nil
			}
			if !s.consume(',') {
				return s.syntax("want ',' or ']' in an array")
			}
		}
	case c == '{':
		s.i++
		s.ws()
		if s.consume('}') {
			return nil
		}
		for {
			s.ws()
			if _, err := s.str(); err != nil {
				return err
			}
			s.ws()
			if !s.consume(':') {
				return s.syntax("want ':' after a key")
			}
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.consume('}') {
				return nil
			}
			if !s.consume(',') {
				return s.syntax("want ',' or '}' in an object")
			}
		}
	}
	return s.syntax("want a value")
}
