package tlc

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// CSV columns, in the order of the indexes CSVHeader returns.
const (
	CSVPickup = iota
	CSVDropoff
	CSVPickupZone
	CSVDropoffZone
	CSVPassengers
	NumCSVColumns
)

// CSVHeader finds the trip columns in a CSV header line, by any of the names
// each TLC layout uses (case and surrounding space ignored, a byte-order
// mark allowed), and returns their positions in the order of the CSV*
// constants. It is exported for readers that must treat a bad cell row by
// row (batch scoring rejects the row) where ReadFile stops the file.
func CSVHeader(header []string) ([NumCSVColumns]int, error) {
	var index [NumCSVColumns]int
	for i, s := range specs {
		index[i] = -1
		for j, h := range header {
			h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
			for _, name := range s.names {
				if strings.EqualFold(h, name) {
					index[i] = j
				}
			}
		}
		if index[i] < 0 {
			return index, fmt.Errorf("%w: no %s column (want one of %s)", ErrFormat, s.role, strings.Join(s.names, ", "))
		}
	}
	return index, nil
}

// csvTimeLayouts are the time layouts the TLC and common exports use.
var csvTimeLayouts = []string{
	"2006-01-02 15:04:05", "2006-01-02T15:04:05", "01/02/2006 03:04:05 PM",
	"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999",
}

// ParseCSVTime reads a time cell, NYC wall-clock time in any layout the TLC
// and common exports use, as microseconds since the epoch; empty is
// NullTime.
func ParseCSVTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return NullTime, nil
	}
	for _, l := range csvTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return NullTime, fmt.Errorf("%q is not a time like 2021-01-01 00:15:56", s)
}

// ParseCSVZone reads a zone id cell: an integer, possibly written as
// 132.0 (some exports write ids as floats); empty is 0, which no zone has.
func ParseCSVZone(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nullZone, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1e15 {
		return nullZone, fmt.Errorf("%q is not an integer", s)
	}
	return int64(f), nil
}

// ParseCSVPassengers reads a passenger count cell; empty is NaN, the
// unknown count.
func ParseCSVPassengers(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN(), fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// readCSV reads a CSV file with TLC headers in batches of BatchSize rows;
// a cell it cannot read stops it, naming the line and the column.
func readCSV(ctx context.Context, r io.Reader, fn func(*Columns) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("%w: empty CSV file", ErrFormat)
		}
		return fmt.Errorf("%w: CSV header: %v", ErrFormat, err)
	}
	header = append([]string(nil), header...) // the reader reuses the record
	index, err := CSVHeader(header)
	if err != nil {
		return err
	}
	var batch Columns
	line := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
		cellErr := func(col int, err error) error {
			return fmt.Errorf("%w: line %d: %s: %v", ErrFormat, line, header[index[col]], err)
		}
		var raw trip.Raw
		if raw.PickupMicros, err = ParseCSVTime(rec[index[CSVPickup]]); err != nil {
			return cellErr(CSVPickup, err)
		}
		if raw.DropoffMicros, err = ParseCSVTime(rec[index[CSVDropoff]]); err != nil {
			return cellErr(CSVDropoff, err)
		}
		if raw.PULocationID, err = ParseCSVZone(rec[index[CSVPickupZone]]); err != nil {
			return cellErr(CSVPickupZone, err)
		}
		if raw.DOLocationID, err = ParseCSVZone(rec[index[CSVDropoffZone]]); err != nil {
			return cellErr(CSVDropoffZone, err)
		}
		if raw.Passengers, err = ParseCSVPassengers(rec[index[CSVPassengers]]); err != nil {
			return cellErr(CSVPassengers, err)
		}
		batch.append(raw)
		if batch.Len() == BatchSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(&batch); err != nil {
				return err
			}
			batch.resize(0)
		}
	}
	if batch.Len() > 0 {
		return fn(&batch)
	}
	return nil
}
