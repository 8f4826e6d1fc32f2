package tripjson

import (
	"errors"
	"strings"
	"testing"
)

// rideID reads one ride_id value and what RideID made of it: the id and
// whether it is a number, or the problem's Error().
func rideID(t *testing.T, in string) (text string, number bool, problem string, err error) {
	t.Helper()
	s := NewScanner([]byte(in))
	var problems []Problem
	v, number, err := RideID(&s, func(p Problem) { problems = append(problems, p) })
	if err == nil {
		err = s.End()
	}
	switch {
	case len(problems) > 1:
		t.Fatalf("%s: %d problems %+v; want at most one", in, len(problems), problems)
	case len(problems) == 1:
		if v != nil || number {
			t.Errorf("%s: a refused id returned %q, number %v", in, v, number)
		}
		return "", false, problems[0].Error(), err
	}
	return string(v), number, "", err
}

func TestRideID(t *testing.T) {
	long := strings.Repeat("é", MaxRideIDBytes/2) // MaxRideIDBytes bytes, half as many runes
	tests := []struct {
		in      string
		want    string // the id, or "number:" and the id
		problem string // the problem's Error(), when refused
	}{
		{in: `"2024/03_17"`, want: "2024/03_17"},
		{in: ` "x" `, want: "x"},
		{in: `"q\"\\\/\u00e9\n"`, want: "q\"\\/é\n"},
		{in: `"` + long + `"`, want: long},
		{in: `"` + strings.Repeat(`\u0041`, MaxRideIDBytes) + `"`, want: strings.Repeat("A", MaxRideIDBytes)}, // counted unescaped
		{in: `17`, want: "number:17"},
		{in: `-17`, want: "number:-17"},
		{in: `0`, want: "number:0"},
		{in: `-0`, want: "number:0"}, // one integer, one id
		{in: `9223372036854775807`, want: "number:9223372036854775807"},
		{in: `-9223372036854775808`, want: "number:-9223372036854775808"},
		{in: `null`, want: ""}, // no id: the caller's rule decides

		{in: `""`, problem: `ride_id must not be empty, got ""`},
		{in: `"` + long + `x"`, problem: `ride_id must be at most 256 bytes long, got 257 bytes: "` + strings.Repeat("é", 32) + `…"`},
		{in: `17.5`, problem: "ride_id must be a string or an integer written without a fraction or exponent, got 17.5"},
		{in: `17.0`, problem: "ride_id must be a string or an integer written without a fraction or exponent, got 17.0"},
		{in: `1e3`, problem: "ride_id must be a string or an integer written without a fraction or exponent, got 1e3"},
		{in: `-1E+3`, problem: "ride_id must be a string or an integer written without a fraction or exponent, got -1E+3"},
		{in: `9223372036854775808`, problem: "ride_id must be an integer that fits in 64 bits, got 9223372036854775808"},
		{in: `-9223372036854775809`, problem: "ride_id must be an integer that fits in 64 bits, got -9223372036854775809"},
		{in: `18446744073709551616`, problem: "ride_id must be an integer that fits in 64 bits, got 18446744073709551616"},
		{in: `true`, problem: "ride_id must be a string or an integer, got a boolean"},
		{in: `{"a": [1, {"b": null}]}`, problem: "ride_id must be a string or an integer, got an object"},
		{in: `["x"]`, problem: "ride_id must be a string or an integer, got an array"},
	}
	for _, tt := range tests {
		text, number, problem, err := rideID(t, tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		got := text
		if number {
			got = "number:" + text
		}
		if got != tt.want || problem != tt.problem {
			t.Errorf("%s:\n got %q, problem %q\nwant %q, problem %q", tt.in, got, problem, tt.want, tt.problem)
		}
	}
}

// Malformed JSON in a ride_id is a syntax error, not a problem.
func TestRideIDMalformed(t *testing.T) {
	for _, in := range []string{``, `"abc`, `01`, `-`, `1.`, `nul`, `[1,]`, `"a` + "\x01" + `"`, `"\x"`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		s := NewScanner([]byte(in))
		_, _, err := RideID(&s, func(p Problem) { t.Errorf("%q: problem %v", in, p) })
		if err == nil {
			err = s.End()
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: err = %v; want a syntax error", in, err)
		}
	}
}

// A valid id without escapes, string or integer, and a refused one cost no
// allocation.
func TestRideIDAllocatesNothing(t *testing.T) {
	var n int
	report := func(Problem) { n++ }
	for _, in := range []string{`"2024/03_123456"`, `123456`, `-0`, `17.5`, `""`, `{"a": [1]}`} {
		b := []byte(in)
		allocs := testing.AllocsPerRun(100, func() {
			s := NewScanner(b)
			_, _, _ = RideID(&s, report)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations", in, allocs)
		}
	}
	if n == 0 {
		t.Error("no problem reported for the refused ids")
	}
}
