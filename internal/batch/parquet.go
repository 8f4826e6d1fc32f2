package batch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/trip"
)

// The parquet output is written by a writer made for its one schema:
// parquet-go's general writer builds a parquet.Value per cell and took two
// thirds of a run; here each column is encoded from the rows straight into
// pages, in the encoding that suits its values:
//   - ride_id DELTA_BYTE_ARRAY: consecutive ids share all but their last
//     digits, so a row costs about two bytes, and no compression is needed;
//   - the zones RLE_DICTIONARY over a fixed dictionary of every zone id,
//     nine bits a row;
//   - the passenger count and the actual minutes RLE_DICTIONARY over a
//     dictionary of the row group's values (a few passenger counts, a few
//     thousand whole-second durations: under two bytes a row where PLAIN
//     takes eight), found in a small hash table of their bits; a row group
//     with more distinct values than maxDictionary writes its later pages
//     PLAIN, as Arrow's writer falls back;
//   - the pickup time DELTA_BINARY_PACKED: a file's rows come roughly in
//     pickup order, so the differences take about four bytes, not eight;
//   - the model's name and version RLE_DICTIONARY over a one-value
//     dictionary, a few bytes a page;
//   - the estimates PLAIN (float32 with nearly every value distinct:
//     neither a dictionary nor snappy gains).
//
// Definition levels are RLE; the numeric columns have min/max statistics
// (none for a row group's column that holds a NaN). The file says format
// version 2, as Arrow's files do, since RLE_DICTIONARY and DELTA_BYTE_ARRAY
// are format 2 encodings (a reader that knows only format 1's cannot read
// it), with v1 data pages, which every format 2 reader reads. pyarrow and
// parquet-go do, and the tests read the output with both.
// parquet-go's own metadata types, thrift encoder and DELTA_BINARY_PACKED
// and RLE encoders write the rest (and its DELTA_BYTE_ARRAY encoder ids
// of the input's own, which are not counted).

// Output column indexes, in the order of OutputColumns.
const (
	colRideID = iota
	colPickup
	colPU
	colDO
	colPassengers
	colActual
	colPredicted
	colLow
	colHigh
	colModelName
	colModelVersion
	numColumns
)

const (
	// RowGroupRows is the most rows in one row group of a parquet output:
	// the writer holds one row group, compressed, in memory.
	RowGroupRows = 128 << 10
	// pageRows is the most rows in one data page.
	pageRows = 16 << 10
)

// columnSpec describes one output column.
type columnSpec struct {
	typ       format.Type
	optional  bool
	text      bool // UTF-8 string
	timestamp bool // TIMESTAMP(MICROS), not adjusted to UTC: NYC wall-clock time
	// encoding of the data pages: format.Plain, format.DeltaByteArray,
	// format.DeltaBinaryPacked or format.RLEDictionary (the dictionary is
	// dictionaryValues').
	encoding format.Encoding
	// dynamic marks a dictionary made of the row group's own values
	// (chunkWriter.dict), not a fixed one.
	dynamic bool
	// snappy compresses the pages. No column has it now: on the estimates
	// (float bits) it saves nothing, and the other columns' encodings
	// leave it little, for a third of the encoding time.
	snappy bool
}

var outputColumns = [numColumns]columnSpec{
	colRideID:       {typ: format.ByteArray, text: true, encoding: format.DeltaByteArray},
	colPickup:       {typ: format.Int64, optional: true, timestamp: true, encoding: format.DeltaBinaryPacked},
	colPU:           {typ: format.Int32, encoding: format.RLEDictionary},
	colDO:           {typ: format.Int32, encoding: format.RLEDictionary},
	colPassengers:   {typ: format.Double, optional: true, encoding: format.RLEDictionary, dynamic: true},
	colActual:       {typ: format.Double, optional: true, encoding: format.RLEDictionary, dynamic: true},
	colPredicted:    {typ: format.Float},
	colLow:          {typ: format.Float},
	colHigh:         {typ: format.Float},
	colModelName:    {typ: format.ByteArray, text: true, encoding: format.RLEDictionary},
	colModelVersion: {typ: format.ByteArray, text: true, encoding: format.RLEDictionary},
}

// zoneBitWidth is the bit width of a zone's index (0..trip.MaxZone-1) in
// the zone dictionary.
const zoneBitWidth = 9

// dictionaryValues is the dictionary page body of a dictionary-encoded
// column, PLAIN-encoded, and the number of values in it: every zone id
// (the index of zone z is z-1), or the model's name or version.
func (p *parquetWriter) dictionaryValues(ci int) ([]byte, int) {
	le := binary.LittleEndian
	if outputColumns[ci].dynamic {
		d := &p.chunks[ci].dict
		if len(d.values) == 0 {
			// No value in the row group (all null): one entry, which no
			// index refers to, as a dictionary page of none may puzzle
			// a reader.
			d.values = append(d.values, 0)
		}
		b := make([]byte, 0, 8*len(d.values))
		for _, x := range d.values {
			b = le.AppendUint64(b, x)
		}
		return b, len(d.values)
	}
	switch ci {
	case colPU, colDO:
		b := make([]byte, 0, 4*trip.MaxZone)
		for z := 1; z <= trip.MaxZone; z++ {
			b = le.AppendUint32(b, uint32(z))
		}
		return b, trip.MaxZone
	case colModelName:
		return append(le.AppendUint32(nil, uint32(len(p.meta.modelName))), p.meta.modelName...), 1
	default:
		return append(le.AppendUint32(nil, uint32(len(p.meta.modelVersion))), p.meta.modelVersion...), 1
	}
}

// encodeOrder lists the columns from the costliest to encode to the
// cheapest, the order in which the encoders take them: the ids (counted
// up and delta-encoded) and the snappy-compressed passenger count first,
// the one-run model name and version last, so that both encoders finish
// a page at about the same time.
var encodeOrder = [numColumns]int{
	colRideID, colPassengers, colPU, colDO, colActual, colPickup,
	colPredicted, colLow, colHigh, colModelName, colModelVersion,
}

// encoders is how many goroutines encode the columns of a page.
const encoders = 2

// chunkWriter accumulates one column's pages for the current row group.
type chunkWriter struct {
	// pages are the page headers and bodies end to end. The buffer is
	// kept from one row group to the next: it grows in the first and is
	// reused after, where allocating each page afresh had the garbage
	// collector clear and reclaim the whole output once more.
	pages        []byte
	values       int64 // values, nulls included
	nulls        int64
	uncompressed int64 // page headers and uncompressed bodies
	// min and max of the present values (numeric columns).
	hasBounds          bool
	minInt, maxInt     int64
	minFloat, maxFloat float64
	// nan is set when a page held a NaN: min and max, which leave NaN
	// out, would then not cover that page's other values, so the chunk
	// gets none.
	nan bool
	// dict is the row group's dictionary of a dynamic column; plainPages
	// is set once it is full, when the chunk's later pages are PLAIN.
	dict       valueDict
	plainPages bool
}

// pageScratch is an encoder's working memory, reused from page to page and
// column to column: one set an encoder, not one a column, keeps the
// memory a run touches small.
type pageScratch struct {
	defs    []uint8 // definition levels, one per row
	encoded []byte  // the values
	levels  []byte  // the definition levels, encoded
	body    []byte  // levels and values, as the page stores them uncompressed
	// compressed is body compressed with snappy.
	compressed []byte
	ids        []byte   // the page's ride ids end to end, or their suffixes
	offsets    []uint32 // where each id starts in ids, and the end
	prefixes   []int32  // each id's prefix length
	lengths    []int32  // each id's suffix length
	zones      []int32  // the page's zone (or dictionary) indexes
	packed     []byte   // the indexes bit-packed, or the times delta-encoded
	times      []int64  // the page's present pickup times
	// rle is the RLE encoder of the zones or the levels, here because its
	// errors would refer to it: one made afresh for each page would be
	// allocated for each.
	rle rle.Encoding
}

// parquetWriter writes the output schema to a parquet file.
type parquetWriter struct {
	w         *bufio.Writer
	offset    int64
	meta      outputMeta
	ids       idCounter // renders the ride_id column
	chunks    [numColumns]chunkWriter
	scratch   [encoders]pageScratch
	inGroup   int64 // rows in the current row group
	rowGroups []format.RowGroup
	rows      int64
	closed    bool
}

// magic starts and ends a parquet file.
const magic = "PAR1"

func newParquetWriter(w io.Writer, meta outputMeta) (*parquetWriter, error) {
	p := &parquetWriter{w: bufio.NewWriterSize(w, 256<<10), meta: meta, ids: idCounter{ids: meta.ids}}
	if err := p.put([]byte(magic)); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parquetWriter) put(b []byte) error {
	n, err := p.w.Write(b)
	p.offset += int64(n)
	return err
}

func (p *parquetWriter) write(rows []tripRow) error {
	for len(rows) > 0 {
		n := min(len(rows), pageRows, int(RowGroupRows-p.inGroup))
		if err := p.writePage(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
		if p.inGroup >= RowGroupRows {
			if err := p.flushRowGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

// writePage encodes rows as one data page of every column, the columns
// shared out among the encoders as each becomes free.
func (p *parquetWriter) writePage(rows []tripRow) error {
	var (
		wg   sync.WaitGroup
		next atomic.Int32 // the next column to take, in encodeOrder
		errs [numColumns]error
	)
	encode := func(s *pageScratch) {
		for k := int(next.Add(1)) - 1; k < numColumns; k = int(next.Add(1)) - 1 {
			ci := encodeOrder[k]
			if err := p.encodePage(ci, rows, s); err != nil {
				errs[ci] = fmt.Errorf("column %s: %w", columnNames[ci], err)
			}
		}
	}
	for e := 1; e < encoders; e++ {
		wg.Go(func() { encode(&p.scratch[e]) })
	}
	encode(&p.scratch[0])
	wg.Wait()
	p.inGroup += int64(len(rows))
	p.rows += int64(len(rows))
	return errors.Join(errs[:]...)
}

// encodePage appends one data page of column ci to its chunk, working in s:
// it encodes the values (and, for an optional column, the definition
// levels) in the column's encoding, merges their bounds into the chunk's
// statistics, lays out the page body and appends it with its header.
func (p *parquetWriter) encodePage(ci int, rows []tripRow, s *pageScratch) error {
	c := &p.chunks[ci]
	spec := &outputColumns[ci]
	levels := slices.Grow(s.defs[:0], len(rows))
	v := slices.Grow(s.encoded[:0], len(rows)*maxValueWidth(spec.typ, len(p.meta.ids.prefix)))
	st := noValues
	var err error
	switch ci {
	case colRideID:
		v, err = p.encodeRideIDs(v, rows, s)
	case colPickup:
		levels, v, st = appendPickups(levels, v, rows)
		v, err = s.deltaInt64s(v)
	case colPU, colDO:
		v, st, err = appendZones(v, ci, rows, s)
	case colPassengers, colActual:
		levels, v, st = appendOptionalDoubles(levels, v, ci, rows)
		if !c.plainPages {
			var ok bool
			if v, ok, err = c.dict.encode(ci, v, s); err == nil && !ok {
				c.plainPages = true // v is still PLAIN
			}
		}
	case colPredicted, colLow, colHigh:
		v, st = appendEstimates(v, ci, rows)
	case colModelName, colModelVersion:
		v = appendFirstEntryRun(v, len(rows))
	}
	if err != nil {
		return err
	}
	c.mergeBounds(st)
	s.encoded, s.defs = v, levels
	body, err := s.pageBody(spec.optional, levels, v, len(rows))
	if err != nil {
		return err
	}
	enc := spec.encoding
	if c.plainPages {
		enc = format.Plain
	}
	if cap(c.pages) == 0 && len(rows) > 0 {
		// The first page sizes the buffer for a whole row group at its
		// rate, with some room: grown by appending instead, it was
		// copied and, fresh memory being faulted in page by page, paid
		// for about twice its size in a run of one row group. A first
		// page shorter than a chunk is a small input: room for a few
		// such pages, then appending.
		expect := RowGroupRows
		if len(rows) < chunkRows {
			expect = 4 * len(rows)
		}
		c.pages = make([]byte, 0, (len(body)+64)*expect/len(rows)*9/8)
	}
	err = c.appendPage(dataPageHeader(enc, len(rows), st.nulls), body, spec.snappy, s)
	c.values += int64(len(rows))
	c.nulls += int64(st.nulls)
	return err
}

// maxValueWidth is the most bytes one value of type t takes encoded, for a
// page's buffer: a ride id (byte array) takes its length, the prefix and
// at most 20 digits.
func maxValueWidth(t format.Type, prefix int) int {
	switch t {
	case format.Int32, format.Float:
		return 4
	case format.ByteArray:
		return 4 + prefix + 20
	}
	return 8
}

// pageStats is what encoding a page's values learns for the statistics:
// how many are null, and the bounds of the others, integer (ilo..ihi) or
// float (flo..fhi). Bounds that no value set are empty (lo > hi); float
// bounds are NaN when a value was.
type pageStats struct {
	nulls    int
	ilo, ihi int64
	flo, fhi float64
}

// noValues is the pageStats of no values: no nulls, empty bounds.
var noValues = pageStats{ilo: math.MaxInt64, ihi: math.MinInt64, flo: math.Inf(1), fhi: math.Inf(-1)}

// encodeRideIDs encodes the rows' ride ids, DELTA_BYTE_ARRAY, into buf
// from its start. Ids counted up from the row index come as prefix and
// suffix lengths from the counter, which compares nothing; ids of the
// input's own are left to parquet-go, which compares each with the one
// before.
func (p *parquetWriter) encodeRideIDs(buf []byte, rows []tripRow, s *pageScratch) ([]byte, error) {
	v := buf[:0]
	var (
		prefixes, lengths = s.prefixes[:0], s.lengths[:0]
		ok                bool
	)
	prefixes, lengths, s.ids, ok = p.ids.deltas(rows, prefixes, lengths, s.ids[:0])
	if ok {
		// DELTA_BYTE_ARRAY: the prefix lengths and the suffix lengths,
		// each DELTA_BINARY_PACKED, then the suffixes.
		s.prefixes, s.lengths = prefixes, lengths
		var err error
		for _, ns := range [2][]int32{prefixes, lengths} {
			if s.packed, err = new(delta.BinaryPackedEncoding).EncodeInt32(s.packed[:0], ns); err != nil {
				return v, err
			}
			v = append(v, s.packed...)
		}
		return append(v, s.ids...), nil
	}
	// Ids of the input's own: each id end to end, and where each ends.
	ids, offsets := s.ids[:0], append(s.offsets[:0], 0)
	for i := range rows {
		ids = p.ids.append(ids, &rows[i])
		offsets = append(offsets, uint32(len(ids)))
	}
	s.ids, s.offsets = ids, offsets
	return new(delta.ByteArrayEncoding).EncodeByteArray(v, ids, offsets)
}

// appendPickups appends the pickup times, PLAIN, to v and their definition
// levels to levels: an unknown time is a null.
func appendPickups(levels []uint8, v []byte, rows []tripRow) ([]uint8, []byte, pageStats) {
	st := noValues
	for i := range rows {
		if x := rows[i].PickupMicros; x != noTime {
			levels = append(levels, 1)
			v = binary.LittleEndian.AppendUint64(v, uint64(x))
			st.ilo, st.ihi = min(st.ilo, x), max(st.ihi, x)
		} else {
			levels = append(levels, 0)
			st.nulls++
		}
	}
	return levels, v, st
}

// deltaInt64s re-encodes plain, the page's PLAIN int64 values, as
// DELTA_BINARY_PACKED, in s; plain's own buffer then holds the result.
func (s *pageScratch) deltaInt64s(plain []byte) ([]byte, error) {
	le := binary.LittleEndian
	times := s.times[:0]
	for b := plain; len(b) >= 8; b = b[8:] {
		times = append(times, int64(le.Uint64(b)))
	}
	s.times = times
	var err error
	if s.packed, err = new(delta.BinaryPackedEncoding).EncodeInt64(s.packed[:0], times); err != nil {
		return plain, err
	}
	return append(plain[:0], s.packed...), nil
}

// maxDictionary is the most values a row group's dynamic dictionary takes:
// beyond that (a column of nearly all distinct values) an index of 17 bits
// or more and the dictionary's own copy of each value cost more than the
// eight bytes of PLAIN.
const maxDictionary = 1 << 15

// valueDict is the dictionary of a dynamic column for one row group: its
// values (float64 bits) in the order first met, and where to find a value's
// index. Most values are small whole numbers of something (passengers,
// seconds of a duration): their indexes are in a table by that number,
// which stays in the processor's cache; the others are in an
// open-addressing hash table of their bits, which grows as they do.
type valueDict struct {
	values []uint64
	// direct holds index+1 of a value by its code (dictCode), 0 when not
	// yet met.
	direct []int32
	// slots hold the other values' bits and index+1 (0 when empty); len
	// is a power of two at least twice the values in it.
	slots   []dictSlot
	inSlots int
}

type dictSlot struct {
	bits  uint64
	index int32
}

// directCodes is the size of valueDict.direct: durations up to four and a
// half hours in whole seconds, passenger counts 0..9.
const directCodes = 1 << 14

// dictCode is the small whole number a dynamic column's value stands for,
// when it is one: x itself for the passenger count, x in seconds for the
// actual minutes when x is a whole number of seconds (as actualMinutes
// computes it from microseconds), bit for bit: -0 is not 0.
func dictCode(ci int, bits uint64) (int, bool) {
	x := math.Float64frombits(bits)
	if ci == colPassengers {
		k := int(x)
		return k, k >= 0 && k < directCodes && math.Float64bits(float64(k)) == bits
	}
	k := int64(x*60 + 0.5)
	return int(k), k >= 0 && k < directCodes && math.Float64bits(float64(k*1e6)/60e6) == bits
}

// reset empties the dictionary for the next row group, keeping its memory.
func (d *valueDict) reset() {
	d.values = d.values[:0]
	clear(d.direct)
	clear(d.slots)
	d.inSlots = 0
}

// index returns the index of the value with bits x of column ci, adding it
// when new; ok is false when it is new and the dictionary is full.
func (d *valueDict) index(ci int, x uint64) (int32, bool) {
	if k, ok := dictCode(ci, x); ok {
		if d.direct == nil {
			d.direct = make([]int32, directCodes)
		}
		if i := d.direct[k]; i != 0 {
			return i - 1, true
		}
		if len(d.values) >= maxDictionary {
			return 0, false
		}
		d.values = append(d.values, x)
		d.direct[k] = int32(len(d.values))
		return int32(len(d.values) - 1), true
	}
	if 2*d.inSlots >= len(d.slots) {
		d.grow()
	}
	mask := uint64(len(d.slots) - 1)
	for h := (x * 0x9E3779B97F4A7C15) >> 32 & mask; ; h = (h + 1) & mask {
		sl := &d.slots[h]
		switch {
		case sl.index == 0:
			if len(d.values) >= maxDictionary {
				return 0, false
			}
			d.values = append(d.values, x)
			*sl = dictSlot{bits: x, index: int32(len(d.values))}
			d.inSlots++
			return int32(len(d.values) - 1), true
		case sl.bits == x:
			return sl.index - 1, true
		}
	}
}

// grow doubles the hash table (from 1,024 slots) and puts its values back.
func (d *valueDict) grow() {
	old := d.slots
	d.slots = make([]dictSlot, max(1024, 2*len(old)))
	mask := uint64(len(d.slots) - 1)
	for _, sl := range old {
		if sl.index == 0 {
			continue
		}
		h := (sl.bits * 0x9E3779B97F4A7C15) >> 32 & mask
		for d.slots[h].index != 0 {
			h = (h + 1) & mask
		}
		d.slots[h] = sl
	}
}

// encode re-encodes plain, a page's PLAIN 8-byte values, as RLE_DICTIONARY
// indexes into d (the bit width, then the indexes RLE/bit-packed), in s;
// plain's own buffer then holds the result. ok is false when d is full
// before the page's values are all in it: plain is returned as it was,
// and the values added stay in d unused.
func (d *valueDict) encode(ci int, plain []byte, s *pageScratch) (_ []byte, ok bool, err error) {
	idx := s.zones[:0]
	for b := plain; len(b) >= 8; b = b[8:] {
		k, ok := d.index(ci, binary.LittleEndian.Uint64(b))
		if !ok {
			return plain, false, nil
		}
		idx = append(idx, k)
	}
	s.zones = idx
	width := 1 // for an empty or one-value dictionary too
	if n := len(d.values); n > 2 {
		width = bits.Len(uint(n - 1))
	}
	s.rle = rle.Encoding{BitWidth: width}
	if s.packed, err = s.rle.EncodeInt32(s.packed[:0], idx); err != nil {
		return plain, true, err
	}
	v := append(plain[:0], byte(width))
	return append(v, s.packed...), true, nil
}

// appendZones appends the pickup (colPU) or drop-off (colDO) zones to v as
// RLE_DICTIONARY indexes into the zone dictionary: the bit width, then the
// indexes RLE/bit-packed. A zone the dictionary lacks is an error (scoring
// sets such rows aside).
func appendZones(v []byte, ci int, rows []tripRow, s *pageScratch) ([]byte, pageStats, error) {
	st := noValues
	zones := s.zones[:0]
	for i := range rows {
		x := rows[i].PULocationID
		if ci == colDO {
			x = rows[i].DOLocationID
		}
		if !trip.ValidZone(x) {
			return v, st, fmt.Errorf("zone id %d of row %d is not in the zone dictionary", x, rows[i].Index)
		}
		zones = append(zones, int32(x-1))
		st.ilo, st.ihi = min(st.ilo, x), max(st.ihi, x)
	}
	s.zones = zones
	var err error
	s.rle = rle.Encoding{BitWidth: zoneBitWidth}
	if s.packed, err = s.rle.EncodeInt32(s.packed[:0], zones); err != nil {
		return v, st, err
	}
	v = append(v, byte(zoneBitWidth))
	return append(v, s.packed...), st, nil
}

// appendOptionalDoubles appends the passenger counts (colPassengers) or the
// actual minutes (colActual), PLAIN, to v and their definition levels to
// levels: an unknown count or time is a null.
func appendOptionalDoubles(levels []uint8, v []byte, ci int, rows []tripRow) ([]uint8, []byte, pageStats) {
	st := noValues
	for i := range rows {
		x, ok := rows[i].Passengers, !math.IsNaN(rows[i].Passengers)
		if ci == colActual {
			x, ok = rows[i].actualMinutes()
		}
		if ok {
			levels = append(levels, 1)
			v = binary.LittleEndian.AppendUint64(v, math.Float64bits(x))
			st.flo, st.fhi = min(st.flo, x), max(st.fhi, x)
		} else {
			levels = append(levels, 0)
			st.nulls++
		}
	}
	return levels, v, st
}

// appendEstimates appends the estimate (colPredicted) or the low (colLow)
// or high (colHigh) end of its interval, PLAIN, to v. A loop a field, with
// the bounds in float32, keeps each loop a few instructions a row.
func appendEstimates(v []byte, ci int, rows []tripRow) ([]byte, pageStats) {
	n := len(v)
	v = slices.Grow(v, 4*len(rows))[:n+4*len(rows)]
	out := v[n:]
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	put := func(i int, x float32) {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		lo, hi = min(lo, x), max(hi, x)
	}
	switch ci {
	case colLow:
		for i := range rows {
			put(i, rows[i].Pred.Low)
		}
	case colHigh:
		for i := range rows {
			put(i, rows[i].Pred.High)
		}
	default:
		for i := range rows {
			put(i, rows[i].Pred.Minutes)
		}
	}
	st := noValues
	if len(rows) > 0 {
		st.flo, st.fhi = float64(lo), float64(hi)
	}
	return v, st
}

// appendFirstEntryRun appends n values that are all index 0 of a
// one-value dictionary, RLE_DICTIONARY: bit width 1, one RLE run.
func appendFirstEntryRun(v []byte, n int) []byte {
	v = append(v, 1)
	v = binary.AppendUvarint(v, uint64(n)<<1)
	return append(v, 0)
}

// mergeBounds merges a page's bounds into the chunk's statistics.
func (c *chunkWriter) mergeBounds(st pageStats) {
	if st.ilo <= st.ihi {
		c.boundInts(st.ilo, st.ihi)
	}
	switch {
	case math.IsNaN(st.flo) || math.IsNaN(st.fhi):
		// min and max turned NaN at the first NaN and lost the page's
		// other values: the chunk can state no bounds.
		c.nan = true
	case st.flo <= st.fhi: // false when every value is null
		c.boundFloats(st.flo, st.fhi)
	}
}

// pageBody lays out a data page's body in s.body, uncompressed: for an
// optional column the definition levels, RLE after their byte length,
// then the values. rows sizes the buffer.
func (s *pageScratch) pageBody(optional bool, levels []uint8, values []byte, rows int) ([]byte, error) {
	body := slices.Grow(s.body[:0], len(values)+rows/4+16)
	if optional {
		var err error
		s.rle = rle.Encoding{BitWidth: 1}
		if s.levels, err = s.rle.EncodeLevels(s.levels[:0], levels); err != nil {
			return nil, err
		}
		body = binary.LittleEndian.AppendUint32(body, uint32(len(s.levels)))
		body = append(body, s.levels...)
	}
	body = append(body, values...)
	s.body = body
	return body, nil
}

// dataPageHeader is the header of a v1 data page of n values, nulls of
// them null, in encoding e; appendPage sets the sizes.
func dataPageHeader(e format.Encoding, n, nulls int) format.PageHeader {
	return format.PageHeader{
		Type: format.DataPage,
		DataPageHeader: thrift.New(format.DataPageHeader{
			NumValues: int32(n), Encoding: e,
			DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE,
			Statistics: format.Statistics{NullCount: int64(nulls)},
		}),
	}
}

// boundInts merges a page's integer bounds into the chunk's.
func (c *chunkWriter) boundInts(lo, hi int64) {
	if !c.hasBounds {
		c.minInt, c.maxInt, c.hasBounds = lo, hi, true
		return
	}
	c.minInt, c.maxInt = min(c.minInt, lo), max(c.maxInt, hi)
}

// boundFloats merges a page's float bounds into the chunk's.
func (c *chunkWriter) boundFloats(lo, hi float64) {
	if !c.hasBounds {
		c.minFloat, c.maxFloat, c.hasBounds = lo, hi, true
		return
	}
	c.minFloat, c.maxFloat = min(c.minFloat, lo), max(c.maxFloat, hi)
}

// appendPage compresses body (with snappy, in s) and appends it with its
// header to the chunk.
func (c *chunkWriter) appendPage(h format.PageHeader, body []byte, snappy bool, s *pageScratch) error {
	stored := body
	if snappy {
		s.compressed = s2.EncodeSnappy(s.compressed[:cap(s.compressed)], body)
		stored = s.compressed
	}
	h.UncompressedPageSize = int32(len(body))
	h.CompressedPageSize = int32(len(stored))
	header, err := thrift.Marshal(new(thrift.CompactProtocol), &h)
	if err != nil {
		return err
	}
	c.pages = append(append(c.pages, header...), stored...)
	c.uncompressed += int64(len(header) + len(body))
	return nil
}

// codec is the compression of a column.
func (s *columnSpec) codec() format.CompressionCodec {
	if s.snappy {
		return format.Snappy
	}
	return format.Uncompressed
}

// flushRowGroup writes the current row group's column chunks, one after
// the other, and records their metadata for the footer.
func (p *parquetWriter) flushRowGroup() error {
	if p.inGroup == 0 {
		return nil
	}
	rg := format.RowGroup{NumRows: p.inGroup, FileOffset: p.offset, Ordinal: int16(len(p.rowGroups))}
	for ci := range p.chunks {
		c := &p.chunks[ci]
		spec := &outputColumns[ci]
		start := p.offset
		md := format.ColumnMetaData{
			Type:         spec.typ,
			PathInSchema: []string{columnNames[ci]},
			Codec:        spec.codec(),
			NumValues:    c.values,
			Statistics:   format.Statistics{NullCount: c.nulls},
		}
		var dictUncompressed int64
		if spec.encoding == format.RLEDictionary {
			// The dictionary page, written before the data pages.
			var d chunkWriter
			body, n := p.dictionaryValues(ci)
			if err := d.appendPage(format.PageHeader{
				Type:                 format.DictionaryPage,
				DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: int32(n), Encoding: format.Plain}),
			}, body, spec.snappy, &p.scratch[0]); err != nil {
				return err
			}
			if err := p.put(d.pages); err != nil {
				return err
			}
			md.DictionaryPageOffset = start
			dictUncompressed = d.uncompressed
			md.Encoding = []format.Encoding{format.Plain, format.RLEDictionary}
		} else {
			md.Encoding = []format.Encoding{spec.encoding}
		}
		if spec.optional {
			md.Encoding = append(md.Encoding, format.RLE)
		}
		md.DataPageOffset = p.offset
		if err := p.put(c.pages); err != nil {
			return err
		}
		md.TotalCompressedSize = p.offset - start
		md.TotalUncompressedSize = dictUncompressed + c.uncompressed
		if c.hasBounds && !c.nan {
			md.Statistics.MinValue, md.Statistics.MaxValue = c.bounds(spec.typ)
		}
		rg.Columns = append(rg.Columns, format.ColumnChunk{FileOffset: start, MetaData: md})
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		c.dict.reset()
		*c = chunkWriter{pages: c.pages[:0], dict: c.dict}
	}
	p.rowGroups = append(p.rowGroups, rg)
	p.inGroup = 0
	return nil
}

// bounds are the chunk's min and max, PLAIN-encoded as the statistics want.
func (c *chunkWriter) bounds(t format.Type) (lo, hi []byte) {
	le := binary.LittleEndian
	switch t {
	case format.Int32:
		return le.AppendUint32(nil, uint32(int32(c.minInt))), le.AppendUint32(nil, uint32(int32(c.maxInt)))
	case format.Int64:
		return le.AppendUint64(nil, uint64(c.minInt)), le.AppendUint64(nil, uint64(c.maxInt))
	case format.Float:
		return le.AppendUint32(nil, math.Float32bits(float32(c.minFloat))), le.AppendUint32(nil, math.Float32bits(float32(c.maxFloat)))
	case format.Double:
		return le.AppendUint64(nil, math.Float64bits(c.minFloat)), le.AppendUint64(nil, math.Float64bits(c.maxFloat))
	}
	return nil, nil
}

// schema is the footer's description of the output columns.
func schema() []format.SchemaElement {
	s := []format.SchemaElement{{Name: "schema", NumChildren: thrift.New(int32(numColumns))}}
	for ci, spec := range outputColumns {
		e := format.SchemaElement{
			Name:           columnNames[ci],
			Type:           thrift.New(spec.typ),
			RepetitionType: thrift.New(format.Required),
		}
		if spec.optional {
			e.RepetitionType = thrift.New(format.Optional)
		}
		switch {
		case spec.text:
			e.ConvertedType = thrift.New(deprecated.UTF8)
			e.LogicalType = format.LogicalType{Value: &format.StringType{}}
		case spec.timestamp:
			e.LogicalType = format.LogicalType{Value: &format.TimestampType{
				IsAdjustedToUTC: false, Unit: format.TimeUnit{Value: &format.MicroSeconds{}},
			}}
		}
		s = append(s, e)
	}
	return s
}

// close writes the last row group and the footer.
func (p *parquetWriter) close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.flushRowGroup(); err != nil {
		return err
	}
	orders := make([]format.ColumnOrder, numColumns)
	for i := range orders {
		orders[i] = format.ColumnOrder{Value: &format.TypeDefinedOrder{}}
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &format.FileMetaData{
		Version:   2,
		Schema:    schema(),
		NumRows:   p.rows,
		RowGroups: p.rowGroups,
		KeyValueMetadata: []format.KeyValue{
			{Key: "taxieta.model_name", Value: p.meta.modelName},
			{Key: "taxieta.model_version", Value: p.meta.modelVersion},
			{Key: "taxieta.input", Value: p.meta.input},
		},
		CreatedBy:    "taxieta version " + buildinfo.Version(),
		ColumnOrders: orders,
	})
	if err != nil {
		return fmt.Errorf("parquet footer: %w", err)
	}
	if err := p.put(footer); err != nil {
		return err
	}
	if err := p.put(binary.LittleEndian.AppendUint32(nil, uint32(len(footer)))); err != nil {
		return err
	}
	if err := p.put([]byte(magic)); err != nil {
		return err
	}
	return p.w.Flush()
}
