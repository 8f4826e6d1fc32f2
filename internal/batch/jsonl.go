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
	"unicode/utf8"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// MaxLineBytes is the longest JSON Lines line read; a longer line is
// rejected as a whole.
const MaxLineBytes = 1 << 20

// jsonlSource reads JSON Lines: one trip object per line.
type jsonlSource struct {
	label    string
	rc       io.ReadCloser
	size     int64
	consumed atomic.Int64
	dec      lineDecoder
	decErr   error // why there is no dec, returned by read
}

func newJSONLSource(name string, rc io.ReadCloser, size int64) *jsonlSource {
	dec, err := newLineDecoder()
	return &jsonlSource{label: name, rc: rc, size: size, dec: dec, decErr: err}
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
	if s.decErr != nil {
		return fmt.Errorf("%s: %w", s.label, s.decErr)
	}
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
// The trip fields follow the trip rules (package tripjson), save that an
// integral zone id outside the zones (300 or 3e2) is left to scoring, which
// rejects it in the words it uses for every input format. ride_id follows
// tripjson.RideID; null or absent means the line number. A line must be
// UTF-8. Other fields are ignored, unlike in the web API, so that predict's
// own JSON Lines output (which adds the estimate's fields, and writes every
// ride id as a string) can be scored again.
type lineDecoder struct {
	// nyc converts pickup times with a UTC offset.
	nyc *time.Location
}

func newLineDecoder() (lineDecoder, error) {
	nyc, err := trip.NYC()
	if err != nil {
		return lineDecoder{}, fmt.Errorf("JSON Lines decoder: %w", err)
	}
	return lineDecoder{nyc: nyc}, nil
}

// lineTrip is what one line states. It is filled apart from tripRow, and
// copied into it in one place (decode), so that the row can change shape
// without touching the JSON rules.
type lineTrip struct {
	rideID string
	// pu and do are the zone ids; an integral one that is no zone is kept
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

// rideID reads a ride_id into id by the rule of tripjson.RideID; null
// leaves id empty, for the line number.
func rideID(s *tripjson.Scanner, id *string, fail func(string)) error {
	v, _, err := tripjson.RideID(s, func(p tripjson.Problem) { fail(p.Error()) })
	if v != nil {
		*id = string(v)
	}
	return err
}
