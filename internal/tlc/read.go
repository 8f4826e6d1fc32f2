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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
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

// ReadFile streams the trips of one file (parquet, or CSV with TLC headers
// when the name ends in .csv) to fn in batches: one parquet row group
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
	// maxDef is the definition level of a present value (0: required column).
	maxDef int
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
	pf, err := parquet.OpenFile(r, size,
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(readBufferSize))
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
		batch   []trip.Raw
		readers = make([]columnReader, len(cols))
		errs    = make([]error, len(cols))
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
		// The columns are independent: decode them side by side. Each
		// goroutine writes one field of every row, never another's.
		var wg sync.WaitGroup
		for ci := range cols {
			wg.Go(func() {
				errs[ci] = readers[ci].read(chunks[cols[ci].index], cols[ci], ci, batch)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
	return nil
}

// readBufferSize is how much of a column chunk each read from the file
// fetches: large enough that a chunk takes a few system calls, not hundreds.
const readBufferSize = 256 << 10

func lookupParquet(s *parquet.Schema, spec colSpec) (parquetColumn, error) {
	for _, name := range spec.names {
		leaf, ok := s.Lookup(name)
		if !ok {
			continue
		}
		t := leaf.Node.Type()
		c := parquetColumn{name: name, index: leaf.ColumnIndex, kind: t.Kind(), maxDef: leaf.MaxDefinitionLevel}
		if leaf.MaxRepetitionLevel > 0 {
			return c, fmt.Errorf("%w: column %s is repeated; want one value per row", ErrFormat, name)
		}
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

// Nulls: a missing time or zone becomes a value the cleaning rules drop
// (zone 0, a NaN duration); a missing passenger count is NaN, its own category.
const (
	nullTime int64 = math.MinInt64 / 2
	nullZone int64 = 0
)

// columnReader decodes one column, page by page, straight from the typed
// page buffers (no parquet.Value per value). Its scratch slices are reused
// from row group to row group.
type columnReader struct {
	ints   []int64
	floats []float64
	// conv and convF hold a page's values converted (timestamps to
	// microseconds, ids to int64, counts to float64).
	conv  []int64
	convF []float64
	// dictionary of the current column chunk, converted once.
	dict      parquet.Dictionary
	dictInts  []int64
	dictFloat []float64
}

// read decodes column c of one row group into field ci of batch.
func (cr *columnReader) read(chunk parquet.ColumnChunk, c parquetColumn, ci int, batch []trip.Raw) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: column %s: corrupt parquet data: %v", ErrFormat, c.name, p)
		}
	}()
	pages := chunk.Pages()
	defer pages.Close()
	cr.dict = nil
	row := 0
	for {
		page, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: column %s: %v", ErrFormat, c.name, err)
		}
		n := int(page.NumRows())
		if n > len(batch)-row {
			parquet.Release(page)
			return fmt.Errorf("%w: column %s has more values than rows", ErrFormat, c.name)
		}
		err = cr.decodePage(page, c, ci, batch[row:row+n])
		parquet.Release(page)
		if err != nil {
			return err
		}
		row += n
	}
	if row != len(batch) {
		return fmt.Errorf("%w: column %s has %d values for %d rows", ErrFormat, c.name, row, len(batch))
	}
	return nil
}

// decodePage stores one page's values in field ci of rows.
func (cr *columnReader) decodePage(page parquet.Page, c parquetColumn, ci int, rows []trip.Raw) error {
	var levels []byte
	if c.maxDef > 0 {
		levels = page.DefinitionLevels()
		if len(levels) != len(rows) {
			return fmt.Errorf("%w: column %s: page has %d definition levels for %d rows", ErrFormat, c.name, len(levels), len(rows))
		}
	}
	data := page.Data()
	var idx []int32 // with a dictionary, the page holds indexes (none if all null)
	indexed := false
	if d := page.Dictionary(); d != nil {
		indexed = true
		idx = data.Int32()
		if d != cr.dict {
			cr.dict = d
			cr.loadDictionary(d.Page().Data(), c, ci)
		}
	}
	if ci == 4 { // passenger count: float64
		cr.floats = grow(cr.floats, len(rows))
		var err error
		if indexed {
			err = expand(cr.floats, levels, byte(c.maxDef), cr.dictFloat, true, idx, math.NaN())
		} else {
			cr.convF = convertFloats(data, c, cr.convF[:0])
			err = expand(cr.floats, levels, byte(c.maxDef), cr.convF, false, nil, math.NaN())
		}
		if err != nil {
			return fmt.Errorf("%w: column %s: %v", ErrFormat, c.name, err)
		}
		for i := range rows {
			rows[i].Passengers = cr.floats[i]
		}
		return nil
	}
	null := nullZone
	if ci <= 1 {
		null = nullTime
	}
	cr.ints = grow(cr.ints, len(rows))
	var err error
	if indexed {
		err = expand(cr.ints, levels, byte(c.maxDef), cr.dictInts, true, idx, null)
	} else {
		cr.conv = convertInts(data, c, ci, cr.conv[:0])
		err = expand(cr.ints, levels, byte(c.maxDef), cr.conv, false, nil, null)
	}
	if err != nil {
		return fmt.Errorf("%w: column %s: %v", ErrFormat, c.name, err)
	}
	switch ci {
	case 0:
		for i := range rows {
			rows[i].PickupMicros = cr.ints[i]
		}
	case 1:
		for i := range rows {
			rows[i].DropoffMicros = cr.ints[i]
		}
	case 2:
		for i := range rows {
			rows[i].PULocationID = cr.ints[i]
		}
	case 3:
		for i := range rows {
			rows[i].DOLocationID = cr.ints[i]
		}
	}
	return nil
}

// loadDictionary converts a dictionary's values once, so that each indexed
// value is a plain lookup.
func (cr *columnReader) loadDictionary(values encoding.Values, c parquetColumn, ci int) {
	if ci == 4 {
		cr.dictFloat = convertFloats(values, c, cr.dictFloat[:0])
		return
	}
	cr.dictInts = convertInts(values, c, ci, cr.dictInts[:0])
}

// convertInts appends the page values of a time or zone column to dst as
// int64 (microseconds for times).
func convertInts(values encoding.Values, c parquetColumn, ci int, dst []int64) []int64 {
	switch c.kind {
	case parquet.Int64:
		v := values.Int64()
		dst = slices.Grow(dst, len(v))
		if ci <= 1 { // a time
			for _, x := range v {
				dst = append(dst, c.micros(x))
			}
			return dst
		}
		return append(dst, v...)
	case parquet.Int96:
		for _, x := range values.Int96() {
			dst = append(dst, int96Micros(x))
		}
	case parquet.Int32:
		for _, x := range values.Int32() {
			dst = append(dst, int64(x))
		}
	case parquet.Float:
		for _, x := range values.Float() {
			dst = append(dst, floatToInt(float64(x)))
		}
	case parquet.Double:
		for _, x := range values.Double() {
			dst = append(dst, floatToInt(x))
		}
	}
	return dst
}

// convertFloats appends the page values of a number column to dst as float64.
func convertFloats(values encoding.Values, c parquetColumn, dst []float64) []float64 {
	if c.kind == parquet.Int64 {
		dst = slices.Grow(dst, len(values.Int64()))
	}
	switch c.kind {
	case parquet.Double:
		return append(dst, values.Double()...)
	case parquet.Float:
		for _, x := range values.Float() {
			dst = append(dst, float64(x))
		}
	case parquet.Int32:
		for _, x := range values.Int32() {
			dst = append(dst, float64(x))
		}
	case parquet.Int64:
		for _, x := range values.Int64() {
			dst = append(dst, float64(x))
		}
	}
	return dst
}

// expand writes one value per row into dst: values in order (or, when
// indexed, values[idx[k]]) where the definition level says present, null
// elsewhere.
func expand[T any](dst []T, levels []byte, maxDef byte, values []T, indexed bool, idx []int32, null T) error {
	next := func(j int) (T, error) {
		if indexed {
			if j >= len(idx) {
				var zero T
				return zero, errors.New("fewer values than definition levels say")
			}
			k := idx[j]
			if k < 0 || int(k) >= len(values) {
				var zero T
				return zero, fmt.Errorf("dictionary index %d out of range (dictionary has %d values)", k, len(values))
			}
			return values[k], nil
		}
		if j >= len(values) {
			var zero T
			return zero, errors.New("fewer values than definition levels say")
		}
		return values[j], nil
	}
	if levels == nil {
		if !indexed {
			if len(values) != len(dst) {
				return fmt.Errorf("page has %d values for %d rows", len(values), len(dst))
			}
			copy(dst, values)
			return nil
		}
		if len(idx) != len(dst) {
			return fmt.Errorf("page has %d values for %d rows", len(idx), len(dst))
		}
		for i, k := range idx {
			if k < 0 || int(k) >= len(values) {
				return fmt.Errorf("dictionary index %d out of range (dictionary has %d values)", k, len(values))
			}
			dst[i] = values[k]
		}
		return nil
	}
	j := 0
	for i, l := range levels {
		if l != maxDef {
			dst[i] = null
			continue
		}
		v, err := next(j)
		if err != nil {
			return err
		}
		dst[i] = v
		j++
	}
	return nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// int96Micros decodes the legacy Impala timestamp: nanoseconds of the day in
// the low 8 bytes, the Julian day number in the high 4.
func int96Micros(i deprecated.Int96) int64 {
	nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
	days := int64(i[2]) - 2440588
	return days*86400e6 + nanos/1000
}

// floatToInt is a zone id stored as a float: kept when integral, else 0 (not a zone).
func floatToInt(f float64) int64 {
	if f != math.Trunc(f) || math.Abs(f) > 1e9 {
		return 0
	}
	return int64(f)
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
