package batch

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/format"

	"github.com/taxieta/taxieta/internal/trip"
)

// The steps of encodePage, each on a few rows whose encoding is known; the
// whole writer is tested end to end by reading its files back (batch_test,
// pyarrow_test).

// plainValues decodes PLAIN values of size bytes each with dec.
func plainValues[T any](t *testing.T, b []byte, size int, dec func([]byte) T) []T {
	t.Helper()
	if len(b)%size != 0 {
		t.Fatalf("%d bytes are not %d-byte values", len(b), size)
	}
	var xs []T
	for ; len(b) > 0; b = b[size:] {
		xs = append(xs, dec(b))
	}
	return xs
}

// uint64s decodes PLAIN 8-byte little-endian values.
func uint64s(t *testing.T, b []byte) []uint64 {
	return plainValues(t, b, 8, binary.LittleEndian.Uint64)
}

// float64s decodes PLAIN doubles.
func float64s(t *testing.T, b []byte) []float64 {
	return plainValues(t, b, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
}

// float32s decodes PLAIN floats.
func float32s(t *testing.T, b []byte) []float32 {
	return plainValues(t, b, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// checkStats compares pageStats, NaN equal to NaN.
func checkStats(t *testing.T, got, want pageStats) {
	t.Helper()
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	if got.nulls != want.nulls || got.ilo != want.ilo || got.ihi != want.ihi || !same(got.flo, want.flo) || !same(got.fhi, want.fhi) {
		t.Errorf("stats %+v; want %+v", got, want)
	}
}

func intStats(nulls int, lo, hi int64) pageStats {
	st := noValues
	st.nulls, st.ilo, st.ihi = nulls, lo, hi
	return st
}

func floatStats(nulls int, lo, hi float64) pageStats {
	st := noValues
	st.nulls, st.flo, st.fhi = nulls, lo, hi
	return st
}

func TestMaxValueWidth(t *testing.T) {
	tests := []struct {
		typ    format.Type
		prefix int
		want   int
	}{
		{format.Int32, 8, 4},
		{format.Float, 0, 4},
		{format.Int64, 8, 8},
		{format.Double, 0, 8},
		{format.ByteArray, 0, 24},
		{format.ByteArray, len("2021/01_"), 32},
	}
	for _, tt := range tests {
		if got := maxValueWidth(tt.typ, tt.prefix); got != tt.want {
			t.Errorf("maxValueWidth(%v, %d) = %d; want %d", tt.typ, tt.prefix, got, tt.want)
		}
	}
	// Every column's widest value fits: a ride id of the most digits.
	id := rideIDs{prefix: "2021/01_"}.appendID(nil, &tripRow{Index: math.MaxInt64})
	if n := 4 + len(id); n > maxValueWidth(format.ByteArray, len("2021/01_")) {
		t.Errorf("a ride id takes %d bytes, more than maxValueWidth", n)
	}
}

func TestAppendPickups(t *testing.T) {
	tests := []struct {
		name       string
		times      []int64
		wantLevels []uint8
		wantValues []uint64
		want       pageStats
	}{
		{"none", nil, nil, nil, noValues},
		{"all known", []int64{30, 10, 20}, []uint8{1, 1, 1}, []uint64{30, 10, 20}, intStats(0, 10, 30)},
		{"some unknown", []int64{noTime, 5, noTime, -7}, []uint8{0, 1, 0, 1}, []uint64{5, 1<<64 - 7}, intStats(2, -7, 5)},
		{"all unknown", []int64{noTime, noTime}, []uint8{0, 0}, nil, intStats(2, math.MaxInt64, math.MinInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := make([]tripRow, len(tt.times))
			for i, x := range tt.times {
				rows[i].PickupMicros = x
			}
			levels, v, st := appendPickups([]uint8{9}, []byte{9}, rows)
			if levels[0] != 9 || v[0] != 9 {
				t.Fatal("appendPickups overwrote what it appends to")
			}
			if !slices.Equal(levels[1:], tt.wantLevels) {
				t.Errorf("levels %v; want %v", levels[1:], tt.wantLevels)
			}
			if got := uint64s(t, v[1:]); !slices.Equal(got, tt.wantValues) {
				t.Errorf("values %v; want %v", got, tt.wantValues)
			}
			checkStats(t, st, tt.want)
		})
	}
}

func TestAppendZones(t *testing.T) {
	tests := []struct {
		name      string
		ci        int
		pu, do    []int64
		wantIndex []int32
		want      pageStats
		wantErr   string
	}{
		{"pickup", colPU, []int64{1, 132, trip.MaxZone}, []int64{2, 2, 2}, []int32{0, 131, trip.MaxZone - 1}, intStats(0, 1, trip.MaxZone), ""},
		{"drop-off", colDO, []int64{1, 1}, []int64{264, 7}, []int32{263, 6}, intStats(0, 7, 264), ""},
		// A long run, RLE-encoded, and more than a bit-packed group.
		{"run", colPU, slices.Repeat([]int64{42}, 100), make([]int64, 100), slices.Repeat([]int32{41}, 100), intStats(0, 42, 42), ""},
		{"zone 0", colPU, []int64{5, 0}, []int64{5, 5}, nil, noValues, "zone id 0 of row 1 is not in the zone dictionary"},
		{"zone past the dictionary", colDO, []int64{5}, []int64{trip.MaxZone + 1}, nil, noValues, "zone id 266 of row 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := make([]tripRow, len(tt.pu))
			for i := range rows {
				rows[i] = tripRow{Index: int64(i), PULocationID: tt.pu[i], DOLocationID: tt.do[i]}
			}
			var s pageScratch
			v, st, err := appendZones([]byte{9}, tt.ci, rows, &s)
			if err != nil || tt.wantErr != "" {
				if err == nil || tt.wantErr == "" || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v; want %q", err, tt.wantErr)
				}
				return
			}
			if v[0] != 9 || v[1] != zoneBitWidth {
				t.Fatalf("page starts % x; want 09 (before) then the bit width %d", v[:2], zoneBitWidth)
			}
			got, err := (&rle.Encoding{BitWidth: zoneBitWidth}).DecodeInt32(nil, v[2:])
			if err != nil {
				t.Fatal(err)
			}
			// Bit-packed groups pad to eight values.
			if len(got) < len(tt.wantIndex) || !slices.Equal(got[:len(tt.wantIndex)], tt.wantIndex) {
				t.Errorf("indexes %v; want %v", got, tt.wantIndex)
			}
			checkStats(t, st, tt.want)
		})
	}
}

func TestAppendOptionalDoubles(t *testing.T) {
	nan := math.NaN()
	const minute = 60e6 // µs
	tests := []struct {
		name       string
		ci         int
		rows       []tripRow
		wantLevels []uint8
		wantValues []float64
		want       pageStats
	}{
		{"passengers", colPassengers,
			[]tripRow{{Passengers: 1}, {Passengers: nan}, {Passengers: 6}, {Passengers: 0}},
			[]uint8{1, 0, 1, 1}, []float64{1, 6, 0}, floatStats(1, 0, 6)},
		{"no passengers", colPassengers,
			[]tripRow{{Passengers: nan}},
			[]uint8{0}, nil, floatStats(1, math.Inf(1), math.Inf(-1))},
		{"actual minutes", colActual,
			[]tripRow{
				{PickupMicros: 0, DropoffMicros: 15 * minute},
				{PickupMicros: noTime, DropoffMicros: minute},
				{PickupMicros: minute, DropoffMicros: noTime},
				{PickupMicros: 10 * minute, DropoffMicros: 9 * minute}, // negative: kept, as the input says
			},
			[]uint8{1, 0, 0, 1}, []float64{15, -1}, floatStats(2, -1, 15)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The other column's field is set to what would show if read.
			rows := slices.Clone(tt.rows)
			for i := range rows {
				if tt.ci == colActual {
					rows[i].Passengers = 99
				}
			}
			levels, v, st := appendOptionalDoubles(nil, nil, tt.ci, rows)
			if !slices.Equal(levels, tt.wantLevels) {
				t.Errorf("levels %v; want %v", levels, tt.wantLevels)
			}
			if got := float64s(t, v); !slices.Equal(got, tt.wantValues) {
				t.Errorf("values %v; want %v", got, tt.wantValues)
			}
			checkStats(t, st, tt.want)
		})
	}
}

func TestAppendEstimates(t *testing.T) {
	rows := []tripRow{
		{Pred: trip.Prediction{Minutes: 12, Low: 8, High: 20}},
		{Pred: trip.Prediction{Minutes: 3.5, Low: 1, High: 7.25}},
	}
	nanRows := []tripRow{
		{Pred: trip.Prediction{Minutes: 1}},
		{Pred: trip.Prediction{Minutes: float32(math.NaN())}},
		{Pred: trip.Prediction{Minutes: 9}},
	}
	tests := []struct {
		name string
		ci   int
		rows []tripRow
		want []float32
		st   pageStats
	}{
		{"predicted", colPredicted, rows, []float32{12, 3.5}, floatStats(0, 3.5, 12)},
		{"low", colLow, rows, []float32{8, 1}, floatStats(0, 1, 8)},
		{"high", colHigh, rows, []float32{20, 7.25}, floatStats(0, 7.25, 20)},
		{"none", colPredicted, nil, nil, noValues},
		// A NaN estimate is written; the bounds turn NaN so that the chunk
		// states none.
		{"NaN", colPredicted, nanRows, []float32{1, float32(math.NaN()), 9}, floatStats(0, math.NaN(), math.NaN())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, st := appendEstimates(nil, tt.ci, tt.rows)
			got := float32s(t, v)
			if !slices.EqualFunc(got, tt.want, func(a, b float32) bool { return a == b || a != a && b != b }) {
				t.Errorf("values %v; want %v", got, tt.want)
			}
			checkStats(t, st, tt.st)
		})
	}
}

func TestAppendFirstEntryRun(t *testing.T) {
	tests := []struct {
		n    int
		want []byte
	}{
		{1, []byte{1, 2, 0}},
		{63, []byte{1, 126, 0}},
		{64, []byte{1, 0x80, 0x01, 0}},
		{pageRows, []byte{1, 0x80, 0x80, 0x02, 0}},
	}
	for _, tt := range tests {
		got := appendFirstEntryRun([]byte{9}, tt.n)
		if !slices.Equal(got, append([]byte{9}, tt.want...)) {
			t.Errorf("appendFirstEntryRun(%d) = % x; want 09 % x", tt.n, got, tt.want)
		}
		// It reads back as n zeros, as a reader sees it: bit width, then
		// the RLE runs.
		idx, err := (&rle.Encoding{BitWidth: int(got[1])}).DecodeInt32(nil, got[2:])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(idx, make([]int32, tt.n)) {
			t.Errorf("appendFirstEntryRun(%d) decodes to %d values %v...", tt.n, len(idx), idx[:min(len(idx), 4)])
		}
	}
}

func TestAppendRideIDs(t *testing.T) {
	counted := func(prefix string, idx ...int64) ([]tripRow, []string) {
		rows := make([]tripRow, len(idx))
		var want []string
		for i, x := range idx {
			rows[i].Index = x
			want = append(want, rideIDs{prefix: prefix}.id(&rows[i]))
		}
		return rows, want
	}
	own := func(ids ...string) ([]tripRow, []string) {
		rows := make([]tripRow, len(ids))
		for i, id := range ids {
			rows[i].RideID = id
		}
		return rows, ids
	}
	tests := []struct {
		name   string
		prefix string
		rows   func() ([]tripRow, []string)
	}{
		{"counted up", "2021/01_", func() ([]tripRow, []string) { return counted("2021/01_", 97, 98, 99, 100, 101) }},
		{"a jump", "2021/01_", func() ([]tripRow, []string) { return counted("2021/01_", 0, 1, 7, 8, 1000) }},
		{"no prefix", "", func() ([]tripRow, []string) { return counted("", 9, 10, 11) }},
		{"own ids", "", func() ([]tripRow, []string) { return own("ride-a", "ride-b", "x", "") }},
		{"one id", "", func() ([]tripRow, []string) { return own("solo") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, want := tt.rows()
			// An own id left empty is derived from the index.
			for i := range rows {
				if rows[i].RideID == "" && want[i] == "" {
					rows[i].Index = 5
					want[i] = "5"
				}
			}
			p := &parquetWriter{ids: idCounter{ids: rideIDs{prefix: tt.prefix}}}
			var s pageScratch
			// What the buffer held is overwritten.
			v, err := p.encodeRideIDs([]byte{9, 9, 9}, rows, &s)
			if err != nil {
				t.Fatal(err)
			}
			b, offsets, err := new(delta.ByteArrayEncoding).DecodeByteArray(nil, v, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := 1; i < len(offsets); i++ {
				got = append(got, string(b[offsets[i-1]:offsets[i]]))
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids %q; want %q", got, want)
			}
		})
	}
}

func TestMergeBounds(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                string
		pages               []pageStats
		wantBounds, wantNaN bool
		wantInt             [2]int64
		wantFloat           [2]float64
	}{
		{"no pages", nil, false, false, [2]int64{}, [2]float64{}},
		{"all null", []pageStats{floatStats(3, math.Inf(1), math.Inf(-1))}, false, false, [2]int64{}, [2]float64{}},
		{"ints", []pageStats{intStats(0, 5, 9), intStats(1, -2, 7), intStats(0, 6, 6)}, true, false, [2]int64{-2, 9}, [2]float64{}},
		{"floats", []pageStats{floatStats(0, 1.5, 2), noValues, floatStats(0, 0.25, 1)}, true, false, [2]int64{}, [2]float64{0.25, 2}},
		{"a NaN page", []pageStats{floatStats(0, 1, 2), floatStats(0, nan, nan), floatStats(0, 0, 3)}, true, true, [2]int64{}, [2]float64{0, 3}},
		{"NaN only", []pageStats{floatStats(0, nan, nan)}, false, true, [2]int64{}, [2]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c chunkWriter
			for _, st := range tt.pages {
				c.mergeBounds(st)
			}
			if c.hasBounds != tt.wantBounds || c.nan != tt.wantNaN {
				t.Fatalf("hasBounds %v, nan %v; want %v, %v", c.hasBounds, c.nan, tt.wantBounds, tt.wantNaN)
			}
			if got := [2]int64{c.minInt, c.maxInt}; got != tt.wantInt {
				t.Errorf("int bounds %v; want %v", got, tt.wantInt)
			}
			if got := [2]float64{c.minFloat, c.maxFloat}; got != tt.wantFloat {
				t.Errorf("float bounds %v; want %v", got, tt.wantFloat)
			}
		})
	}
}

func TestPageBody(t *testing.T) {
	values := []byte{0xa, 0xb, 0xc}
	tests := []struct {
		name     string
		optional bool
		levels   []uint8
	}{
		{"required", false, nil},
		{"optional", true, []uint8{1, 0, 1, 1, 1, 1, 1, 1, 1, 0}},
		{"optional, every value null", true, []uint8{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s pageScratch
			body, err := s.pageBody(tt.optional, tt.levels, values, len(tt.levels))
			if err != nil {
				t.Fatal(err)
			}
			rest := body
			if tt.optional {
				n := int(binary.LittleEndian.Uint32(body))
				if 4+n > len(body) {
					t.Fatalf("levels of %d bytes in a body of %d", n, len(body))
				}
				got, err := (&rle.Encoding{BitWidth: 1}).DecodeLevels(nil, body[4:4+n])
				if err != nil {
					t.Fatal(err)
				}
				if len(got) < len(tt.levels) || !slices.Equal(got[:len(tt.levels)], tt.levels) {
					t.Errorf("levels %v; want %v", got, tt.levels)
				}
				rest = body[4+n:]
			}
			if !slices.Equal(rest, values) {
				t.Errorf("values % x; want % x", rest, values)
			}
			if &s.body[:1][0] != &body[:1][0] {
				t.Error("body is not kept in the scratch for the next page")
			}
		})
	}
}

func TestDataPageHeader(t *testing.T) {
	tests := []struct {
		enc      format.Encoding
		n, nulls int
	}{
		{format.Plain, 16384, 0},
		{format.RLEDictionary, 3, 0},
		{format.DeltaByteArray, 10, 4},
	}
	for _, tt := range tests {
		h := dataPageHeader(tt.enc, tt.n, tt.nulls)
		d := h.DataPageHeader.V
		if h.Type != format.DataPage || !h.DataPageHeader.Valid {
			t.Fatalf("dataPageHeader(%v, %d, %d) = %+v; want a data page", tt.enc, tt.n, tt.nulls, h)
		}
		if d.NumValues != int32(tt.n) || d.Encoding != tt.enc || d.Statistics.NullCount != int64(tt.nulls) ||
			d.DefinitionLevelEncoding != format.RLE || d.RepetitionLevelEncoding != format.RLE {
			t.Errorf("dataPageHeader(%v, %d, %d) = %+v", tt.enc, tt.n, tt.nulls, d)
		}
	}
}

// TestEncodeStepsAllocateNothing: once the scratch has grown to a page,
// encoding the values of a page allocates nothing (the page itself and
// its header are allocated at their size when appended to the chunk).
func TestEncodeStepsAllocateNothing(t *testing.T) {
	rows := make([]tripRow, pageRows)
	for i := range rows {
		rows[i] = tripRow{
			Index: int64(i), PickupMicros: int64(i) * 1e6, DropoffMicros: int64(i)*1e6 + 6e8,
			PULocationID: int64(i%trip.MaxZone + 1), DOLocationID: int64((i*7)%trip.MaxZone + 1),
			Passengers: float64(i % 4), Pred: trip.Prediction{Minutes: 10, Low: 5, High: 20},
		}
		if i%10 == 0 {
			rows[i].PickupMicros, rows[i].Passengers = noTime, math.NaN()
		}
	}
	p := &parquetWriter{ids: idCounter{ids: rideIDs{prefix: "2021/01_"}}}
	var (
		s    pageScratch
		dict valueDict
	)
	steps := []struct {
		name string
		f    func()
	}{
		{"ride ids", func() { s.encoded, _ = p.encodeRideIDs(s.encoded[:0], rows, &s) }},
		{"pickups", func() { s.defs, s.encoded, _ = appendPickups(s.defs[:0], s.encoded[:0], rows) }},
		{"zones", func() { s.encoded, _, _ = appendZones(s.encoded[:0], colDO, rows, &s) }},
		{"passengers", func() { s.defs, s.encoded, _ = appendOptionalDoubles(s.defs[:0], s.encoded[:0], colPassengers, rows) }},
		{"actual", func() { s.defs, s.encoded, _ = appendOptionalDoubles(s.defs[:0], s.encoded[:0], colActual, rows) }},
		{"estimates", func() { s.encoded, _ = appendEstimates(s.encoded[:0], colHigh, rows) }},
		{"pickups, delta", func() {
			s.defs, s.encoded, _ = appendPickups(s.defs[:0], s.encoded[:0], rows)
			s.encoded, _ = s.deltaInt64s(s.encoded)
		}},
		{"actual, dictionary", func() {
			s.defs, s.encoded, _ = appendOptionalDoubles(s.defs[:0], s.encoded[:0], colActual, rows)
			s.encoded, _, _ = dict.encode(colActual, s.encoded, &s)
		}},
		{"one-value run", func() { s.encoded = appendFirstEntryRun(s.encoded[:0], len(rows)) }},
		{"body", func() { _, _ = s.pageBody(true, s.defs, s.encoded, len(rows)) }},
	}
	for _, step := range steps {
		if n := testing.AllocsPerRun(10, step.f); n != 0 {
			t.Errorf("%s: %v allocations a page; want 0", step.name, n)
		}
	}
}

// plainDoubles is PLAIN doubles.
func plainDoubles(xs ...float64) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func TestDictCode(t *testing.T) {
	tests := []struct {
		ci     int
		x      float64
		code   int
		direct bool
	}{
		{colPassengers, 0, 0, true},
		{colPassengers, 9, 9, true},
		{colPassengers, math.Copysign(0, -1), 0, false},
		{colPassengers, 2.5, 0, false},
		{colPassengers, -1, 0, false},
		{colPassengers, math.NaN(), 0, false},
		{colActual, 0, 0, true},
		{colActual, float64(754e6) / 60e6, 754, true},
		{colActual, float64(directCodes*1e6) / 60e6, 0, false},
		{colActual, float64(754_250_000) / 60e6, 0, false}, // a fraction of a second
		{colActual, 12.5666, 0, false},                     // not what microseconds give
		{colActual, float64(-60e6) / 60e6, 0, false},
		{colActual, math.Inf(1), 0, false},
	}
	for _, tt := range tests {
		code, ok := dictCode(tt.ci, math.Float64bits(tt.x))
		if ok != tt.direct || ok && code != tt.code {
			t.Errorf("dictCode(%s, %v) = %d, %v; want %d, %v", columnNames[tt.ci], tt.x, code, ok, tt.code, tt.direct)
		}
	}
}

func TestValueDictEncode(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name       string
		pages      [][]float64
		wantValues []float64 // the dictionary after the pages
		wantIdx    []int32   // the last page's indexes
	}{
		{"one page", [][]float64{{3, 1, 3, 3, 0.25}}, []float64{3, 1, 0.25}, []int32{0, 1, 0, 0, 2}},
		{"values met again on a later page", [][]float64{{5, 6}, {6, 7, 5}}, []float64{5, 6, 7}, []int32{1, 2, 0}},
		{"bits, not ==: -0 and 0, NaN", [][]float64{{0, math.Copysign(0, -1), nan, nan}}, []float64{0, math.Copysign(0, -1), nan}, []int32{0, 1, 2, 2}},
		{"no values", [][]float64{{}}, nil, nil},
		{"whole seconds and others", [][]float64{{0.5, 1.0 / 60, 0.5, 1e9, 3.0 / 60, -1.0 / 60, 1.0 / 60}},
			[]float64{0.5, 1.0 / 60, 1e9, 3.0 / 60, -1.0 / 60}, []int32{0, 1, 0, 2, 3, 4, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				d   valueDict
				s   pageScratch
				out []byte
			)
			for _, page := range tt.pages {
				var ok bool
				var err error
				if out, ok, err = d.encode(colActual, plainDoubles(page...), &s); err != nil || !ok {
					t.Fatalf("encode: ok %v, %v", ok, err)
				}
			}
			var got []float64
			for _, x := range d.values {
				got = append(got, math.Float64frombits(x))
			}
			if len(got) != len(tt.wantValues) || !slices.Equal(uint64sOf(got), uint64sOf(tt.wantValues)) {
				t.Errorf("dictionary %v; want %v", got, tt.wantValues)
			}
			width := int(out[0])
			if wantWidth := max(1, bitsFor(len(d.values))); width != wantWidth {
				t.Errorf("bit width %d; want %d", width, wantWidth)
			}
			enc := rle.Encoding{BitWidth: width}
			idx, err := enc.DecodeInt32(nil, out[1:])
			if err != nil {
				t.Fatal(err)
			}
			if got := idx[:min(len(idx), len(tt.wantIdx))]; !slices.Equal(got, tt.wantIdx) {
				t.Errorf("indexes %v; want %v", got, tt.wantIdx)
			}
		})
	}
}

func uint64sOf(xs []float64) []uint64 {
	var u []uint64
	for _, x := range xs {
		u = append(u, math.Float64bits(x))
	}
	return u
}

// bitsFor is the bit width of indexes into n values.
func bitsFor(n int) int {
	w := 0
	for ; n > 1<<w; w++ {
	}
	return w
}

// A page whose new values do not fit the dictionary is left PLAIN; the
// values before it keep their indexes, and a reset empties the dictionary
// for the next row group.
func TestValueDictFull(t *testing.T) {
	var (
		d valueDict
		s pageScratch
	)
	first := make([]float64, maxDictionary)
	for i := range first {
		first[i] = float64(i) / 60
	}
	if _, ok, err := d.encode(colActual, plainDoubles(first...), &s); !ok || err != nil {
		t.Fatalf("a page of %d distinct values: ok %v, %v", maxDictionary, ok, err)
	}
	if k, ok := d.index(colActual, math.Float64bits(first[123])); !ok || k != 123 {
		t.Fatalf("index of a value in the full dictionary: %d, %v", k, ok)
	}
	page := plainDoubles(first[7], -1, first[8])
	out, ok, err := d.encode(colActual, slices.Clone(page), &s)
	if ok || err != nil || !slices.Equal(out, page) {
		t.Fatalf("a page with a new value: ok %v, %v, changed %v", ok, err, !slices.Equal(out, page))
	}
	d.reset()
	if k, ok := d.index(colActual, math.Float64bits(-1)); !ok || k != 0 || len(d.values) != 1 {
		t.Fatalf("after reset: index %d, %v, %d values", k, ok, len(d.values))
	}
}

func TestDeltaInt64s(t *testing.T) {
	for _, times := range [][]int64{nil, {5}, {1_614_556_800_000_000, 1_614_556_801_000_000, 1_614_556_700_000_000, -7, math.MaxInt64, math.MinInt64}} {
		var plain []byte
		for _, x := range times {
			plain = binary.LittleEndian.AppendUint64(plain, uint64(x))
		}
		var s pageScratch
		out, err := s.deltaInt64s(append([]byte(nil), plain...))
		if err != nil {
			t.Fatal(err)
		}
		got, err := new(delta.BinaryPackedEncoding).DecodeInt64(nil, out)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, times) && len(got)+len(times) > 0 {
			t.Errorf("delta of %v reads back as %v", times, got)
		}
	}
}

// A row group with more distinct durations than a dictionary takes writes
// its later pages of actual_minutes PLAIN, and the next row group starts a
// dictionary afresh; parquet-go reads every value back (pyarrow and DuckDB
// read the same case in readBackInputs).
func TestDictionaryFallbackReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := newParquetWriter(f, outputMeta{ids: rideIDs{prefix: "2019/03_"}, modelName: "m", modelVersion: "v"})
	if err != nil {
		t.Fatal(err)
	}
	n := RowGroupRows + 1000
	rows := make([]tripRow, n)
	for i := range rows {
		pickup := int64(1_551_398_400+3*i) * 1e6
		rows[i] = tripRow{
			Index: int64(i), PickupMicros: pickup, DropoffMicros: pickup + int64(i%(2*maxDictionary))*1e6,
			PULocationID: 1, DOLocationID: 2, Passengers: float64(i % 3),
		}
	}
	if err := p.write(rows[:3*pageRows]); err != nil {
		t.Fatal(err)
	}
	if !p.chunks[colActual].plainPages || p.chunks[colPassengers].plainPages {
		t.Fatalf("after %d distinct durations: actual minutes PLAIN %v, passengers PLAIN %v; want true, false",
			3*pageRows, p.chunks[colActual].plainPages, p.chunks[colPassengers].plainPages)
	}
	if err := p.write(rows[3*pageRows:]); err != nil {
		t.Fatal(err)
	}
	if p.chunks[colActual].plainPages || len(p.chunks[colActual].dict.values) != 1000 {
		t.Fatalf("second row group: PLAIN %v, %d dictionary values; want a dictionary of 1000",
			p.chunks[colActual].plainPages, len(p.chunks[colActual].dict.values))
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	got := readOutput(t, path)
	if len(got) != n {
		t.Fatalf("%d rows read; want %d", len(got), n)
	}
	for i, r := range got {
		want, _ := rows[i].actualMinutes()
		if r.Actual == nil || *r.Actual != want || *r.Passengers != rows[i].Passengers {
			t.Fatalf("row %d: actual %v passengers %v; want %v, %v", i, r.Actual, r.Passengers, want, rows[i].Passengers)
		}
	}
}
