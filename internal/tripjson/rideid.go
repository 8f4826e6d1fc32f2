package tripjson

import (
	"fmt"
	"strconv"
)

// fieldRideID is the name of the producer's ride identifier in batch JSON
// Lines and streaming events.
const fieldRideID = "ride_id"

// MaxRideIDBytes is the longest ride id string accepted, counted in bytes
// of its content (after unescaping).
const MaxRideIDBytes = 256

// RideID reads the ride_id value at s: the producer's identifier of a ride,
// which batch scoring and streaming echo in each estimate so that the
// producer can match estimates to its trips. It is the one rule for ride
// ids in every input:
//
//   - a string whose content is 1 to MaxRideIDBytes bytes: enough for a
//     UUID, a ULID, the course's "YYYY/MM_index" or a composite key, but
//     not for a document passed off as an id, which would be copied into
//     every estimate, dead letter and output row;
//   - or an integer written as one (17, not 17.0, 1.7e1 or 17.5) that fits
//     in 64 bits, the range the databases and languages producers use hold
//     exactly. A number with a fraction or an exponent is refused rather
//     than guessed at: 1e3 and 1000 are one number but two spellings, and
//     17.5 is more likely a mistaken field than an id. The integer is kept
//     as written, which for JSON's integer grammar is its decimal form, save
//     -0, which is 0: one integer is one id;
//   - null, like an absent ride_id, is no id. Whether an id is required is
//     the input's rule, not the id's: batch gives a line without one its
//     line number, streaming refuses an event without one, since its
//     estimate could not be matched to anything.
//
// RideID returns the id as text (the string's content, or the integer in
// decimal) and whether it is an integer. The text is a slice of the input,
// or of a copy for a string with escapes; the caller copies what it keeps.
// A value that breaks the rule is read, passed to report as a ride_id
// Problem, and nil text returned; null returns nil text and reports
// nothing. The error, which stops decoding, is a *SyntaxError.
//
// Like the rest of the package, it does not allocate unless the string has
// escapes, nor does the text's validity as UTF-8 concern it: the callers
// refuse input that is not UTF-8 as a whole.
func RideID(s *Scanner, report func(Problem)) (text []byte, number bool, err error) {
	switch c := s.Peek(); {
	case c == 'n' && s.Null():
		return nil, false, nil
	case c == '"':
		start := s.i
		v, err := s.Text()
		if err != nil {
			return nil, false, err
		}
		if len(v) == 0 || len(v) > MaxRideIDBytes {
			report(Problem{Field: fieldRideID, Kind: BadValue, Value: s.b[start:s.i]})
			return nil, false, nil
		}
		return v, false, nil
	case c == '-' || (c >= '0' && c <= '9'):
		lit, err := s.Number()
		if err != nil {
			return nil, false, err
		}
		switch {
		case !plainInteger(lit):
			report(Problem{Field: fieldRideID, Kind: WrongType, Value: lit})
			return nil, false, nil
		case !fitsInt64(lit):
			report(Problem{Field: fieldRideID, Kind: BadValue, Value: lit})
			return nil, false, nil
		case string(lit) == "-0":
			return lit[1:], true, nil
		}
		return lit, true, nil
	}
	raw, err := s.Skip()
	if err == nil {
		report(Problem{Field: fieldRideID, Kind: WrongType, Value: raw})
	}
	return nil, false, err
}

// rideIDMessage is Problem.Message for a ride_id value of the wrong type
// (WrongType) or refused (BadValue).
func rideIDMessage(p Problem) string {
	number := len(p.Value) > 0 && (p.Value[0] == '-' || (p.Value[0] >= '0' && p.Value[0] <= '9'))
	switch {
	case p.Kind == WrongType && number:
		return "must be a string or an integer written without a fraction or exponent, got " + Shorten(p.Value)
	case p.Kind == WrongType:
		return "must be a string or an integer, got " + Describe(p.Value)
	case number:
		return "must be an integer that fits in 64 bits, got " + Shorten(p.Value)
	}
	s := NewScanner(p.Value)
	v, _ := s.Text()
	if len(v) == 0 {
		return `must not be empty, got ""`
	}
	return fmt.Sprintf("must be at most %d bytes long, got %d bytes: %s", MaxRideIDBytes, len(v), strconv.Quote(Shorten(v)))
}

// plainInteger reports whether a JSON number literal is written as an
// integer: an optional minus and digits, no fraction, no exponent.
func plainInteger(lit []byte) bool {
	for _, c := range lit {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// fitsInt64 reports whether a plain JSON integer literal (no leading zeros,
// by JSON's grammar) is within int64.
func fitsInt64(lit []byte) bool {
	limit := "9223372036854775807"
	digits := lit
	if len(digits) > 0 && digits[0] == '-' {
		digits, limit = digits[1:], "9223372036854775808"
	}
	return len(digits) < len(limit) || (len(digits) == len(limit) && string(digits) <= limit)
}
