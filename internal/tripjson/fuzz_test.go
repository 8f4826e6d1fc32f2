package tripjson

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
)

// FuzzDecode checks Decode against encoding/json: it calls the input
// malformed exactly when encoding/json does; it finds no problem exactly
// when a reference built on encoding/json's tokenizer accepts the trip, and
// then decodes the same values; a caller that takes other members gets the
// same problems save UnknownField, and RideID, given each ride_id member,
// accepts and refuses what a reference built on encoding/json does, and
// reads the same id; it never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"PULocationID": 264, "DOLocationID": 264, "passenger_count": 1}`,
		`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04T08:15:00Z"}`,
		`{"PULocationID": 1e0, "DOLocationID": -0, "x": [1, {"y": "\u00e9"}]}`,
		`{"PULocationID": 74.0, "DOLocationID": 7.5e1, "passenger_count": 1e-400, "pickup_datetime": "2024-03-04 08:15"}`,
		`{"PULocationID": 1e400, "DOLocationID": 99999999999999999999, "passenger_count": 1.5}`,
		`{"P\u0055LocationID": 1, "DOLocationID": 2, "pickup_datetime": null, "passenger_count": null}`,
		`[{"PULocationID": 1}]`, `{"a":"\ud83d\ude00"}`, `nul`, `{"PULocationID": 1, "PULocationID": 2}`,
		`{"PULocationID": "1", "DOLocationID": [], "pickup_datetime": 3}`, `{} x`, "{\"a\":\"\xff\"}",
		`{"ride_id": "2024/03_17", "PULocationID": 1, "DOLocationID": 2}`,
		`{"ride_id": -0, "ride_id": 9223372036854775808, "ride_id": 17.0, "ride_id": 1e3, "ride_id": null}`,
		`{"ride_id": "", "ride_id": "\u00e9\ud800", "ride_id": true, "ride_id": [{"a": 1}], "ride_id": -9223372036854775808}`,
	} {
		f.Add([]byte(s))
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > 60 {
			return // our nesting limit is lower than encoding/json's
		}
		var problems []Problem
		s := NewScanner(b)
		got, err := Decode(&s, ny, func(p Problem) { problems = append(problems, p) }, nil)
		if err == nil {
			err = s.End()
		}
		valid := json.Valid(b)
		if (err == nil) != valid {
			t.Fatalf("%q: our syntax error %v; encoding/json valid=%v", b, err, valid)
		}
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("%q: error %T is not a *SyntaxError", b, err)
			}
			return
		}
		for _, p := range problems {
			named := p.Field != "" || p.Kind == UnknownField // a key may be ""
			if named == (p.Kind == NotObject) || p.Error() == "" {
				t.Fatalf("%q: problem %+v", b, p)
			}
		}
		want, ok := reference(b, ny)
		if (len(problems) == 0) != ok {
			t.Fatalf("%q: our problems %+v; reference ok=%v", b, problems, ok)
		}
		if ok && (got != want || !got.Pickup.Equal(want.Pickup)) {
			t.Fatalf("%q: decoded %+v; reference %+v", b, got, want)
		}

		// A caller that takes the other members sees the same trip and the
		// same problems, but for the unknown fields.
		var rest []Problem
		s = NewScanner(b)
		again, err := Decode(&s, ny, func(p Problem) { rest = append(rest, p) }, func([]byte) error {
			_, err := s.Skip()
			return err
		})
		if err == nil {
			err = s.End()
		}
		var known []Problem
		for _, p := range problems {
			if p.Kind != UnknownField {
				known = append(known, p)
			}
		}
		if err != nil || len(rest) != len(known) || (len(rest) == 0 && again != got) {
			t.Fatalf("%q: with other members: %+v, %v; want %+v", b, rest, err, known)
		}
		for i := range rest {
			if rest[i].Field != known[i].Field || rest[i].Kind != known[i].Kind || !bytes.Equal(rest[i].Value, known[i].Value) {
				t.Fatalf("%q: with other members: %+v; want %+v", b, rest, known)
			}
		}

		// Each ride_id member, read by RideID, as a batch line or an event
		// reads it.
		s = NewScanner(b)
		_, err = Decode(&s, ny, func(Problem) {}, func(key []byte) error {
			if string(key) != "ride_id" {
				_, err := s.Skip()
				return err
			}
			start := s.i
			var idProblems []Problem
			id, number, err := RideID(&s, func(p Problem) { idProblems = append(idProblems, p) })
			if err != nil {
				return err
			}
			raw := bytes.TrimSpace(s.b[start:s.i])
			if !utf8.Valid(raw) {
				return nil // encoding/json makes bad UTF-8 U+FFFD; every caller refuses it first
			}
			want, wantNumber, ok := referenceRideID(raw)
			switch {
			case len(idProblems) > 1 || (len(idProblems) == 1) == ok:
				t.Fatalf("%q: ride_id %s: problems %+v; reference ok=%v", b, raw, idProblems, ok)
			case len(idProblems) == 1:
				p := idProblems[0]
				if p.Field != "ride_id" || !bytes.Equal(p.Value, raw) || (p.Kind != WrongType && p.Kind != BadValue) ||
					!strings.HasPrefix(p.Error(), "ride_id must ") || !strings.Contains(p.Error(), ", got ") {
					t.Fatalf("%q: ride_id %s: problem %+v, %q", b, raw, p, p.Error())
				}
			case number != wantNumber || (id == nil) != (string(raw) == "null") || string(id) != want:
				t.Fatalf("%q: ride_id %s: %q, number %v; reference %q, number %v", b, raw, id, number, want, wantNumber)
			}
			return nil
		})
		if err == nil {
			err = s.End()
		}
		if err != nil {
			t.Fatalf("%q: reading ride ids: %v", b, err)
		}
	})
}

// referenceRideID applies RideID's rule to a valid JSON value with
// encoding/json and strconv: a string of 1 to MaxRideIDBytes bytes, an
// integer written without fraction or exponent that ParseInt takes (in
// its decimal form), or null (no id, "").
func referenceRideID(raw []byte) (id string, number, ok bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", false, false
	}
	switch v := v.(type) {
	case nil:
		return "", false, true
	case string:
		return v, false, len(v) > 0 && len(v) <= MaxRideIDBytes
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return "", false, false
		}
		n, err := strconv.ParseInt(v.String(), 10, 64)
		return strconv.FormatInt(n, 10), true, err == nil
	}
	return "", false, false
}

// reference decodes a valid JSON document by the web API's rules with
// encoding/json, and reports whether it is a valid trip.
func reference(b []byte, ny *time.Location) (trip.Trip, bool) {
	t := trip.Trip{Passengers: trip.NoPassengers}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return t, false
	}
	integer := func(v any, lo, hi float64) (int64, bool) {
		n, isNum := v.(json.Number)
		if !isNum {
			return 0, false
		}
		f, err := n.Float64()
		return int64(f), err == nil && f == math.Trunc(f) && f >= lo && f <= hi
	}
	seen := map[string]bool{}
	ok := true
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return t, false
		}
		key := tok.(string)
		var v any
		if err := d.Decode(&v); err != nil {
			return t, false
		}
		if seen[key] {
			ok = false
		}
		seen[key] = true
		switch key {
		case "PULocationID", "DOLocationID":
			z, isZone := integer(v, 1, trip.MaxZone)
			ok = ok && isZone
			if key == "PULocationID" {
				t.PULocationID = uint16(z)
			} else {
				t.DOLocationID = uint16(z)
			}
		case "passenger_count":
			if v != nil {
				n, isCount := integer(v, 0, trip.MaxPassengers)
				ok = ok && isCount
				t.Passengers = int8(n)
			}
		case "pickup_datetime":
			if v != nil {
				s, isStr := v.(string)
				var isTime bool
				t.Pickup, isTime = trip.ParseTime([]byte(s), ny)
				ok = ok && isStr && isTime
			}
		default:
			ok = false
		}
	}
	return t, ok && seen["PULocationID"] && seen["DOLocationID"]
}
