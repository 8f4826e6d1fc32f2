package tripjson

import (
	"slices"
	"unicode/utf8"
)

// AppendString appends s to b as a JSON string and returns the extended
// slice. The bytes are exactly those json.Marshal writes for s:
//
//   - " and \ are escaped with a backslash; \b \f \n \r \t take their short
//     forms, and the other control characters below U+0020 are \u00XX in
//     lowercase hex;
//   - < > & are \u003c \u003e \u0026 (encoding/json's HTML escaping), and
//     U+2028 and U+2029 are \u2028 and \u2029, so that the output may sit in
//     HTML or a JavaScript source as is;
//   - each byte that is not part of valid UTF-8 becomes \ufffd;
//   - everything else is copied unchanged.
//
// It is the one JSON string encoder of the project's hand-written writers
// (the web API's responses, the streaming estimate events, batch JSON Lines
// and rejects), so that they agree with each other and with encoding/json
// on every string, and stay as cheap as writing the bytes: it allocates
// nothing beyond growing b, and copies each run of bytes that need no
// escape with one append.
func AppendString(b []byte, s string) []byte { return appendString(b, s, &jsonEscaping) }

// AppendLogString appends s as log/slog's JSON handler writes a string: as
// AppendString does, but < > & are kept as they are and \b and \f are
// \u0008 and \u000c. internal/logging writes its request lines with it,
// byte for byte as slog would.
func AppendLogString(b []byte, s string) []byte { return appendString(b, s, &slogEscaping) }

// escaping is how one JSON writer escapes ASCII: which bytes it copies as
// they are, and whether \b and \f take their short forms.
type escaping struct {
	safe    [utf8.RuneSelf]bool
	shortBF bool
}

var (
	// jsonEscaping is encoding/json's: controls, " \ and < > & escaped.
	jsonEscaping = newEscaping(`"\<>&`, true)
	// slogEscaping is log/slog's: controls, " and \ escaped.
	slogEscaping = newEscaping(`"\`, false)
)

// newEscaping copies every ASCII byte from U+0020 on but those of escaped.
func newEscaping(escaped string, shortBF bool) escaping {
	e := escaping{shortBF: shortBF}
	for c := 0x20; c < utf8.RuneSelf; c++ {
		e.safe[c] = true
	}
	for _, c := range escaped {
		e.safe[c] = false
	}
	return e
}

func appendString(b []byte, s string, e *escaping) []byte {
	b = slices.Grow(b, len(s)+2)
	b = append(b, '"')
	start := 0 // s[start:i] is yet to be copied and needs no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if e.safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b', '\f':
				if !e.shortBF {
					b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				} else if c == '\b' {
					b = append(b, '\\', 'b')
				} else {
					b = append(b, '\\', 'f')
				}
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other controls, < > &
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
