package tripjson

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// est is New York's winter time, the zone the tests' pickup times with an
// offset are converted to. Decode hands the zone to trip.ParseTime, whose
// own tests cover New York's daylight saving time.
func est() *time.Location { return time.FixedZone("EST", -5*60*60) }

// decode decodes one trip document the way the web API does: no other
// members, nothing after the object.
func decode(b []byte, ny *time.Location) (trip.Trip, []Problem, error) {
	var problems []Problem
	s := NewScanner(b)
	t, err := Decode(&s, ny, func(p Problem) { problems = append(problems, p) }, nil)
	if err == nil {
		err = s.End()
	}
	return t, problems, err
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		in   string
		want trip.Trip
	}{
		{`{"PULocationID": 1, "DOLocationID": 265}`, trip.Trip{PULocationID: 1, DOLocationID: 265, Passengers: trip.NoPassengers}},
		{` {"DOLocationID":2,"PULocationID":3,"passenger_count":0} `, trip.Trip{PULocationID: 3, DOLocationID: 2, Passengers: 0}},
		// JSON Schema's integer: a number with an integral value.
		{`{"PULocationID": 74.0, "DOLocationID": 7.5e1, "passenger_count": 90e-1}`, trip.Trip{PULocationID: 74, DOLocationID: 75, Passengers: 9}},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": -0}`, trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: 0}},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": null, "pickup_datetime": null}`, trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: trip.NoPassengers}},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04 08:15:00"}`,
			trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: trip.NoPassengers, Pickup: time.Date(2024, 3, 4, 8, 15, 0, 0, time.UTC)}},
		// 13:15 UTC on 4 March 2024 is 08:15 in New York (EST).
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04T13:15:00Z"}`,
			trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: trip.NoPassengers, Pickup: time.Date(2024, 3, 4, 8, 15, 0, 0, time.UTC)}},
		{`{"P\u0055LocationID": 7, "DOLocationID": 2}`, trip.Trip{PULocationID: 7, DOLocationID: 2, Passengers: trip.NoPassengers}},
	}
	ny := est()
	for _, tt := range tests {
		got, problems, err := decode([]byte(tt.in), ny)
		if err != nil || len(problems) > 0 {
			t.Errorf("%s: problems %v, err %v", tt.in, problems, err)
			continue
		}
		if got != tt.want || !got.Pickup.Equal(tt.want.Pickup) {
			t.Errorf("%s: got %+v; want %+v", tt.in, got, tt.want)
		}
	}
}

// Every broken rule is reported, in the order found, with its field, its
// kind and the value; and its words name the field, the rule and the value.
func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		in   string
		want string // "field kind value" for each problem, then "|" and the first problem's Error()
	}{
		{`null`, ` NotObject null | must be a JSON object, got null`},
		{`[1, 2]`, ` NotObject [1, 2] | must be a JSON object, got an array`},
		{`{}`, `PULocationID MissingField ; DOLocationID MissingField | PULocationID is missing`},
		{`{"PULocationID": 1}`, `DOLocationID MissingField | DOLocationID is missing`},
		{`{"pulocationid": 1, "DOLocationID": 2}`, `pulocationid UnknownField ; PULocationID MissingField | pulocationid is an unknown field (allowed: PULocationID, DOLocationID, passenger_count, pickup_datetime)`},
		{`{"PULocationID": 1, "DOLocationID": 2, "PULocationID": 1}`, `PULocationID RepeatedField | PULocationID is given more than once`},
		{`{"PULocationID": "1", "DOLocationID": 2}`, `PULocationID WrongType "1" | PULocationID must be an integer zone id from 1 to 265, got a string`},
		{`{"PULocationID": 1.5, "DOLocationID": 2}`, `PULocationID WrongType 1.5 | PULocationID must be an integer zone id from 1 to 265, got 1.5`},
		{`{"PULocationID": 1, "DOLocationID": 2e-1}`, `DOLocationID WrongType 2e-1 | DOLocationID must be an integer zone id from 1 to 265, got 2e-1`},
		{`{"PULocationID": null, "DOLocationID": [2]}`, `PULocationID WrongType null ; DOLocationID WrongType [2] | PULocationID must be an integer zone id from 1 to 265, got null`},
		{`{"PULocationID": 0, "DOLocationID": 266}`, `PULocationID BadValue 0 ; DOLocationID BadValue 266 | PULocationID must be a zone id from 1 to 265, got 0`},
		{`{"PULocationID": -1, "DOLocationID": 1e400}`, `PULocationID BadValue -1 ; DOLocationID BadValue 1e400 | PULocationID must be a zone id from 1 to 265, got -1`},
		{`{"PULocationID": 1, "DOLocationID": 99999999999999999999}`, `DOLocationID BadValue 99999999999999999999 | DOLocationID must be a zone id from 1 to 265, got 99999999999999999999`},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": 10}`, `passenger_count BadValue 10 | passenger_count must be from 0 to 9, got 10`},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": true}`, `passenger_count WrongType true | passenger_count must be an integer from 0 to 9 or null, got a boolean`},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": 1700000000}`, `pickup_datetime WrongType 1700000000 | pickup_datetime must be an ISO 8601 date-time string or null, got 1700000000`},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2023-02-30T10:00:00"}`, `pickup_datetime BadValue "2023-02-30T10:00:00" | pickup_datetime must be an ISO 8601 date-time like 2024-03-04T08:15:00 (New York time) or with an offset like 2024-03-04T13:15:00Z, got "2023-02-30T10:00:00"`},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "y\u0065sterday"}`, `pickup_datetime BadValue "y\u0065sterday" | pickup_datetime must be an ISO 8601 date-time like 2024-03-04T08:15:00 (New York time) or with an offset like 2024-03-04T13:15:00Z, got "yesterday"`},
	}
	kinds := map[Kind]string{NotObject: "NotObject", UnknownField: "UnknownField", RepeatedField: "RepeatedField", MissingField: "MissingField", WrongType: "WrongType", BadValue: "BadValue"}
	ny := est()
	for _, tt := range tests {
		_, problems, err := decode([]byte(tt.in), ny)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		var parts []string
		for _, p := range problems {
			part := p.Field + " " + kinds[p.Kind]
			if p.Value != nil {
				part += " " + string(p.Value)
			}
			parts = append(parts, part)
			if p.Message() == "" {
				t.Errorf("%s: %+v has no words", tt.in, p)
			}
		}
		got := strings.Join(parts, " ; ")
		if len(problems) > 0 {
			got += " | " + problems[0].Error()
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

// Other members go to the caller's function, which reads them, and what it
// returns stops decoding.
func TestDecodeOther(t *testing.T) {
	ny := est()
	s := NewScanner([]byte(`{"ride_id": "r7", "PULocationID": 1, "x": [1, {"y": 2}], "DOLocationID": 2}`))
	var others []string
	var rideID string
	tr, err := Decode(&s, ny, func(p Problem) { t.Errorf("problem %v", p) }, func(key []byte) error {
		others = append(others, string(key))
		if string(key) == "ride_id" {
			v, err := s.Text()
			rideID = string(v)
			return err
		}
		_, err := s.Skip()
		return err
	})
	if err != nil || rideID != "r7" || fmt.Sprint(others) != "[ride_id x]" || tr.PULocationID != 1 || tr.DOLocationID != 2 {
		t.Fatalf("trip %+v, ride_id %q, others %v, err %v", tr, rideID, others, err)
	}
	stop := errors.New("stop")
	s = NewScanner([]byte(`{"x": 1}`))
	if _, err := Decode(&s, ny, func(Problem) {}, func([]byte) error { return stop }); err != stop {
		t.Errorf("other's error: %v", err)
	}
}

// Malformed JSON is a syntax error, even after a broken rule, and then no
// trip is meaningful.
func TestDecodeMalformed(t *testing.T) {
	ny := est()
	for _, in := range []string{
		``, `{`, `{"PULocationID": 1, "DOLocationID": 2,}`, `{"PULocationID": 01, "DOLocationID": 2}`,
		`{"PULocationID": 1 "DOLocationID": 2}`, `{"PULocationID": 1, "DOLocationID": 2}}`,
		`{"x": 1, "PULocationID": 1, "DOLocationID": 2`, `{"PULocationID": "a` + "\x01" + `", "DOLocationID": 2}`,
		`{"a": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": nul}`,
		`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04 08:15:00}`,
		`nul`, `[1,]`,
	} {
		_, _, err := decode([]byte(in), ny)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: err = %v; want a syntax error", in, err)
		}
	}
}

func TestNoOffsetsWithoutTimeZone(t *testing.T) {
	_, problems, err := decode([]byte(`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04T13:15:00Z"}`), nil)
	if err != nil || len(problems) != 1 || problems[0].Kind != BadValue {
		t.Errorf("problems %v, err %v; want the offset refused", problems, err)
	}
}

var benchTrip = []byte(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1, "pickup_datetime": "2024-03-04T08:15:00"}`)

func TestDecodeAllocatesNothing(t *testing.T) {
	ny := est()
	bad := []byte(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1.0, "x": [1, {"y": null}]}`)
	var n int
	report := func(Problem) { n++ }
	for _, b := range [][]byte{benchTrip, bad} {
		allocs := testing.AllocsPerRun(100, func() {
			s := NewScanner(b)
			_, _ = Decode(&s, ny, report, func([]byte) error { _, err := s.Skip(); return err })
			_ = s.End()
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations", b, allocs)
		}
	}
	if n != 0 {
		t.Errorf("%d problems", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	ny := est()
	report := func(p Problem) { b.Fatal(p) }
	b.ReportAllocs()
	b.SetBytes(int64(len(benchTrip)))
	for b.Loop() {
		s := NewScanner(benchTrip)
		if _, err := Decode(&s, ny, report, nil); err != nil {
			b.Fatal(err)
		}
	}
}
