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
				r.Problem = fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)
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
// and 132.0 alike; an integer outside 1..265 is rejected when scoring, as
// in every input format); passenger_count is an integer 0..9, null or absent
// (unknown); pickup_datetime is "YYYY-MM-DD HH:MM:SS" (or with a T,
// optionally with fractional seconds) in New York local time, or RFC 3339
// with a UTC offset, null or absent; a field given twice is an error.
// ride_id is a string or a number, and defaults to the line number. Other
// fields are ignored, unlike in the web API, so that predict's own JSON
// Lines output (which adds the estimate's fields) can be scored again.
type lineDecoder struct {
	nyc *time.Location // nil when the zone database is unavailable
}

func newLineDecoder() lineDecoder {
	nyc, err := time.LoadLocation("America/New_York")
	if err != nil {
		nyc = nil
	}
	return lineDecoder{nyc: nyc}
}

// decode fills r from line, or sets r.Problem and r.Input.
func (d lineDecoder) decode(line []byte, r *tripRow) {
	r.PickupMicros, r.DropoffMicros = noTime, noTime
	r.Passengers = math.NaN()
	if err := d.decodeObject(line, r); err != nil {
		r.Problem = err.Error()
	}
	if r.RideID == "" {
		r.RideID = strconv.FormatInt(r.Line, 10)
	}
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

// decodeObject fills r from line. The error is malformed JSON, else the
// first rule the line breaks.
func (d lineDecoder) decodeObject(line []byte, r *tripRow) error {
	if !utf8.Valid(line) {
		return errors.New("malformed JSON: not valid UTF-8")
	}
	s := tripjson.NewScanner(line)
	if s.Peek() != '{' {
		return errNotObject
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
		// An integer zone id outside 1..265 is left to scoring, which
		// rejects it in the same words for every input format.
		if p.Kind == tripjson.BadValue {
			if v, err := strconv.ParseInt(string(p.Value), 10, 32); err == nil {
				switch p.Field {
				case "PULocationID":
					r.PULocationID = v
					return
				case "DOLocationID":
					r.DOLocationID = v
					return
				}
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
		return rideID(&s, r, fail)
	})
	if err == nil {
		err = s.End()
	}
	switch {
	case err != nil:
		return err
	case first != "":
		return errors.New(first)
	}
	if t.PULocationID != 0 { // else left to scoring, above
		r.PULocationID = int64(t.PULocationID)
	}
	if t.DOLocationID != 0 {
		r.DOLocationID = int64(t.DOLocationID)
	}
	if t.Passengers != trip.NoPassengers {
		r.Passengers = float64(t.Passengers)
	}
	if !t.Pickup.IsZero() {
		r.PickupMicros = t.Pickup.UnixMicro()
	}
	return nil
}

// rideID reads a ride_id: a string, a number (kept as written) or null (the
// line number).
func rideID(s *tripjson.Scanner, r *tripRow, fail func(string)) error {
	switch c := s.Peek(); {
	case c == 'n' && s.Null():
		return nil
	case c == '"':
		v, err := s.Text()
		switch {
		case err != nil:
			return err
		case len(v) == 0:
			fail("ride_id is empty")
		case len(v) > maxRideIDBytes:
			fail(fmt.Sprintf("ride_id is longer than %d bytes", maxRideIDBytes))
		default:
			r.RideID = string(v)
		}
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		lit, err := s.Number()
		if err == nil {
			r.RideID = string(lit)
		}
		return err
	}
	if _, err := s.Skip(); err != nil {
		return err
	}
	fail("ride_id must be a string or a number")
	return nil
}
