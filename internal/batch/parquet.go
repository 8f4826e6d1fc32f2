package batch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/taxieta/taxieta/internal/buildinfo"
)

// The parquet output is written by a writer made for its one schema:
// parquet-go's general writer builds a parquet.Value per cell and took two
// thirds of a run; here each column is encoded from the rows straight into
// PLAIN pages (definition levels RLE, the model columns a one-value
// dictionary), compressed with snappy where it pays (ids, zones, counts),
// with min/max statistics for the
// numeric columns. The file is parquet format version 1 with v1 data pages,
// which every reader reads; parquet-go's own metadata types and thrift
// encoder write the headers and the footer.

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
	dict      bool // a one-value dictionary (the model's name or version)
	// raw leaves the column uncompressed: snappy saves nothing on the
	// estimates' float bits and a fifth at most on timestamps and minutes,
	// for a third of the encoding time.
	raw bool
}

var outputColumns = [numColumns]columnSpec{
	colRideID:       {typ: format.ByteArray, text: true},
	colPickup:       {typ: format.Int64, optional: true, timestamp: true, raw: true},
	colPU:           {typ: format.Int32},
	colDO:           {typ: format.Int32},
	colPassengers:   {typ: format.Double, optional: true},
	colActual:       {typ: format.Double, optional: true, raw: true},
	colPredicted:    {typ: format.Float, raw: true},
	colLow:          {typ: format.Float, raw: true},
	colHigh:         {typ: format.Float, raw: true},
	colModelName:    {typ: format.ByteArray, text: true, dict: true},
	colModelVersion: {typ: format.ByteArray, text: true, dict: true},
}

// columnGroups split the columns in two of about equal cost, encoded side
// by side on two cores.
var columnGroups = [2][]int{
	{colRideID, colPickup, colPU, colDO, colPassengers},
	{colActual, colPredicted, colLow, colHigh, colModelName, colModelVersion},
}

// chunkWriter accumulates one column's pages for the current row group.
type chunkWriter struct {
	// pages are the page headers and compressed bodies, one slice a page,
	// each allocated at its size (a growing buffer would copy them over
	// and over).
	pages        [][]byte
	values       int64 // values, nulls included
	nulls        int64
	uncompressed int64 // page headers and uncompressed bodies
	// min and max of the present values (numeric columns).
	hasBounds          bool
	minInt, maxInt     int64
	minFloat, maxFloat float64
	// scratch, reused from page to page
	defs                              []uint8 // definition levels, one per row
	body, levels, encoded, compressed []byte
}

// parquetWriter writes the output schema to a parquet file.
type parquetWriter struct {
	w         *bufio.Writer
	offset    int64
	meta      outputMeta
	chunks    [numColumns]chunkWriter
	inGroup   int64 // rows in the current row group
	rowGroups []format.RowGroup
	rows      int64
	closed    bool
}

// magic starts and ends a parquet file.
const magic = "PAR1"

func newParquetWriter(w io.Writer, meta outputMeta) (*parquetWriter, error) {
	p := &parquetWriter{w: bufio.NewWriterSize(w, 256<<10), meta: meta}
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

// writePage encodes rows as one data page of every column, the two
// groups of columns side by side.
func (p *parquetWriter) writePage(rows []tripRow) error {
	var (
		wg   sync.WaitGroup
		errs [len(columnGroups)]error
	)
	for g := 1; g < len(columnGroups); g++ {
		wg.Go(func() { errs[g] = p.encodeColumns(columnGroups[g], rows) })
	}
	errs[0] = p.encodeColumns(columnGroups[0], rows)
	wg.Wait()
	p.inGroup += int64(len(rows))
	p.rows += int64(len(rows))
	return errors.Join(errs[:]...)
}

func (p *parquetWriter) encodeColumns(cols []int, rows []tripRow) error {
	for _, ci := range cols {
		if err := p.encodePage(ci, rows); err != nil {
			return fmt.Errorf("column %s: %w", columnNames[ci], err)
		}
	}
	return nil
}

// encodePage appends one data page of column ci to its chunk.
func (p *parquetWriter) encodePage(ci int, rows []tripRow) error {
	c := &p.chunks[ci]
	spec := &outputColumns[ci]
	le := binary.LittleEndian
	levels := slices.Grow(c.defs[:0], len(rows))
	width := 8 // bytes a value, at most
	switch spec.typ {
	case format.Int32, format.Float:
		width = 4
	case format.ByteArray:
		width = 4 + len(p.meta.ids.prefix) + 20
	}
	v := slices.Grow(c.encoded[:0], len(rows)*width)
	nulls := 0
	// Bounds of this page's values, merged into the chunk's at the end.
	ilo, ihi := int64(math.MaxInt64), int64(math.MinInt64)
	flo, fhi := math.Inf(1), math.Inf(-1)
	switch ci {
	case colRideID:
		for i := range rows {
			at := len(v)
			v = append(v, 0, 0, 0, 0)
			v = p.meta.ids.appendID(v, &rows[i])
			le.PutUint32(v[at:], uint32(len(v)-at-4))
		}
	case colPickup:
		for i := range rows {
			if x := rows[i].PickupMicros; x != noTime {
				levels = append(levels, 1)
				v = le.AppendUint64(v, uint64(x))
				ilo, ihi = min(ilo, x), max(ihi, x)
			} else {
				levels = append(levels, 0)
				nulls++
			}
		}
	case colPU, colDO:
		for i := range rows {
			x := rows[i].PULocationID
			if ci == colDO {
				x = rows[i].DOLocationID
			}
			x = int64(int32(x))
			v = le.AppendUint32(v, uint32(x))
			ilo, ihi = min(ilo, x), max(ihi, x)
		}
	case colPassengers:
		for i := range rows {
			if x := rows[i].Passengers; !math.IsNaN(x) {
				levels = append(levels, 1)
				v = le.AppendUint64(v, math.Float64bits(x))
				flo, fhi = min(flo, x), max(fhi, x)
			} else {
				levels = append(levels, 0)
				nulls++
			}
		}
	case colActual:
		for i := range rows {
			if m, ok := rows[i].actualMinutes(); ok {
				levels = append(levels, 1)
				v = le.AppendUint64(v, math.Float64bits(m))
				flo, fhi = min(flo, m), max(fhi, m)
			} else {
				levels = append(levels, 0)
				nulls++
			}
		}
	case colPredicted, colLow, colHigh:
		for i := range rows {
			x := rows[i].Pred.Minutes
			switch ci {
			case colLow:
				x = rows[i].Pred.Low
			case colHigh:
				x = rows[i].Pred.High
			}
			v = le.AppendUint32(v, math.Float32bits(x))
			flo, fhi = min(flo, float64(x)), max(fhi, float64(x))
		}
	case colModelName, colModelVersion:
		// Every value is index 0 of the dictionary: one RLE run, bit width 1.
		v = append(v, 1)
		v = binary.AppendUvarint(v, uint64(len(rows))<<1)
		v = append(v, 0)
	}
	if ilo <= ihi {
		c.boundInts(ilo, ihi)
	}
	if flo <= fhi { // false too when a NaN crept in: no bounds then
		c.boundFloats(flo, fhi)
	}
	c.encoded, c.defs = v, levels
	body := slices.Grow(c.body[:0], len(v)+len(rows)/4+16)
	if spec.optional {
		var err error
		if c.levels, err = (&rle.Encoding{BitWidth: 1}).EncodeLevels(c.levels[:0], levels); err != nil {
			return err
		}
		body = le.AppendUint32(body, uint32(len(c.levels)))
		body = append(body, c.levels...)
	}
	body = append(body, v...)
	c.body = body
	enc := format.Plain
	if spec.dict {
		enc = format.RLEDictionary
	}
	err := c.appendPage(format.PageHeader{
		Type: format.DataPage,
		DataPageHeader: thrift.New(format.DataPageHeader{
			NumValues: int32(len(rows)), Encoding: enc,
			DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE,
			Statistics: format.Statistics{NullCount: int64(nulls)},
		}),
	}, body, spec.raw)
	c.values += int64(len(rows))
	c.nulls += int64(nulls)
	return err
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

// appendPage compresses body (unless raw) and appends it with its header
// to the chunk.
func (c *chunkWriter) appendPage(h format.PageHeader, body []byte, raw bool) error {
	stored := body
	if !raw {
		c.compressed = s2.EncodeSnappy(c.compressed[:cap(c.compressed)], body)
		stored = c.compressed
	}
	h.UncompressedPageSize = int32(len(body))
	h.CompressedPageSize = int32(len(stored))
	header, err := thrift.Marshal(new(thrift.CompactProtocol), &h)
	if err != nil {
		return err
	}
	page := make([]byte, 0, len(header)+len(stored))
	page = append(page, header...)
	c.pages = append(c.pages, append(page, stored...))
	c.uncompressed += int64(len(header) + len(body))
	return nil
}

// codec is the compression of a column.
func (s *columnSpec) codec() format.CompressionCodec {
	if s.raw {
		return format.Uncompressed
	}
	return format.Snappy
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
		if spec.dict {
			// The dictionary page, written before the data pages.
			value := p.meta.modelName
			if ci == colModelVersion {
				value = p.meta.modelVersion
			}
			var d chunkWriter
			body := binary.LittleEndian.AppendUint32(nil, uint32(len(value)))
			body = append(body, value...)
			if err := d.appendPage(format.PageHeader{
				Type:                 format.DictionaryPage,
				DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: 1, Encoding: format.Plain}),
			}, body, spec.raw); err != nil {
				return err
			}
			if err := p.put(d.pages[0]); err != nil {
				return err
			}
			md.DictionaryPageOffset = start
			dictUncompressed = d.uncompressed
			md.Encoding = []format.Encoding{format.Plain, format.RLEDictionary}
		} else {
			md.Encoding = []format.Encoding{format.Plain}
		}
		if spec.optional {
			md.Encoding = append(md.Encoding, format.RLE)
		}
		md.DataPageOffset = p.offset
		for _, page := range c.pages {
			if err := p.put(page); err != nil {
				return err
			}
		}
		md.TotalCompressedSize = p.offset - start
		md.TotalUncompressedSize = dictUncompressed + c.uncompressed
		if c.hasBounds {
			md.Statistics.MinValue, md.Statistics.MaxValue = c.bounds(spec.typ)
		}
		rg.Columns = append(rg.Columns, format.ColumnChunk{FileOffset: start, MetaData: md})
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		clear(c.pages)
		*c = chunkWriter{pages: c.pages[:0], defs: c.defs, body: c.body, levels: c.levels, encoded: c.encoded, compressed: c.compressed}
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
		Version:   1,
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
