// Package tlc reads NYC Taxi and Limousine Commission trip record files
// (monthly parquet files and CSV with TLC headers), resolves month specs such
// as green:2021-01..2021-03 to files, and downloads missing months from the
// TLC's public trip-data URL into a cache.
package tlc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// Columns is a batch of trips held column by column: element i of every
// slice belongs to trip i. Readers that touch every trip once (scoring a
// file) read it without building a row per trip; Raw gives one trip as a
// row.
type Columns struct {
	// PickupMicros and DropoffMicros are NYC wall-clock times in
	// microseconds since the Unix epoch, NullTime when the file leaves
	// them empty.
	PickupMicros  []int64
	DropoffMicros []int64
	// PULocationID and DOLocationID are the zone ids as stated, 0 when empty.
	PULocationID []int64
	DOLocationID []int64
	// Passengers is the stated passenger count, NaN when empty.
	Passengers []float64
}

// NullTime is the time of a trip whose file leaves it empty: far enough
// from any real time that cleaning drops the trip.
const NullTime int64 = math.MinInt64 / 2

// Len is the number of trips.
func (c *Columns) Len() int { return len(c.PULocationID) }

// Raw is trip i as a row.
func (c *Columns) Raw(i int) trip.Raw {
	return trip.Raw{
		PickupMicros: c.PickupMicros[i], DropoffMicros: c.DropoffMicros[i],
		PULocationID: c.PULocationID[i], DOLocationID: c.DOLocationID[i],
		Passengers: c.Passengers[i],
	}
}

// append adds one trip.
func (c *Columns) append(r trip.Raw) {
	c.PickupMicros = append(c.PickupMicros, r.PickupMicros)
	c.DropoffMicros = append(c.DropoffMicros, r.DropoffMicros)
	c.PULocationID = append(c.PULocationID, r.PULocationID)
	c.DOLocationID = append(c.DOLocationID, r.DOLocationID)
	c.Passengers = append(c.Passengers, r.Passengers)
}

// resize makes every column n long, reusing its array when large enough.
func (c *Columns) resize(n int) {
	c.PickupMicros = grow(c.PickupMicros, n)
	c.DropoffMicros = grow(c.DropoffMicros, n)
	c.PULocationID = grow(c.PULocationID, n)
	c.DOLocationID = grow(c.DOLocationID, n)
	c.Passengers = grow(c.Passengers, n)
}

// ReadFile streams the trips of one file (parquet, or CSV with TLC headers
// when the name ends in .csv) to fn in batches of rows: one parquet row
// group at a time, so memory does not grow with the file. The batch slice
// is reused between calls; fn must not keep it.
func ReadFile(ctx context.Context, path string, fn func([]trip.Raw) error) error {
	var rows []trip.Raw
	return ReadColumns(ctx, path, func(c *Columns) error {
		rows = slices.Grow(rows[:0], c.Len())
		for i := range c.Len() {
			rows = append(rows, c.Raw(i))
		}
		return fn(rows)
	})
}

// ReadColumns streams the trips of one file as ReadFile does, column by
// column. The Columns and their slices are reused between calls; fn must
// not keep them.
func ReadColumns(ctx context.Context, path string, fn func(*Columns) error) error {
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

// specs are the columns a trip file must have, in the order of the CSV*
// constants.
var specs = [NumCSVColumns]colSpec{
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
	// unit is the unit of a timestamp's stored integer.
	unit time.Duration
}

func readParquet(ctx context.Context, r io.ReaderAt, size int64, fn func(*Columns) error) (err error) {
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
		batch   Columns
		readers = make([]columnReader, len(cols))
		errs    = make([]error, len(cols))
	)
	for i, rg := range pf.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := rg.NumRows()
		if n < 0 || n > MaxRowGroupRows {
			return fmt.Errorf("%w: row group %d says it has %d rows; at most %d are read at once", ErrFormat, i, n, MaxRowGroupRows)
		}
		batch.resize(int(n))
		chunks := rg.ColumnChunks()
		// The columns are independent: decode them side by side, each
		// goroutine into its own column.
		var wg sync.WaitGroup
		for ci := range cols {
			wg.Go(func() {
				errs[ci] = readers[ci].read(chunks[cols[ci].index], cols[ci], ci, &batch)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := fn(&batch); err != nil {
			return err
		}
	}
	return nil
}

// MaxRowGroupRows is the most rows a parquet row group may have: the reader
// holds one row group's columns, 40 bytes a row, so a footer claiming more
// (Arrow's largest default row group has 64 Mi rows) is refused rather
// than allocated.
const MaxRowGroupRows = 64 << 20

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
				c.unit = timestampUnit(t)
				if c.unit == 0 {
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

// timestampUnit returns the unit of a stored INT64 timestamp (nanoseconds,
// microseconds or milliseconds), or 0 when the column is not a timestamp.
func timestampUnit(t parquet.Type) time.Duration {
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
	case time.Nanosecond, time.Microsecond, time.Millisecond:
		return unit
	}
	return 0
}

// nullZone is a missing zone id: not a zone, so cleaning drops the trip. A
// missing time is NullTime; a missing passenger count is NaN, its own
// category.
const nullZone int64 = 0

// columnReader decodes one column, page by page, straight from the typed
// page buffers (no parquet.Value per value) into its slice of Columns. Its
// scratch slices are reused from row group to row group.
type columnReader struct {
	// conv and convF hold a PLAIN page's values converted (timestamps to
	// microseconds, ids to int64, counts to float64).
	conv  []int64
	convF []float64
	// dictionary of the current column chunk, converted once: dictView
	// is its values as int64, either dictInts or, when they need no
	// conversion, the dictionary's own.
	dict      parquet.Dictionary
	dictInts  []int64
	dictView  []int64
	dictFloat []float64
}

// read decodes column c of one row group into column ci of batch.
func (cr *columnReader) read(chunk parquet.ColumnChunk, c parquetColumn, ci int, batch *Columns) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: column %s: corrupt parquet data: %v", ErrFormat, c.name, p)
		}
	}()
	pages := chunk.Pages()
	defer pages.Close()
	cr.dict = nil
	var (
		ints   []int64
		floats []float64
	)
	switch ci {
	case 0:
		ints = batch.PickupMicros
	case 1:
		ints = batch.DropoffMicros
	case 2:
		ints = batch.PULocationID
	case 3:
		ints = batch.DOLocationID
	default:
		floats = batch.Passengers
	}
	rows := batch.Len()
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
		if n > rows-row {
			parquet.Release(page)
			return fmt.Errorf("%w: column %s has more values than rows", ErrFormat, c.name)
		}
		if floats != nil {
			err = cr.decodeFloats(page, c, floats[row:row+n])
		} else {
			err = cr.decodeInts(page, c, ci, ints[row:row+n])
		}
		parquet.Release(page)
		if err != nil {
			return fmt.Errorf("%w: column %s: %v", ErrFormat, c.name, err)
		}
		row += n
	}
	if row != rows {
		return fmt.Errorf("%w: column %s has %d values for %d rows", ErrFormat, c.name, row, rows)
	}
	return nil
}

// pageValues returns a page's definition levels (nil for a required
// column) and, when the page is dictionary-encoded, its indexes; a new
// dictionary is converted with load first.
func (cr *columnReader) pageValues(page parquet.Page, c parquetColumn, rows int, load func(encoding.Values)) (levels []byte, indexed bool, idx []int32, err error) {
	if c.maxDef > 0 {
		levels = page.DefinitionLevels()
		if len(levels) != rows {
			return nil, false, nil, fmt.Errorf("page has %d definition levels for %d rows", len(levels), rows)
		}
	}
	if d := page.Dictionary(); d != nil {
		// The page holds indexes (none if all values are null).
		if d != cr.dict {
			cr.dict = d
			load(d.Page().Data())
		}
		data := page.Data()
		return levels, true, data.Int32(), nil
	}
	return levels, false, nil, nil
}

// decodeInts stores one page of a time or zone column in dst, one value a row.
func (cr *columnReader) decodeInts(page parquet.Page, c parquetColumn, ci int, dst []int64) error {
	levels, indexed, idx, err := cr.pageValues(page, c, len(dst), func(v encoding.Values) {
		if as, ok := int64sAsIs(v, c); ok {
			cr.dictView = as
			return
		}
		cr.dictInts = convertInts(v, c, cr.dictInts[:0])
		cr.dictView = cr.dictInts
	})
	if err != nil {
		return err
	}
	null := nullZone
	if ci <= 1 {
		null = NullTime
	}
	if indexed {
		return expand(dst, levels, byte(c.maxDef), cr.dictView, true, idx, null)
	}
	values, ok := int64sAsIs(page.Data(), c)
	if !ok {
		cr.conv = convertInts(page.Data(), c, cr.conv[:0])
		values = cr.conv
	}
	return expand(dst, levels, byte(c.maxDef), values, false, nil, null)
}

// decodeFloats stores one page of the passenger count in dst, one value a row.
func (cr *columnReader) decodeFloats(page parquet.Page, c parquetColumn, dst []float64) error {
	levels, indexed, idx, err := cr.pageValues(page, c, len(dst), func(v encoding.Values) {
		cr.dictFloat = convertFloats(v, c, cr.dictFloat[:0])
	})
	if err != nil {
		return err
	}
	if indexed {
		return expand(dst, levels, byte(c.maxDef), cr.dictFloat, true, idx, math.NaN())
	}
	cr.convF = convertFloats(page.Data(), c, cr.convF[:0])
	return expand(dst, levels, byte(c.maxDef), cr.convF, false, nil, math.NaN())
}

// int64sAsIs returns the values of a time or zone column as they are
// stored when they need no conversion: INT64 zone ids, or INT64 times in
// microseconds. The slice is the page's or dictionary's own memory, not a
// copy. A page's is pooled: it is read only before the page is released.
// A dictionary's is not: parquet-go (v0.32.0, Column.decodeDictionary)
// decodes it into memory of its own that no pool takes back, so it stays
// valid for as long as the columnReader holds it, past the chunk's end.
func int64sAsIs(values encoding.Values, c parquetColumn) ([]int64, bool) {
	if c.kind != parquet.Int64 || (c.unit != 0 && c.unit != time.Microsecond) {
		return nil, false
	}
	return values.Int64(), true
}

// convertInts appends the page values of a time or zone column to dst as
// int64 (microseconds for times).
func convertInts(values encoding.Values, c parquetColumn, dst []int64) []int64 {
	switch c.kind {
	case parquet.Int64:
		v := values.Int64()
		dst = slices.Grow(dst, len(v))
		switch c.unit {
		case time.Nanosecond:
			for _, x := range v {
				dst = append(dst, x/1000)
			}
		case time.Millisecond:
			for _, x := range v {
				dst = append(dst, x*1000)
			}
		default: // microseconds, or a zone id
			dst = append(dst, v...)
		}
		return dst
	case parquet.Int96:
		for _, x := range values.Int96() {
			dst = append(dst, int96Micros(x))
		}
	case parquet.Int32:
		dst = appendConverted(dst, values.Int32())
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

// appendConverted appends src to dst, each value converted to dst's type.
func appendConverted[D, S int32 | int64 | float32 | float64](dst []D, src []S) []D {
	dst = slices.Grow(dst, len(src))
	for _, x := range src {
		dst = append(dst, D(x))
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
		dst = appendConverted(dst, values.Float())
	case parquet.Int32:
		dst = appendConverted(dst, values.Int32())
	case parquet.Int64:
		dst = appendConverted(dst, values.Int64())
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
