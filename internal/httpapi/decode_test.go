package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

func nyc(t testing.TB) *time.Location {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return ny
}

func TestDecodeTrip(t *testing.T) {
	ny := nyc(t)
	tests := []struct {
		body      string
		want      trip.Trip
		errFields []string // locations of field errors
		syntax    bool
	}{
		{`{"PULocationID": 1, "DOLocationID": 265}`, trip.Trip{PULocationID: 1, DOLocationID: 265, Passengers: -1}, nil, false},
		{` {"DOLocationID":2,"PULocationID":3,"passenger_count":0} `, trip.Trip{PULocationID: 3, DOLocationID: 2, Passengers: 0}, nil, false},
		{`{"PULocationID": 1.0, "DOLocationID": 2e1, "passenger_count": 9}`, trip.Trip{PULocationID: 1, DOLocationID: 20, Passengers: 9}, nil, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04T08:15:00"}`,
			trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: -1, Pickup: time.Date(2024, 3, 4, 8, 15, 0, 0, time.UTC)}, nil, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04 08:15"}`,
			trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: -1, Pickup: time.Date(2024, 3, 4, 8, 15, 0, 0, time.UTC)}, nil, false},
		// 13:15 UTC on 4 March 2024 is 08:15 in New York (EST).
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04T13:15:00.5Z"}`,
			trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: -1, Pickup: time.Date(2024, 3, 4, 8, 15, 0, 5e8, time.UTC)}, nil, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-07-04T12:00:00+02:00"}`,
			trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: -1, Pickup: time.Date(2024, 7, 4, 6, 0, 0, 0, time.UTC)}, nil, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": null, "passenger_count": null}`, trip.Trip{PULocationID: 1, DOLocationID: 2, Passengers: -1}, nil, false},
		{`{"P\u0055LocationID": 7, "DOLocationID": 2}`, trip.Trip{PULocationID: 7, DOLocationID: 2, Passengers: -1}, nil, false},
		{`{"PULocationID": 0, "DOLocationID": 266}`, trip.Trip{}, []string{"body.PULocationID", "body.DOLocationID"}, false},
		{`{"PULocationID": -1, "DOLocationID": 1e400}`, trip.Trip{}, []string{"body.PULocationID", "body.DOLocationID"}, false},
		{`{"PULocationID": 1.5, "DOLocationID": "2"}`, trip.Trip{}, []string{"body.PULocationID", "body.DOLocationID"}, false},
		{`{"PULocationID": [1], "DOLocationID": {"a": 1}}`, trip.Trip{}, []string{"body.PULocationID", "body.DOLocationID"}, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": -1}`, trip.Trip{}, []string{"body.passenger_count"}, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": 2.5}`, trip.Trip{}, []string{"body.passenger_count"}, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2023-02-30T10:00:00"}`, trip.Trip{}, []string{"body.pickup_datetime"}, false},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": 1700000000}`, trip.Trip{}, []string{"body.pickup_datetime"}, false},
		{`{}`, trip.Trip{}, []string{"body.PULocationID", "body.DOLocationID"}, false},
		{`{"pulocationid": 1, "DOLocationID": 2}`, trip.Trip{}, []string{"body.pulocationid", "body.PULocationID"}, false},
		{`null`, trip.Trip{}, []string{"body"}, false},
		{`{"PULocationID": 1, "DOLocationID": 2,}`, trip.Trip{}, nil, true},
		{`{"PULocationID": 01, "DOLocationID": 2}`, trip.Trip{}, nil, true},
		{`{"PULocationID": 1 "DOLocationID": 2}`, trip.Trip{}, nil, true},
		{`{"PULocationID": 1, "DOLocationID": 2}}`, trip.Trip{}, nil, true},
		{`{"a": "` + "\x01" + `"}`, trip.Trip{}, nil, true},
		{`{"a": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, trip.Trip{}, nil, true},
		{``, trip.Trip{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			got, errs, err := decodeTrip([]byte(tt.body), ny)
			if tt.syntax {
				var se *tripjson.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v; want a syntax error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("syntax error %v", err)
			}
			var locs []string
			for _, e := range errs {
				locs = append(locs, e.Location)
			}
			if fmt.Sprint(locs) != fmt.Sprint(tt.errFields) {
				t.Fatalf("field errors at %v; want %v (%+v)", locs, tt.errFields, errs)
			}
			if len(errs) == 0 && (got != tt.want || !got.Pickup.Equal(tt.want.Pickup)) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

// The field errors' words are tripjson's, the same as in dead letters and
// batch rejects, and the API's contract: shown after the field's name on
// the call-centre page, they name the rule and what was sent.
func TestFieldErrorWords(t *testing.T) {
	ny := nyc(t)
	tests := []struct {
		body string
		want string // location: message of the first field error
	}{
		{`[1]`, "body: must be a JSON object, got an array"},
		{`{"PULocationID": 1, "DOLocationID": 2, "x": 1}`, "body.x: is an unknown field (allowed: PULocationID, DOLocationID, passenger_count, pickup_datetime)"},
		{`{"PULocationID": 1, "DOLocationID": 2, "DOLocationID": 2, "DOLocationID": 2}`, "body.DOLocationID: is given more than once"},
		{`{"PULocationID": 1}`, "body.DOLocationID: is missing"},
		{`{"PULocationID": "7", "DOLocationID": 2}`, "body.PULocationID: must be an integer zone id from 1 to 265, got a string"},
		{`{"PULocationID": 1, "DOLocationID": 266}`, "body.DOLocationID: must be a zone id from 1 to 265, got 266"},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": true}`, "body.passenger_count: must be an integer from 0 to 9 or null, got a boolean"},
		{`{"PULocationID": 1, "DOLocationID": 2, "passenger_count": 12}`, "body.passenger_count: must be from 0 to 9, got 12"},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": 17}`, "body.pickup_datetime: must be an ISO 8601 date-time string or null, got 17"},
		{`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "soon"}`, `body.pickup_datetime: must be an ISO 8601 date-time like 2024-03-04T08:15:00 (New York time) or with an offset like 2024-03-04T13:15:00Z, got "soon"`},
	}
	for _, tt := range tests {
		_, errs, err := decodeTrip([]byte(tt.body), ny)
		if err != nil || len(errs) == 0 {
			t.Errorf("%s: field errors %+v, err %v", tt.body, errs, err)
			continue
		}
		if got := errs[0].Location + ": " + errs[0].Message; got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.body, got, tt.want)
		}
	}
}

// A long offending value is cut at a character, not inside one, so that
// the problem document stays valid UTF-8.
func TestRawValue(t *testing.T) {
	long := `"` + strings.Repeat("é", 40) + `"`
	tests := []struct {
		in   string
		want any
	}{
		{`12`, float64(12)},
		{`"soon"`, "soon"},
		{`1e400`, "1e400"},
		{long, long[:63] + "…"},
	}
	for _, tt := range tests {
		if got := rawValue([]byte(tt.in)); got != tt.want {
			t.Errorf("rawValue(%s) = %#v; want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	ny := nyc(t)
	body := []byte(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1, "pickup_datetime": "2024-03-04T08:15:00"}`)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = decodeTrip(body, ny) }); n != 0 {
		t.Errorf("decodeTrip allocates %v times", n)
	}
	dst := make([]trip.Trip, 0, 4)
	batch := []byte(`[{"PULocationID": 74, "DOLocationID": 75}, {"PULocationID": 1, "DOLocationID": 2}]`)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = decodeTrips(batch, 10, ny, dst) }); n != 0 {
		t.Errorf("decodeTrips allocates %v times", n)
	}
}

// FuzzDecodeTrip checks what the web API adds to tripjson (whose own
// fuzzer checks the rules against encoding/json): a body is malformed
// exactly when encoding/json says it is not JSON; each of tripjson's
// problems becomes one field error, at body.<field>, in its words; and
// an accepted trip is what encoding/json reads, with no unknown field.
func FuzzDecodeTrip(f *testing.F) {
	for _, s := range []string{
		`{"PULocationID": 264, "DOLocationID": 264, "passenger_count": 1}`,
		`{"PULocationID": 1, "DOLocationID": 2, "pickup_datetime": "2024-03-04T08:15:00Z"}`,
		`{"PULocationID": 1e0, "DOLocationID": -0, "x": [1, {"y": "\u00e9"}]}`,
		`{"PULocationID": 74.0, "DOLocationID": 1e400, "passenger_count": 10, "pickup_datetime": "soon"}`,
		`[{"PULocationID": 1}]`, `{"a":"\ud83d\ude00"}`, `nul`, `{"PULocationID": 1, "PULocationID": 2}`, `{"": 1}`,
	} {
		f.Add([]byte(s))
	}
	ny := nyc(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > 60 {
			return // our nesting limit is lower than encoding/json's
		}
		tr, errs, err := decodeTrip(b, ny)
		if valid := json.Valid(b); (err == nil) != valid {
			t.Fatalf("%q: our syntax error %v; encoding/json valid=%v", b, err, valid)
		}
		if err != nil {
			return
		}
		var problems []tripjson.Problem
		s := tripjson.NewScanner(b)
		want, _ := tripjson.Decode(&s, ny, func(p tripjson.Problem) { problems = append(problems, p) }, nil)
		if len(errs) != len(problems) {
			t.Fatalf("%q: field errors %+v; tripjson's problems %+v", b, errs, problems)
		}
		for i, p := range problems {
			loc := "body"
			if p.Field != "" {
				loc += "." + p.Field
			}
			if e := errs[i]; e.Location != loc || e.Message != p.Message() || (e.Value == nil) != (p.Value == nil) {
				t.Fatalf("%q: field error %+v for %+v", b, e, p)
			}
		}
		if len(errs) > 0 {
			return
		}
		if tr != want || !tr.Pickup.Equal(want.Pickup) {
			t.Fatalf("%q: decoded %+v; tripjson %+v", b, tr, want)
		}
		var ref struct {
			PU     float64  `json:"PULocationID"`
			DO     float64  `json:"DOLocationID"`
			Pax    *float64 `json:"passenger_count"`
			Pickup *string  `json:"pickup_datetime"`
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&ref); err != nil {
			t.Fatalf("%q: accepted, but encoding/json: %v", b, err)
		}
		pax := float64(trip.NoPassengers)
		if ref.Pax != nil {
			pax = *ref.Pax
		}
		if ref.PU != float64(tr.PULocationID) || ref.DO != float64(tr.DOLocationID) || pax != float64(tr.Passengers) {
			t.Fatalf("%q: decoded %+v; encoding/json reads %+v", b, tr, ref)
		}
	})
}

// FuzzPredictHandler sends arbitrary bodies through the whole handler:
// the answer is always one of the documented statuses, never a 500.
func FuzzPredictHandler(f *testing.F) {
	f.Add([]byte(`{"PULocationID": 264, "DOLocationID": 264, "passenger_count": 1}`), false)
	f.Add([]byte(`[{"PULocationID": 264, "DOLocationID": 1}]`), true)
	f.Add([]byte(`{"PULocationID": "x"}`), false)
	s := newTestServer(f, defaultModels(f), nil)
	f.Fuzz(func(t *testing.T, b []byte, batch bool) {
		path := "/predict"
		if batch {
			path = "/predict/batch"
		}
		w := do(s, "POST", path, "application/json", string(b))
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("%q → %d %s", b, w.Code, w.Body)
		}
	})
}
