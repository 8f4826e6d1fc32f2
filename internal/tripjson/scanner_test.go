package tripjson

import (
	"errors"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`""`, ""},
		{`"plain"`, "plain"},
		{` "spaced" `, "spaced"},
		{`"q\"\\\/\b\f\n\r\t"`, "q\"\\/\b\f\n\r\t"},
		{`"\u00e9\u00E9"`, "éé"},
		{`"\ud83d\ude95"`, "🚕"},
		{`"\ud800x"`, "\uFFFDx"},            // lone high surrogate
		{`"\ude95\ud83d"`, "\uFFFD\uFFFD"},  // reversed pair
		{`"\ud800\u0041"`, "\uFFFDA"},       // high surrogate, then a plain escape
		{`"caf` + "\xc3\xa9" + `"`, "café"}, // UTF-8 as is
		{`"` + "\xff" + `"`, "\xff"},        // invalid UTF-8 as is (encoding/json makes it U+FFFD)
	}
	for _, tt := range tests {
		s := NewScanner([]byte(tt.in))
		got, err := s.Text()
		if err != nil || string(got) != tt.want {
			t.Errorf("Text(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err := s.End(); err != nil {
			t.Errorf("Text(%s) left data: %v", tt.in, err)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, in := range []string{"0", "-0", "7", "-12", "1.5", "1e9", "1E+2", "2.5e-3", "123456789012345678901234567890"} {
		s := NewScanner([]byte(in))
		if got, err := s.Number(); err != nil || string(got) != in {
			t.Errorf("Number(%s) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x1", "NaN"} {
		s := NewScanner([]byte(in))
		_, err := s.Number()
		if err == nil {
			err = s.End()
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Number(%q): err = %v; want a syntax error", in, err)
		}
	}
}

// Syntax errors say where, counting bytes from 1, and what was wrong.
func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{``, 1, "want a value"},
		{`   `, 4, "want a value"},
		{`{"a": }`, 7, "want a value"},
		{`{"a" 1}`, 6, "want ':' after a field name"},
		{`{"a": 1,}`, 9, "want a field name"},
		{`{"a": 1 "b": 2}`, 9, "want ',' or '}' after an object member"},
		{`[1 2]`, 4, "want ',' or ']' in an array"},
		{`[1,]`, 4, "want a value"},
		{`nul`, 1, "invalid literal"},
		{`tru`, 1, "invalid literal"},
		{`"ab`, 4, "unterminated string"},
		{`"a\`, 4, "unterminated string"},
		{"\"a\tb\"", 3, "control character in a string"},
		{`"a\x"`, 4, "invalid escape in a string"},
		{`"\u12"`, 4, `invalid \u escape`},
		{`-`, 2, "invalid number"},
		{`1.e5`, 3, "invalid number: want digits after '.'"},
		{`1e`, 3, "invalid number: want digits in the exponent"},
		{`{} {}`, 4, "data after the JSON value"},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), 66, "nested deeper than 64 levels"},
	}
	for _, tt := range tests {
		s := NewScanner([]byte(tt.in))
		_, err := s.Skip()
		if err == nil {
			err = s.End()
		}
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset != tt.offset || se.Msg != tt.msg {
			t.Errorf("%q: err = %#v; want %q at byte %d", tt.in, err, tt.msg, tt.offset)
			continue
		}
		if !strings.HasPrefix(se.Error(), "malformed JSON at byte ") {
			t.Errorf("%q: Error() = %q", tt.in, se.Error())
		}
	}
}

func TestSkip(t *testing.T) {
	in := ` {"a": [1, -2.5e3, "x\"y", true, false, null, {}, []], "b": {"c": {"d": null}}} `
	s := NewScanner([]byte(in))
	raw, err := s.Skip()
	if err != nil || string(raw) != strings.TrimSpace(in) {
		t.Fatalf("Skip = %q, %v", raw, err)
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
}

func TestMembersAndElements(t *testing.T) {
	s := NewScanner([]byte(`{"a": [1, 2], "b\u0021": {}, "c": []}`))
	var keys []string
	var elems int
	err := s.Members(func(key []byte) error {
		keys = append(keys, string(key))
		if string(key) == "a" {
			return s.Elements(func() error {
				elems++
				_, err := s.Number()
				return err
			})
		}
		_, err := s.Skip()
		return err
	})
	if err != nil || strings.Join(keys, ",") != "a,b!,c" || elems != 2 {
		t.Fatalf("keys %q, %d elements, err %v", keys, elems, err)
	}
	stop := errors.New("stop")
	s = NewScanner([]byte(`{"a": 1}`))
	if err := s.Members(func([]byte) error { return stop }); err != stop {
		t.Errorf("member's error: %v", err)
	}
	s = NewScanner([]byte(`[1]`))
	if err := s.Members(func([]byte) error { return nil }); err == nil {
		t.Error("Members read an array")
	}
	s = NewScanner([]byte(`{}`))
	if err := s.Elements(func() error { return nil }); err == nil {
		t.Error("Elements read an object")
	}
}

func TestNull(t *testing.T) {
	s := NewScanner([]byte(` null`))
	if !s.Null() || s.End() != nil {
		t.Error("null not read")
	}
	s = NewScanner([]byte(`nul`))
	if s.Null() {
		t.Error("nul read as null")
	}
}
