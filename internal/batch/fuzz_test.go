package batch

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/tripjson"
)

// FuzzDecodeLine checks the JSON Lines decoder against encoding/json: it
// never panics; a line it accepts is valid JSON and means what
// encoding/json reads in it (an integer zone id outside 1..265 included,
// which scoring rejects); a line it calls malformed is not valid JSON (save
// the nesting limit and invalid UTF-8, which it refuses on purpose).
func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"ride_id": "2021/01_7", "PULocationID": 43, "DOLocationID": 151, "passenger_count": 1, "pickup_datetime": "2021-01-01 00:15:56"}`,
		`{"PULocationID": 43.0, "DOLocationID": 1e2, "passenger_count": null}`,
		`{"ride_id": 17, "PULocationID": -0, "DOLocationID": 151, "x": [1, {"y": [true, false, null]}]}`,
		`{"ride_id": "\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t", "PULocation\u0049D": 1, "DOLocationID": 2}`,
		`{"ride_id": "\ud800", "PULocationID": 1, "DOLocationID": 2}`,
		`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-10T07:30:00Z"}`,
		`{"PULocationID": 1, "PULocationID": 2, "DOLocationID": 2}`,
		`{"PULocationID": "1", "DOLocationID": 2}`,
		`{"PULocationID": 1, "DOLocationID": 2,}`,
		`{"PULocationID": 01, "DOLocationID": 2}`,
		`{"PULocationID": 1.5e400, "DOLocationID": 2}`,
		`{"PULocationID": 300, "DOLocationID": 0, "passenger_count": 9.0}`,
		`{"PULocationID": 3e2, "DOLocationID": -7, "passenger_count": 10}`,
		`{"PULocationID": 300.0, "DOLocationID": 1e-400, "passenger_count": -0}`,
		`{"ride_id": 1, "ride_id": 2, "PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "yesterday"}`,
		`{"ride_id": 17.5, "PULocationID": 1, "DOLocationID": 2}`,
		`{"ride_id": 9223372036854775808, "PULocationID": 1, "DOLocationID": 2}`,
		`{"ride_id": "", "PULocationID": 1, "DOLocationID": 2}`,
		`{"ride_id": null, "PULocationID": 1, "DOLocationID": 2}`,
		` {} `, `[]`, `null`, `{"a":`, `{"a" 1}`, "{\"ride_id\": \"\x01\"}", "\xff",
		strings.Repeat("[", 100),
	} {
		f.Add([]byte(s))
	}
	dec, err := newLineDecoder()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r := tripRow{Line: 3}
		dec.decode(line, &r)
		if !json.Valid(r.Input) {
			t.Fatalf("rejects input %q is not JSON", r.Input)
		}
		valid := json.Valid(line)
		if r.Problem == errNotObject.Error() {
			var m map[string]json.RawMessage
			if json.Unmarshal(line, &m) == nil && m != nil {
				t.Fatalf("%q: called not an object, but encoding/json reads one", line)
			}
			return
		}
		if strings.HasPrefix(r.Problem, "malformed JSON") {
			if valid && utf8.Valid(line) && !strings.Contains(r.Problem, "nested deeper") {
				t.Fatalf("%q: called malformed (%s) but encoding/json reads it", line, r.Problem)
			}
			return
		}
		if !valid {
			t.Fatalf("%q: not JSON, yet decoded (problem %q)", line, r.Problem)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			if r.Problem == "" {
				t.Fatalf("%q: accepted, but encoding/json: %v", line, err)
			}
			return // not an object: the decoder says so too
		}
		if r.Problem != "" {
			return
		}
		number := func(key string) (float64, bool) {
			raw, ok := m[key]
			if !ok || string(raw) == "null" {
				return 0, false
			}
			var v float64
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("%q: %s accepted, but encoding/json: %v", line, key, err)
			}
			return v, true
		}
		if v, _ := number("PULocationID"); v != float64(r.PULocationID) {
			t.Fatalf("%q: PULocationID %d; encoding/json reads %v", line, r.PULocationID, v)
		}
		if v, _ := number("DOLocationID"); v != float64(r.DOLocationID) {
			t.Fatalf("%q: DOLocationID %d; encoding/json reads %v", line, r.DOLocationID, v)
		}
		if v, ok := number("passenger_count"); ok != !math.IsNaN(r.Passengers) || (ok && v != r.Passengers) {
			t.Fatalf("%q: passenger_count %v; encoding/json reads %v", line, r.Passengers, v)
		}
		switch raw := m["ride_id"]; {
		case raw == nil || string(raw) == "null":
			if r.RideID != "3" {
				t.Fatalf("%q: ride_id %q; want the line number", line, r.RideID)
			}
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil || s != r.RideID || s == "" || len(s) > tripjson.MaxRideIDBytes {
				t.Fatalf("%q: ride_id %q; encoding/json reads %q (%v)", line, r.RideID, s, err)
			}
		default: // an integer written as one, within 64 bits, in decimal
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != r.RideID {
				t.Fatalf("%q: ride_id %q; want %s as a 64-bit integer (%v)", line, r.RideID, raw, err)
			}
		}
		if !bytes.Equal(r.Input, bytes.TrimSpace(line)) {
			t.Fatalf("%q: kept input %q", line, r.Input)
		}
	})
}
