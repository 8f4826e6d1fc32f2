package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

func newTestDecoder(t testing.TB) *Decoder {
	t.Helper()
	d, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Pickup times carry the New York wall clock in UTC, as every trip time does.
func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		rideJSON string
		want     trip.Trip
	}{
		{"minimal", `{"ride_id":"2024/03_1","ride":{"PULocationID":74,"DOLocationID":75}}`,
			`"2024/03_1"`, trip.Trip{PULocationID: 74, DOLocationID: 75, Passengers: trip.NoPassengers}},
		{"integer id and passengers", `{"ride_id":123,"ride":{"PULocationID":1,"DOLocationID":265,"passenger_count":0}}`,
			`123`, trip.Trip{PULocationID: 1, DOLocationID: 265, Passengers: 0}},
		{"negative zero id is 0", `{"ride_id":-0,"ride":{"PULocationID":1,"DOLocationID":2}}`,
			`0`, trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: trip.NoPassengers}},
		{"fields in any order, whitespace", " {\n\t\"ride\" : { \"DOLocationID\" : 9 , \"passenger_count\" : 9 , \"PULocationID\" : 8 } ,\r\n \"ride_id\" : \"x\" } \n",
			`"x"`, trip.Trip{PULocationID: 8, DOLocationID: 9, Passengers: 9}},
		{"nulls are unknown", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"passenger_count":null,"pickup_datetime":null}}`,
			`"a"`, trip.Trip{PULocationID: 3, DOLocationID: 4, Passengers: trip.NoPassengers}},
		{"local pickup time", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"pickup_datetime":"2024-03-01 08:30:00"}}`,
			`"a"`, trip.Trip{PULocationID: 3, DOLocationID: 4, Passengers: trip.NoPassengers, Pickup: time.Date(2024, 3, 1, 8, 30, 0, 0, time.UTC)}},
		{"local pickup time with T and fraction", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"pickup_datetime":"2024-03-01T08:30:00.250"}}`,
			`"a"`, trip.Trip{PULocationID: 3, DOLocationID: 4, Passengers: trip.NoPassengers, Pickup: time.Date(2024, 3, 1, 8, 30, 0, 250e6, time.UTC)}},
		{"UTC pickup time becomes New York time", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"pickup_datetime":"2024-07-01T12:00:00Z"}}`,
			`"a"`, trip.Trip{PULocationID: 3, DOLocationID: 4, Passengers: trip.NoPassengers, Pickup: time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC)}},
		{"escapes in keys and id", `{"ride\u005fid":"q\"\\\/\u00e9\ud83d\ude95\n","ride":{"PULocationID":3,"DOLocationID":4}}`,
			`"q\"\\/é🚕\n"`, trip.Trip{PULocationID: 3, DOLocationID: 4, Passengers: trip.NoPassengers}},
		{"integral numbers are integers, as in the web API", `{"ride_id":"a","ride":{"PULocationID":3.0,"DOLocationID":4e0,"passenger_count":10e-1}}`,
			`"a"`, trip.Trip{PULocationID: 3, DOLocationID: 4, Passengers: 1}},
		{"lone surrogate becomes U+FFFD", `{"ride_id":"\ud800x","ride":{"PULocationID":3,"DOLocationID":4}}`,
			`"` + "\uFFFD" + `x"`, trip.Trip{PULocationID: 3, DOLocationID: 4, Passengers: trip.NoPassengers}},
	}
	d := newTestDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if s := string(got.RideID.AppendJSON(nil)); s != tt.rideJSON {
				t.Errorf("ride_id JSON = %s, want %s", s, tt.rideJSON)
			}
			if !got.Trip.Pickup.Equal(tt.want.Pickup) || got.Trip.Pickup.Location().String() != tt.want.Pickup.Location().String() && !tt.want.Pickup.IsZero() {
				t.Errorf("pickup = %v, want %v", got.Trip.Pickup, tt.want.Pickup)
			}
			if trip.HourOfWeek(got.Trip.Pickup) != trip.HourOfWeek(tt.want.Pickup) {
				t.Errorf("hour of week = %d, want %d", trip.HourOfWeek(got.Trip.Pickup), trip.HourOfWeek(tt.want.Pickup))
			}
			got.Trip.Pickup, tt.want.Pickup = time.Time{}, time.Time{}
			if got.Trip != tt.want {
				t.Errorf("trip = %+v, want %+v", got.Trip, tt.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	long := strings.Repeat("r", tripjson.MaxRideIDBytes+1)
	tests := []struct {
		name      string
		in        string
		malformed bool
		reason    string // a part of the error message
	}{
		{"empty", ``, true, "not a JSON object"},
		{"not JSON", `ride 7`, true, "not a JSON object"},
		{"array", `[1,2]`, true, "not a JSON object"},
		{"truncated", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4`, true, "want ',' or '}'"},
		{"trailing garbage", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4}} x`, true, "after the JSON value"},
		{"two objects", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4}}{}`, true, "after the JSON value"},
		{"malformed after a broken rule", `{"x":1,"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4}`, true, "want ',' or '}'"},
		{"trailing comma", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4},}`, true, "field name"},
		{"bad UTF-8", "{\"ride_id\":\"\xff\",\"ride\":{\"PULocationID\":3,\"DOLocationID\":4}}", true, "UTF-8"},
		{"raw control character", "{\"ride_id\":\"a\tb\",\"ride\":{\"PULocationID\":3,\"DOLocationID\":4}}", true, "control character"},
		{"bad escape", `{"ride_id":"a\x","ride":{"PULocationID":3,"DOLocationID":4}}`, true, "invalid escape"},
		{"bad literal", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"passenger_count":nul}}`, true, "invalid literal"},
		{"too large", `{"ride_id":"` + strings.Repeat("a", MaxEventBytes) + `"}`, true, "more than"},
		{"deep nesting in a wrong-typed value", `{"ride_id":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, true, "nested deeper than 64"},

		{"empty object", `{}`, false, "ride_id: is missing"},
		{"no ride", `{"ride_id":"a"}`, false, "ride: is missing"},
		{"no dropoff", `{"ride_id":"a","ride":{"PULocationID":3}}`, false, "ride.DOLocationID: is missing"},
		{"unknown top field", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4},"x":1}`, false, `"x": is an unknown field`},
		{"unknown ride field", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"trip_distance":2.5}}`, false, `ride."trip_distance": is an unknown field`},
		{"keys are case-sensitive", `{"ride_id":"a","ride":{"pulocationid":3,"DOLocationID":4}}`, false, "unknown field"},
		{"duplicate field", `{"ride_id":"a","ride_id":"b","ride":{"PULocationID":3,"DOLocationID":4}}`, false, "ride_id: is given more than once"},
		{"duplicate ride field", `{"ride_id":"a","ride":{"PULocationID":3,"PULocationID":3,"DOLocationID":4}}`, false, "ride.PULocationID: is given more than once"},
		{"zone as string", `{"ride_id":"a","ride":{"PULocationID":"3","DOLocationID":4}}`, false, "ride.PULocationID: must be an integer zone id from 1 to 265, got a string"},
		{"zone with a fraction", `{"ride_id":"a","ride":{"PULocationID":3.5,"DOLocationID":4}}`, false, "must be an integer zone id from 1 to 265, got 3.5"},
		{"zone with a fractional exponent", `{"ride_id":"a","ride":{"PULocationID":35e-1,"DOLocationID":4}}`, false, "must be an integer zone id from 1 to 265, got 35e-1"},
		{"zone null", `{"ride_id":"a","ride":{"PULocationID":null,"DOLocationID":4}}`, false, "must be an integer zone id from 1 to 265, got null"},
		{"zone 0", `{"ride_id":"a","ride":{"PULocationID":0,"DOLocationID":4}}`, false, "ride.PULocationID: must be a zone id from 1 to 265, got 0"},
		{"zone 266", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":266}}`, false, "ride.DOLocationID: must be a zone id from 1 to 265, got 266"},
		{"zone negative", `{"ride_id":"a","ride":{"PULocationID":-3,"DOLocationID":4}}`, false, "must be a zone id from 1 to 265, got -3"},
		{"zone huge", `{"ride_id":"a","ride":{"PULocationID":99999999999999999999999,"DOLocationID":4}}`, false, "must be a zone id from 1 to 265, got 99999999999999999999999"},
		{"passengers 10", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"passenger_count":10}}`, false, "ride.passenger_count: must be from 0 to 9, got 10"},
		{"passengers negative", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"passenger_count":-1}}`, false, "must be from 0 to 9, got -1"},
		{"passengers bool", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"passenger_count":true}}`, false, "must be an integer from 0 to 9 or null, got a boolean"},
		{"passengers float", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"passenger_count":1.5}}`, false, "must be an integer from 0 to 9 or null, got 1.5"},
		{"ride not object", `{"ride_id":"a","ride":[3,4]}`, false, "ride: must be a JSON object, got an array"},
		{"ride_id empty", `{"ride_id":"","ride":{"PULocationID":3,"DOLocationID":4}}`, false, "must not be empty"},
		{"ride_id too long", `{"ride_id":"` + long + `","ride":{"PULocationID":3,"DOLocationID":4}}`, false, "must be at most 256 bytes long, got 257"},
		{"ride_id float", `{"ride_id":1.5,"ride":{"PULocationID":3,"DOLocationID":4}}`, false, "must be a string or an integer written without a fraction or exponent, got 1.5"},
		{"ride_id written as a float", `{"ride_id":1.0,"ride":{"PULocationID":3,"DOLocationID":4}}`, false, "must be a string or an integer written without a fraction or exponent, got 1.0"},
		{"ride_id object", `{"ride_id":{"a":[1,{"b":null}]},"ride":{"PULocationID":3,"DOLocationID":4}}`, false, "got an object"},
		{"ride_id null", `{"ride_id":null,"ride":{"PULocationID":3,"DOLocationID":4}}`, false, "got null"},
		{"ride_id too big", `{"ride_id":18446744073709551616,"ride":{"PULocationID":3,"DOLocationID":4}}`, false, "64 bits"},
		{"pickup not a time", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"pickup_datetime":"yesterday"}}`, false, `ride.pickup_datetime: must be an ISO 8601 date-time like 2024-03-04T08:15:00 (New York time) or with an offset like 2024-03-04T13:15:00Z, got "yesterday"`},
		{"pickup impossible date", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"pickup_datetime":"2024-02-30 08:00:00"}}`, false, `got "2024-02-30 08:00:00"`},
		{"pickup as number", `{"ride_id":"a","ride":{"PULocationID":3,"DOLocationID":4,"pickup_datetime":1709280000}}`, false, "ride.pickup_datetime: must be an ISO 8601 date-time string or null, got 1709280000"},
	}
	d := newTestDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Decode([]byte(tt.in))
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("Decode = %v, want an *EventError", err)
			}
			if ee.Malformed != tt.malformed {
				t.Errorf("Malformed = %v, want %v (%v)", ee.Malformed, tt.malformed, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
}

func TestAppendEstimate(t *testing.T) {
	d := newTestDecoder(t)
	tests := []struct {
		event string
		p     trip.Prediction
		want  string
	}{
		{`{"ride_id":"2024/03_7","ride":{"PULocationID":74,"DOLocationID":75}}`, trip.Prediction{Minutes: 12.345, Low: 8, High: 17.5},
			`{"ride_id":"2024/03_7","prediction":{"trip_duration_prediction":12.35,"interval":{"low":8.00,"high":17.50}},"model":{"name":"m \"1\"","version":"abc"}}`},
		{`{"ride_id":42,"ride":{"PULocationID":74,"DOLocationID":75}}`, trip.Prediction{Minutes: 1, Low: 0.5, High: 2},
			`{"ride_id":42,"prediction":{"trip_duration_prediction":1.00,"interval":{"low":0.50,"high":2.00}},"model":{"name":"m \"1\"","version":"abc"}}`},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			req, err := d.Decode([]byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendEstimate(nil, req.RideID, tt.p, ModelJSON(`m "1"`, "abc"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
	if _, err := AppendEstimate(nil, RideID{text: "1", number: true}, trip.Prediction{Minutes: float32(math.NaN())}, nil); err == nil {
		t.Error("a NaN estimate was encoded")
	}
}

// FuzzDecode checks the decoder against encoding/json as an oracle: it never
// panics; what it accepts is valid JSON that a reference validator built on
// encoding/json's tokenizer also accepts, with the same values; and what the
// reference accepts, it accepts.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"ride_id":"2024/03_1","ride":{"PULocationID":74,"DOLocationID":75}}`,
		`{"ride_id":123,"ride":{"PULocationID":1,"DOLocationID":265,"passenger_count":0,"pickup_datetime":"2024-03-01 08:30:00"}}`,
		`{"ride":{"DOLocationID":9,"passenger_count":null,"PULocationID":8,"pickup_datetime":"2024-07-01T12:00:00Z"},"ride_id":"x"}`,
		`{"ride_id":"\u00e9\ud83d\ude95","ride":{"PULocationID":3,"DOLocationID":4}}`,
		`{"ride_id":"a","ride":{"PULocationID":3.0,"DOLocationID":4}}`,
		`{"ride_id":7.0,"ride":{"PULocationID":3.5,"DOLocationID":1e400,"passenger_count":1e-400}}`,
		`{"ride_id":[{"a":null}],"ride":{}}`,
		`{"ride_id":"a","ride_id":"b"}`,
		`[]`, `nul`, `{"ride_id":-0,"ride":{"PULocationID":1e2,"DOLocationID":4}}`,
	} {
		f.Add([]byte(s))
	}
	d := newTestDecoder(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := d.Decode(data)
		want, refErr := referenceDecode(d, data)
		if err != nil {
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error is not an *EventError: %v", err)
			}
			if refErr == nil {
				t.Fatalf("rejected %q (%v), but the reference accepts it", data, err)
			}
			return
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if refErr != nil {
			t.Fatalf("accepted %q, but the reference rejects it: %v", data, refErr)
		}
		if got.RideID != want.RideID || got.Trip.PULocationID != want.Trip.PULocationID ||
			got.Trip.DOLocationID != want.Trip.DOLocationID || got.Trip.Passengers != want.Trip.Passengers ||
			!got.Trip.Pickup.Equal(want.Trip.Pickup) {
			t.Fatalf("%q: decoded %+v, reference %+v", data, got, want)
		}
		out, err := AppendEstimate(nil, got.RideID, trip.Prediction{Minutes: 1, Low: 1, High: 1}, ModelJSON("m", "v"))
		if err != nil || !json.Valid(out) {
			t.Fatalf("estimate for %q is not valid JSON: %s (%v)", data, out, err)
		}
		var back struct {
			RideID json.RawMessage `json:"ride_id"`
		}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.RideID, got.RideID.AppendJSON(nil)) {
			t.Fatalf("ride_id does not round-trip: %s", back.RideID)
		}
	})
}

// referenceDecode implements Decode's rules on encoding/json's tokenizer.
func referenceDecode(d *Decoder, data []byte) (Request, error) {
	var req Request
	fail := errors.New("rejected")
	if len(data) > MaxEventBytes || !utf8.Valid(data) || !json.Valid(data) {
		return req, fail
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// parse reads any value; objects become maps, and a key twice is an error.
	var parse func() (any, error)
	parse = func() (any, error) {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t {
		case json.Delim('{'):
			m := map[string]any{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				if _, dup := m[k.(string)]; dup {
					return nil, fail
				}
				if m[k.(string)], err = parse(); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token()
			return m, err
		case json.Delim('['):
			var a []any
			for dec.More() {
				v, err := parse()
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return t, nil
	}
	v, err := parse()
	if err != nil {
		return req, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, fail
	}
	onlyKeys := func(m map[string]any, allowed ...string) bool {
		for k := range m {
			if !slices.Contains(allowed, k) {
				return false
			}
		}
		return true
	}
	// ride_id is an integer written as one; the trip's integers are
	// numbers with an integral value, as in the web API's schema.
	rideID := func(v any) (int64, bool) {
		n, ok := v.(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE") {
			return 0, false
		}
		i, err := n.Int64()
		return i, err == nil
	}
	integer := func(v any, lo, hi float64) (int64, bool) {
		n, ok := v.(json.Number)
		if !ok {
			return 0, false
		}
		f, err := n.Float64()
		return int64(f), err == nil && f == math.Trunc(f) && f >= lo && f <= hi
	}
	top, ok := v.(map[string]any)
	if !ok || !onlyKeys(top, "ride_id", "ride") {
		return req, fail
	}
	switch v := top["ride_id"].(type) {
	case string:
		if v == "" || len(v) > tripjson.MaxRideIDBytes {
			return req, fail
		}
		req.RideID = RideID{text: v}
	case json.Number:
		n, ok := rideID(v)
		if !ok {
			return req, fail
		}
		req.RideID = RideID{text: fmt.Sprint(n), number: true}
	default:
		return req, fail
	}
	ride, ok := top["ride"].(map[string]any)
	if !ok || !onlyKeys(ride, "PULocationID", "DOLocationID", "passenger_count", "pickup_datetime") {
		return req, fail
	}
	pu, ok1 := integer(ride["PULocationID"], 1, trip.MaxZone)
	do, ok2 := integer(ride["DOLocationID"], 1, trip.MaxZone)
	if !ok1 || !ok2 {
		return req, fail
	}
	req.Trip = trip.Trip{PULocationID: uint16(pu), DOLocationID: uint16(do), Passengers: trip.NoPassengers}
	if v := ride["passenger_count"]; v != nil {
		n, ok := integer(v, 0, trip.MaxPassengers)
		if !ok {
			return req, fail
		}
		req.Trip.Passengers = int8(n)
	}
	if v := ride["pickup_datetime"]; v != nil {
		s, ok := v.(string)
		if !ok {
			return req, fail
		}
		if req.Trip.Pickup, ok = trip.ParseTime([]byte(s), d.nyc); !ok {
			return req, fail
		}
	}
	return req, nil
}

func BenchmarkDecode(b *testing.B) {
	d := newTestDecoder(b)
	ev := []byte(`{"ride_id":"2024/03_123456","ride":{"PULocationID":74,"DOLocationID":75,"passenger_count":1,"pickup_datetime":"2024-03-01 08:30:00"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(ev); err != nil {
			b.Fatal(err)
		}
	}
}
