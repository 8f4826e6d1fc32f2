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
	"sync/atomic"

	"github.com/taxieta/taxieta/internal/tlc"
)

// csvSource reads a CSV file with TLC headers. It finds the columns and
// reads the cells as internal/tlc does; it exists beside tlc's reader
// because a batch job must reject a bad cell row by row rather than stop
// the file.
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
	index, err := tlc.CSVHeader(header)
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
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
func parseCSVRecord(r *tripRow, rec, header []string, index [tlc.NumCSVColumns]int) {
	problem := func(col int, msg string) { // the first one found is the row's
		if r.Problem == "" {
			r.Problem = header[index[col]] + ": " + msg
		}
	}
	cell := func(col int) (string, bool) {
		if index[col] >= len(rec) {
			problem(col, fmt.Sprintf("missing (the row has %d fields, the header %d)", len(rec), len(header)))
			return "", false
		}
		return rec[index[col]], true
	}
	ints := [...]struct {
		col   int
		parse func(string) (int64, error)
		dst   *int64
	}{
		{tlc.CSVPickup, tlc.ParseCSVTime, &r.PickupMicros},
		{tlc.CSVDropoff, tlc.ParseCSVTime, &r.DropoffMicros},
		{tlc.CSVPickupZone, tlc.ParseCSVZone, &r.PULocationID},
		{tlc.CSVDropoffZone, tlc.ParseCSVZone, &r.DOLocationID},
	}
	var err error
	for _, f := range ints {
		if c, ok := cell(f.col); ok {
			if *f.dst, err = f.parse(c); err != nil {
				problem(f.col, err.Error())
			}
		}
	}
	r.Passengers = math.NaN()
	if c, ok := cell(tlc.CSVPassengers); ok {
		if r.Passengers, err = tlc.ParseCSVPassengers(c); err != nil {
			problem(tlc.CSVPassengers, err.Error())
		}
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
