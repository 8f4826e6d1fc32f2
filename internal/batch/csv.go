package batch

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The header names of a trip CSV file, in each layout internal/tlc reads:
// TLC green (lpep_*), TLC yellow (tpep_*) and snake_case renamings. They
// mirror internal/tlc's, which are not exported; this reader exists because
// a batch job must reject a bad cell row by row rather than stop the file.
var csvColumns = []struct {
	role  string
	names []string
}{
	{"pickup time", []string{"lpep_pickup_datetime", "tpep_pickup_datetime", "pickup_datetime"}},
	{"dropoff time", []string{"lpep_dropoff_datetime", "tpep_dropoff_datetime", "dropoff_datetime"}},
	{"pickup zone", []string{"PULocationID", "pickup_location_id"}},
	{"dropoff zone", []string{"DOLocationID", "dropoff_location_id"}},
	{"passenger count", []string{"passenger_count"}},
}

// csvTimeLayouts are the time layouts the TLC and common exports use.
var csvTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "01/02/2006 03:04:05 PM", "2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999"}

// csvSource reads a CSV file with TLC headers.
type csvSource struct {
	path     string
	prefix   string
	f        *os.File
	size     int64
	consumed atomic.Int64 // bytes consumed, for progress
}

func newCSVSource(path, prefix string) (*csvSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &csvSource{path: path, prefix: prefix, f: f, size: -1}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		s.size = st.Size()
	}
	return s, nil
}

func (s *csvSource) name() string            { return s.path }
func (s *csvSource) durations() bool         { return true }
func (s *csvSource) ids() rideIDs            { return rideIDs{prefix: s.prefix} }
func (s *csvSource) where(r *tripRow) string { return fmt.Sprintf("line %d", r.Line) }

func (s *csvSource) fraction() float64 {
	if s.size <= 0 {
		return -1
	}
	return math.Min(1, float64(s.consumed.Load())/float64(s.size))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (s *csvSource) read(ctx context.Context, fn chunkFunc) error {
	defer s.f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(countingReader{s.f, &s.consumed}, 64<<10))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // a short row is that row's problem, not the file's
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("%s: empty CSV file (want a header line)", s.path)
		}
		return fmt.Errorf("%s: CSV header: %w", s.path, err)
	}
	header = append([]string(nil), header...)
	index := make([]int, len(csvColumns))
	for i, c := range csvColumns {
		index[i] = -1
		for j, h := range header {
			h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
			for _, name := range c.names {
				if strings.EqualFold(h, name) {
					index[i] = j
				}
			}
		}
		if index[i] < 0 {
			return fmt.Errorf("%s: no %s column (want one of %s)", s.path, c.role, strings.Join(c.names, ", "))
		}
	}
	rows := make([]tripRow, 0, chunkRows)
	var n int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		line, _ := cr.FieldPos(0)
		r := tripRow{Index: n, Line: int64(line)}
		n++
		if err != nil {
			r.Line = int64(pe.StartLine)
			r.Problem = "malformed CSV: " + pe.Err.Error()
		} else {
			parseCSVRecord(&r, rec, header, index)
		}
		rows = append(rows, r)
		if len(rows) == chunkRows {
			if err := ctx.Err(); err != nil {
				return err
			}
			if rows, err = fn(rows); err != nil {
				return err
			}
		}
	}
	if len(rows) > 0 {
		_, err := fn(rows)
		return err
	}
	return nil
}

// parseCSVRecord fills r from one CSV record, or sets r.Problem (and keeps
// the record as r.Input) when a cell cannot be read.
func parseCSVRecord(r *tripRow, rec, header []string, index []int) {
	cell := func(i int) (string, bool) {
		if index[i] >= len(rec) {
			return "", false
		}
		return strings.TrimSpace(rec[index[i]]), true
	}
	problem := func(i int, format string, args ...any) {
		if r.Problem == "" {
			name := header[index[i]]
			r.Problem = name + ": " + fmt.Sprintf(format, args...)
		}
	}
	times := [2]*int64{&r.PickupMicros, &r.DropoffMicros}
	for i, dst := range times {
		s, ok := cell(i)
		if !ok {
			problem(i, "missing (the row has %d fields, the header %d)", len(rec), len(header))
			continue
		}
		v, err := csvTime(s)
		if err != nil {
			problem(i, "%v", err)
		}
		*dst = v
	}
	zones := [2]*int64{&r.PULocationID, &r.DOLocationID}
	for k, dst := range zones {
		i := 2 + k
		s, ok := cell(i)
		if !ok {
			problem(i, "missing (the row has %d fields, the header %d)", len(rec), len(header))
			continue
		}
		v, err := csvInt(s)
		if err != nil {
			problem(i, "%v", err)
		}
		*dst = v
	}
	r.Passengers = math.NaN()
	if s, ok := cell(4); !ok {
		problem(4, "missing (the row has %d fields, the header %d)", len(rec), len(header))
	} else if s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			problem(4, "%q is not a number", s)
		}
		r.Passengers = v
	}
	if r.Problem != "" {
		obj := make(map[string]string, len(rec))
		for j, v := range rec {
			name := "field_" + strconv.Itoa(j+1)
			if j < len(header) {
				name = header[j]
			}
			obj[name] = v
		}
		r.Input, _ = json.Marshal(obj)
	}
}

// csvTime reads a time cell; empty is noTime.
func csvTime(s string) (int64, error) {
	if s == "" {
		return noTime, nil
	}
	for _, l := range csvTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return noTime, fmt.Errorf("%q is not a time like 2021-01-01 00:15:56", s)
}

// csvInt reads a zone cell: an integer, possibly written as 132.0; empty
// is 0, which no zone has.
func csvInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1e15 {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return int64(f), nil
}
