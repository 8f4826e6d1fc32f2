// Package tripjson decodes the JSON a taxi trip arrives in (the web API's
// request body, the ride of a streaming event, a line of batch JSON Lines)
// with one small scanner and one set of field rules, so that the three
// inputs accept the same trips and a valid trip costs no allocation.
//
// # The trip rules
//
// This is the one statement of what a trip may say; the web API's OpenAPI
// schema, the streaming event and batch JSON Lines follow it, and their
// comments point here rather than restate it:
//
//   - PULocationID and DOLocationID are required TLC zone ids, integers
//     from 1 to trip.MaxZone (265; 264 and 265 are the TLC's "Unknown" and
//     "Outside of NYC"). An integer is a number with an integral value, as
//     in JSON Schema: 74, 74.0 and 7.4e1 alike; "74" and 74.5 are refused.
//   - passenger_count is an integer from 0 to trip.MaxPassengers (9), or
//     null or absent for unknown (trip.NoPassengers).
//   - pickup_datetime is a string "YYYY-MM-DD HH:MM[:SS[.fraction]]" (a T
//     instead of the space is fine) in New York local time, or the same
//     with a UTC offset (Z or ±hh:mm), converted to New York local time (see
//     trip.ParseTime); or null or absent for unknown.
//   - No field may be given twice. Whether other members are allowed is the
//     caller's choice (see Decode): the web API and streaming refuse them,
//     batch ignores them so that its own output can be scored again.
//   - The producer's ride_id, where an input has one, follows RideID.
//
// Malformed JSON is a *SyntaxError and stops decoding; a rule that
// well-formed JSON breaks is a Problem, and decoding goes on, so that a
// caller can report every problem, or the first, knowing the input was JSON.
package tripjson

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of the values Skip reads, so that hostile
// input cannot exhaust the stack.
const maxDepth = 64

// SyntaxError says that the input is not JSON, and where it stopped being
// JSON.
type SyntaxError struct {
	// Offset is the 1-based position of the byte that broke the syntax, or
	// the input's length plus one when the input ended too soon.
	Offset int
	// Msg says what was wrong or expected there.
	Msg string
}

// Error says where the syntax broke and how: "malformed JSON at byte 7:
// want a value".
func (e *SyntaxError) Error() string {
	return "malformed JSON at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Scanner reads JSON values from a byte slice, one at a time, checking the
// syntax as strictly as encoding/json does (save that it refuses values
// nested more than 64 deep). It allocates only to unescape a string that has
// escapes. Each reading method skips the white space before its value.
type Scanner struct {
	b []byte
	i int
}

// NewScanner returns a Scanner at the start of b. It is returned by value
// so that it can live on the caller's stack.
func NewScanner(b []byte) Scanner { return Scanner{b: b} }

func (s *Scanner) syntax(msg string) error { return &SyntaxError{Offset: s.i + 1, Msg: msg} }

func (s *Scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek skips white space and returns the next byte, which tells the type of
// the next value ('"', '{', '[', 't', 'n', a digit...), or 0 at the end of
// the input.
func (s *Scanner) Peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// End reports a syntax error unless only white space is left: one JSON
// document is one value.
func (s *Scanner) End() error {
	s.space()
	if s.i != len(s.b) {
		return s.syntax("data after the JSON value")
	}
	return nil
}

// Null reads the literal null if it is next, and reports whether it was.
func (s *Scanner) Null() bool {
	s.space()
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// Members reads an object, calling member for each member with the
// scanner at the member's value, which member must read. It stops at the
// first error, member's or a syntax error.
func (s *Scanner) Members(member func(key []byte) error) error {
	if s.Peek() != '{' {
		return s.syntax("want an object")
	}
	s.i++
	if s.Peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.Peek() != '"' {
			return s.syntax("want a field name")
		}
		key, err := s.Text()
		if err != nil {
			return err
		}
		if s.Peek() != ':' {
			return s.syntax("want ':' after a field name")
		}
		s.i++
		if err := member(key); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.syntax("want ',' or '}' after an object member")
		}
	}
}

// Elements reads an array, calling element with the scanner at each
// element, which element must read. It stops at the first error, element's
// or a syntax error.
func (s *Scanner) Elements(element func() error) error {
	if s.Peek() != '[' {
		return s.syntax("want an array")
	}
	s.i++
	if s.Peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := element(); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.syntax("want ',' or ']' in an array")
		}
	}
}

// Skip reads any value and returns it as written in the input.
func (s *Scanner) Skip() ([]byte, error) {
	s.space()
	start := s.i
	err := s.skip(0)
	return s.b[start:s.i], err
}

func (s *Scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.syntax("nested deeper than " + strconv.Itoa(maxDepth) + " levels")
	}
	switch c := s.Peek(); {
	case c == '"':
		_, err := s.Text()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.Number()
		return err
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return nil
			}
		}
		return s.syntax("invalid literal")
	case c == '[':
		return s.Elements(func() error { return s.skip(depth + 1) })
	case c == '{':
		return s.Members(func([]byte) error { return s.skip(depth + 1) })
	}
	return s.syntax("want a value")
}

// Number reads a number and returns it as written.
func (s *Scanner) Number() ([]byte, error) {
	s.space()
	b, start, i := s.b, s.i, s.i
	digits := func() bool {
		from := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > from
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		s.i = i
		return nil, s.syntax("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			s.i = i
			return nil, s.syntax("invalid number: want digits after '.'")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			s.i = i
			return nil, s.syntax("invalid number: want digits in the exponent")
		}
	}
	s.i = i
	return b[start:i], nil
}

// Text reads a string and returns its content, unescaped. Without escapes
// the content is a slice of the input, which costs no allocation; the
// caller must copy what it keeps. Invalid UTF-8 is returned as it is, where
// encoding/json would make each bad byte U+FFFD: a caller that keeps or
// echoes text checks it (streaming and batch refuse input that is not
// UTF-8).
func (s *Scanner) Text() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, s.syntax("want a string")
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, nil
		case c == '\\':
			return s.unescape(start)
		case c < 0x20:
			return nil, s.syntax("control character in a string")
		}
		s.i++
	}
	return nil, s.syntax("unterminated string")
}

// unescape finishes a string that has escapes, from its start. A lone or
// reversed UTF-16 surrogate becomes U+FFFD, as encoding/json makes it.
func (s *Scanner) unescape(start int) ([]byte, error) {
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
		if s.i+1 >= len(s.b) {
			s.i = len(s.b)
			break
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
				return nil, s.syntax(`invalid \u escape`)
			}
			if utf16.IsSurrogate(r) {
				pair := rune(utf8.RuneError)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if lo, ok := s.hex4(); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						pair = utf16.DecodeRune(r, lo)
					} else {
						s.i = save // the next escape stands on its own
					}
				}
				r = pair
			}
			out = utf8.AppendRune(out, r)
		default:
			s.i--
			return nil, s.syntax("invalid escape in a string")
		}
	}
	return nil, s.syntax("unterminated string")
}

// hex4 reads the four hex digits of a \u escape.
func (s *Scanner) hex4() (rune, bool) {
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
