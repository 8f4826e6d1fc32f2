// Package tlc reads NYC Taxi and Limousine Commission trip record files
// (monthly parquet files and CSV with TLC headers), resolves month specs such
// as green:2021-01..2021-03 to files, and downloads missing months from the
// TLC's public trip-data URL into a cache.
package tlc

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/taxieta/taxieta/internal/trip"
)

// BatchSize is the most rows handed to a callback at once when a file has no
// row groups of its own (CSV).
const BatchSize = 64 << 10

// Columns name the columns a trip file must have, with the names each layout
// uses: TLC green (lpep_*), TLC yellow (tpep_*), and snake_case renamings.
var (
	pickupNames     = []string{"lpep_pickup_datetime", "tpep_pickup_datetime", "pickup_datetime"}
	dropoffNames    = []string{"lpep_dropoff_datetime", "tpep_dropoff_datetime", "dropoff_datetime"}
	puNames         = []string{"PULocationID", "pickup_location_id"}
	doNames         = []string{"DOLocationID", "dropoff_location_id"}
	passengersNames = []string{"passenger_count"}
)

// ErrFormat marks a file that is not a readable trip file: not parquet or
// CSV, truncated, missing a column, or a column of the wrong type.
var ErrFormat = errors.New("not a readable TLC trip file")

// ReadFile streams the trips of one file (parquet, or CSV when the name ends
// in .csv or .csv.gz is not supported) to fn in batches: one parquet row group
// at a time, so memory does not grow with the file. The batch slice is reused
// between calls; fn must not keep it.
func ReadFile(ctx context.Context, path string, fn func([]trip.Raw) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read trips %s: %w", path, err)
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		if err := readCSV(ctx, f, fn); err != nil {
			return fmt.Errorf("read trips %s: %w", path, err)
		}
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read trips %s: %w", path, err)
	}
	if err := readParquet(ctx, f, st.Size(), fn); err != nil {
		return fmt.Errorf("read trips %s: %w", path, err)
	}
	return nil
}

type colKind int

const (
	kindTime colKind = iota
	kindInt
	kindFloat
)

type colSpec struct {
	role  string
	names []string
	kind  colKind
}

var specs = []colSpec{
	{"pickup time", pickupNames, kindTime},
	{"dropoff time", dropoffNames, kindTime},
	{"pickup zone", puNames, kindInt},
	{"dropoff zone", doNames, kindInt},
	{"passenger count", passengersNames, kindFloat},
}

// parquetColumn is one needed column of a parquet file and how to decode it.
type parquetColumn struct {
	name  string
	index int
	kind  parquet.Kind
	// unit converts a timestamp's stored integer to microseconds.
	micros func(int64) int64
}

func readParquet(ctx context.Context, r io.ReaderAt, size int64, fn func([]trip.Raw) error) (err error) {
	defer func() {
		// parquet-go panics on some corrupt inputs; a bad file must be an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: corrupt parquet data: %v", ErrFormat, p)
		}
	}()
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	cols := make([]parquetColumn, len(specs))
	for i, s := range specs {
		c, err := lookupParquet(pf.Schema(), s)
		if err != nil {
			return err
		}
		cols[i] = c
	}
	var (
		batch  []trip.Raw
		values = make([]parquet.Value, 4096)
	)
	for _, rg := range pf.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(rg.NumRows())
		if cap(batch) < n {
			batch = make([]trip.Raw, n)
		}
		batch = batch[:n]
		chunks := rg.ColumnChunks()
		for ci, c := range cols {
			if err := readColumn(chunks[c.index], c, ci, batch, values); err != nil {
				return err
			}
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
	return nil
}

func lookupParquet(s *parquet.Schema, spec colSpec) (parquetColumn, error) {
	for _, name := range spec.names {
		leaf, ok := s.Lookup(name)
		if !ok {
			continue
		}
		t := leaf.Node.Type()
		c := parquetColumn{name: name, index: leaf.ColumnIndex, kind: t.Kind()}
		switch spec.kind {
		case kindTime:
			switch t.Kind() {
			case parquet.Int64:
				c.micros = timestampUnit(t)
				if c.micros == nil {
					return c, fmt.Errorf("%w: column %s is INT64 without a timestamp type", ErrFormat, name)
				}
			case parquet.Int96:
			default:
				return c, fmt.Errorf("%w: column %s has type %s; want a timestamp", ErrFormat, name, t)
			}
		case kindInt, kindFloat:
			switch t.Kind() {
			case parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
			default:
				return c, fmt.Errorf("%w: column %s has type %s; want a number", ErrFormat, name, t)
			}
		}
		return c, nil
	}
	return parquetColumn{}, fmt.Errorf("%w: no %s column (want one of %s)", ErrFormat, spec.role, strings.Join(spec.names, ", "))
}

// timestampUnit returns the conversion of a stored INT64 timestamp to
// microseconds, or nil when the column is not a timestamp.
func timestampUnit(t parquet.Type) func(int64) int64 {
	unit := time.Duration(0)
	if lt := t.LogicalType(); lt != nil {
		if ts, ok := lt.Value.(*format.TimestampType); ok && ts.Unit.Value != nil {
			unit = ts.Unit.Value.Duration()
		}
	}
	if unit == 0 {
		if ct := t.ConvertedType(); ct != nil {
			switch *ct {
			case deprecated.TimestampMicros:
				unit = time.Microsecond
			case deprecated.TimestampMillis:
				unit = time.Millisecond
			}
		}
	}
	switch unit {
	case time.Nanosecond:
		return func(v int64) int64 { return v / 1000 }
	case time.Microsecond:
		return func(v int64) int64 { return v }
	case time.Millisecond:
		return func(v int64) int64 { return v * 1000 }
	}
	return nil
}

// readColumn decodes column c of one row group into field ci of batch.
func readColumn(chunk parquet.ColumnChunk, c parquetColumn, ci int, batch []trip.Raw, values []parquet.Value) error {
	vr := parquet.NewColumnChunkValueReader(chunk)
	defer vr.Close()
	row := 0
	for {
		n, err := vr.ReadValues(values)
		for _, v := range values[:n] {
			if row >= len(batch) {
				return fmt.Errorf("%w: column %s has more values than rows", ErrFormat, c.name)
			}
			setField(&batch[row], ci, c, v)
			row++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: column %s: %v", ErrFormat, c.name, err)
		}
	}
	if row != len(batch) {
		return fmt.Errorf("%w: column %s has %d values for %d rows", ErrFormat, c.name, row, len(batch))
	}
	return nil
}

// Nulls: a missing time or zone becomes a value the cleaning rules drop
// (zone 0, a NaN duration); a missing passenger count is NaN, its own category.
func setField(r *trip.Raw, ci int, c parquetColumn, v parquet.Value) {
	switch ci {
	case 0:
		r.PickupMicros = timeValue(c, v, math.MinInt64/2)
	case 1:
		r.DropoffMicros = timeValue(c, v, math.MinInt64/2)
	case 2:
		r.PULocationID = intValue(v)
	case 3:
		r.DOLocationID = intValue(v)
	case 4:
		r.Passengers = floatValue(v)
	}
}

func timeValue(c parquetColumn, v parquet.Value, null int64) int64 {
	if v.IsNull() {
		return null
	}
	if v.Kind() == parquet.Int96 {
		return int96Micros(v.Int96())
	}
	return c.micros(v.Int64())
}

// int96Micros decodes the legacy Impala timestamp: nanoseconds of the day in
// the low 8 bytes, the Julian day number in the high 4.
func int96Micros(i deprecated.Int96) int64 {
	nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
	days := int64(i[2]) - 2440588
	return days*86400e6 + nanos/1000
}

func intValue(v parquet.Value) int64 {
	switch v.Kind() {
	case parquet.Int32:
		return int64(v.Int32())
	case parquet.Int64:
		return v.Int64()
	case parquet.Float, parquet.Double:
		f := floatValue(v)
		if f != math.Trunc(f) || math.Abs(f) > 1e9 {
			return 0
		}
		return int64(f)
	}
	return 0
}

func floatValue(v parquet.Value) float64 {
	switch v.Kind() {
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	}
	return math.NaN()
}

// CSV time layouts the TLC and common exports use.
var csvTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "01/02/2006 03:04:05 PM", "2006-01-02 15:04:05.999999"}

func readCSV(ctx context.Context, r io.Reader, fn func([]trip.Raw) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("%w: empty CSV file", ErrFormat)
		}
		return fmt.Errorf("%w: CSV header: %v", ErrFormat, err)
	}
	index := make([]int, len(specs))
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
			return fmt.Errorf("%w: no %s column (want one of %s)", ErrFormat, s.role, strings.Join(s.names, ", "))
		}
	}
	batch := make([]trip.Raw, 0, 4096)
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
		var raw trip.Raw
		if raw.PickupMicros, err = csvTime(rec[index[0]]); err != nil {
			return fmt.Errorf("%w: line %d: %s: %v", ErrFormat, line, header[index[0]], err)
		}
		if raw.DropoffMicros, err = csvTime(rec[index[1]]); err != nil {
			return fmt.Errorf("%w: line %d: %s: %v", ErrFormat, line, header[index[1]], err)
		}
		if raw.PULocationID, err = csvInt(rec[index[2]]); err != nil {
			return fmt.Errorf("%w: line %d: %s: %v", ErrFormat, line, header[index[2]], err)
		}
		if raw.DOLocationID, err = csvInt(rec[index[3]]); err != nil {
			return fmt.Errorf("%w: line %d: %s: %v", ErrFormat, line, header[index[3]], err)
		}
		raw.Passengers = math.NaN()
		if s := strings.TrimSpace(rec[index[4]]); s != "" {
			if raw.Passengers, err = strconv.ParseFloat(s, 64); err != nil {
				return fmt.Errorf("%w: line %d: passenger_count: %v", ErrFormat, line, err)
			}
		}
		batch = append(batch, raw)
		if len(batch) == BatchSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

func csvTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.MinInt64 / 2, nil
	}
	for _, l := range csvTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("time %q not in a known layout (want YYYY-MM-DD HH:MM:SS)", s)
}

func csvInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return int64(f), nil
}
