package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"
	_ "time/tzdata" // pickup times with a UTC offset are converted to NYC local time
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// MaxLineBytes is the longest JSON Lines line read; a longer line is
// rejected as a whole.
const MaxLineBytes = 1 << 20

// maxRideIDBytes is the longest ride_id accepted.
const maxRideIDBytes = 1024

// jsonlSource reads JSON Lines: one trip object per line.
type jsonlSource struct {
	label    string
	rc       io.ReadCloser
	size     int64
	consumed atomic.Int64
	dec      lineDecoder
}

func newJSONLSource(name string, rc io.ReadCloser, size int64) *jsonlSource {
	return &jsonlSource{label: name, rc: rc, size: size, dec: newLineDecoder()}
}

func (s *jsonlSource) name() string            { return s.label }
func (s *jsonlSource) durations() bool         { return false }
func (s *jsonlSource) ids() rideIDs            { return rideIDs{} }
func (s *jsonlSource) where(r *tripRow) string { return fmt.Sprintf("line %d", r.Line) }

func (s *jsonlSource) fraction() float64 {
	if s.size <= 0 {
		return -1
	}
	return math.Min(1, float64(s.consumed.Load())/float64(s.size))
}

func (s *jsonlSource) read(ctx context.Context, fn chunkFunc) error {
	defer s.rc.Close()
	br := bufio.NewReaderSize(countingReader{s.rc, &s.consumed}, 64<<10)
	rows := make([]tripRow, 0, chunkRows)
	var long []byte // a line longer than the reader's buffer
	for line := int64(1); ; line++ {
		b, err := br.ReadSlice('\n')
		tooLong := false
		for err == bufio.ErrBufferFull {
			if len(long)+len(b) <= MaxLineBytes {
				long = append(long, b...)
			} else {
				tooLong = true
			}
			b, err = br.ReadSlice('\n')
		}
		if long != nil {
			if len(long)+len(b) <= MaxLineBytes && !tooLong {
				b = append(long, b...)
			} else {
				tooLong = true
			}
			long = long[:0:0]
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: line %d: %w", s.label, line, err)
		}
		if len(bytes.TrimSpace(b)) > 0 || tooLong {
			r := tripRow{Index: line - 1, Line: line}
			if tooLong {
				r.Problem = fmt.Sprintf("the line must be at most %d bytes long", MaxLineBytes)
				r.Input = []byte(`"(too long to show)"`)
			} else {
				s.dec.decode(b, &r)
			}
			rows = append(rows, r)
		}
		if len(rows) == chunkRows || (err == io.EOF && len(rows) > 0) {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			var ferr error
			if rows, ferr = fn(rows); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// lineDecoder decodes one JSON Lines trip:
//
//	{"ride_id": "2021/01_7", "PULocationID": 43, "DOLocationID": 151,
//	 "passenger_count": 1, "pickup_datetime": "2021-01-01 00:15:56"}
//
// The trip fields follow the web API's rules (internal/tripjson):
// PULocationID and DOLocationID are required integer zone ids 1..265 (132
// and 132.0 alike; an integer outside 1..265, 300 or 3e2, is rejected when
// scoring, as in every input format); passenger_count is an integer 0..9,
// null or absent (unknown); pickup_datetime is "YYYY-MM-DD HH:MM:SS" (or
// with a T, optionally with fractional seconds) in New York local time, or
// RFC 3339 with a UTC offset, null or absent; a field given twice is an
// error. ride_id is a string or a number (kept as written), and null or
// absent means the line number. A line must be UTF-8. Other fields are
// ignored, unlike in the web API, so that predict's own JSON Lines output
// (which adds the estimate's fields) can be scored again.
type lineDecoder struct {
	// nyc converts pickup times with a UTC offset. time/tzdata is linked in,
	// so it is never nil in practice; if it were, such times would be
	// refused rather than guessed at.
	nyc *time.Location
}

func newLineDecoder() lineDecoder {
	nyc, _ := time.LoadLocation("America/New_York")
	return lineDecoder{nyc: nyc}
}

// lineTrip is what one line states. It is filled apart from tripRow, and
// copied into it in one place (decode), so that the row can change shape
// without touching the JSON rules.
type lineTrip struct {
	rideID string
	// pu and do are the zone ids; an integral one outside 1..265 is kept
	// here for scoring to reject, in the words it uses for every format.
	pu, do     int64
	passengers float64 // NaN when unknown
	pickup     int64   // NYC wall-clock microseconds, noTime when unknown
}

// decode fills r from line, or sets r.Problem and r.Input.
func (d lineDecoder) decode(line []byte, r *tripRow) {
	t, err := d.decodeObject(line)
	if err != nil {
		r.Problem = err.Error()
	}
	r.RideID = t.rideID
	if r.RideID == "" {
		r.RideID = strconv.FormatInt(r.Line, 10)
	}
	r.PULocationID, r.DOLocationID = t.pu, t.do
	r.Passengers = t.passengers
	r.PickupMicros, r.DropoffMicros = t.pickup, noTime
	// The line as read, for the rejects file.
	line = bytes.TrimSpace(line)
	if r.Problem == "" || json.Valid(line) {
		r.Input = bytes.Clone(line)
	} else {
		r.Input, _ = json.Marshal(string(line))
	}
}

// errNotObject rejects a line that is not a JSON object (malformed or not).
var errNotObject = errors.New(`not a JSON object (want {"PULocationID": 43, "DOLocationID": 151, ...})`)

// decodeObject reads line. The error is malformed JSON, else the first rule
// the line breaks; the ride id is read even then, to name the reject.
func (d lineDecoder) decodeObject(line []byte) (lineTrip, error) {
	lt := lineTrip{passengers: math.NaN(), pickup: noTime}
	if !utf8.Valid(line) {
		return lt, errors.New("malformed JSON: not valid UTF-8")
	}
	s := tripjson.NewScanner(line)
	if s.Peek() != '{' {
		return lt, errNotObject
	}
	var (
		first  string // the first rule broken
		seenID bool
	)
	fail := func(msg string) {
		if first == "" {
			first = msg
		}
	}
	problem := func(p tripjson.Problem) {
		if p.Kind == tripjson.BadValue && (p.Field == "PULocationID" || p.Field == "DOLocationID") {
			// Integral (300, 300.0, 3e2) but no zone: left to scoring.
			f, err := strconv.ParseFloat(string(p.Value), 64)
			if err == nil && f == math.Trunc(f) && math.Abs(f) <= math.MaxInt32 {
				if p.Field == "PULocationID" {
					lt.pu = int64(f)
				} else {
					lt.do = int64(f)
				}
				return
			}
		}
		fail(p.Error())
	}
	t, err := tripjson.Decode(&s, d.nyc, problem, func(key []byte) error {
		if string(key) != "ride_id" {
			_, err := s.Skip() // ignored
			return err
		}
		if seenID {
			fail(tripjson.Problem{Field: "ride_id", Kind: tripjson.RepeatedField}.Error())
		}
		seenID = true
		return rideID(&s, &lt.rideID, fail)
	})
	if err == nil {
		err = s.End()
	}
	switch {
	case err != nil:
		return lt, err
	case first != "":
		return lt, errors.New(first)
	}
	if t.PULocationID != 0 { // else left to scoring, above
		lt.pu = int64(t.PULocationID)
	}
	if t.DOLocationID != 0 {
		lt.do = int64(t.DOLocationID)
	}
	if t.Passengers != trip.NoPassengers {
		lt.passengers = float64(t.Passengers)
	}
	if !t.Pickup.IsZero() {
		lt.pickup = t.Pickup.UnixMicro()
	}
	return lt, nil
}

// rideID reads a ride_id into id: a string, a number (kept as written) or
// null (the line number).
func rideID(s *tripjson.Scanner, id *string, fail func(string)) error {
	switch c := s.Peek(); {
	case c == 'n' && s.Null():
		return nil
	case c == '"':
		v, err := s.Text()
		switch {
		case err != nil:
			return err
		case len(v) == 0:
			fail("ride_id must not be empty")
		case len(v) > maxRideIDBytes:
			fail(fmt.Sprintf("ride_id must be at most %d bytes long, got %d", maxRideIDBytes, len(v)))
		default:
			*id = string(v)
		}
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		lit, err := s.Number()
		if err == nil {
			*id = string(lit)
		}
		return err
	}
	if _, err := s.Skip(); err != nil {
		return err
	}
	fail("ride_id must be a string or a number")
	return nil
}
