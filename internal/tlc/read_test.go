package tlc

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/taxieta/taxieta/internal/testenv"

	"github.com/taxieta/taxieta/internal/trip"
)

func dataDir(t testing.TB) string { return testenv.DataDir(t) }

func cleanFile(t testing.TB, path string) trip.Stats {
	t.Helper()
	var st trip.Stats
	rules := trip.DefaultRules()
	err := ReadFile(context.Background(), path, func(rows []trip.Raw) error {
		for _, r := range rows {
			rules.Clean(r, &st)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The row counts are PROVENANCE.md's: rows in the footer and rows with a
// duration of 1..60 minutes; both parquet type variants are covered.
func TestReadRealMonths(t *testing.T) {
	dir := dataDir(t)
	tests := []struct {
		file       string
		rows, kept int64
		unknownPax int64 // kept rows with empty passenger_count (lower bound)
	}{
		{"green_tripdata_2021-01.parquet", 76518, 73908, 1},
		{"green_tripdata_2022-01.parquet", 62495, 59603, 1},
		{"green_tripdata_2023-02.parquet", 64809, 62574, 1}, // variant B: int32 ids, int64 passenger_count
		{"green_tripdata_2024-03.parquet", 57457, 55139, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st := cleanFile(t, filepath.Join(dir, tt.file))
			if st.Read != tt.rows || st.Kept != tt.kept {
				t.Errorf("read %d kept %d; want %d and %d", st.Read, st.Kept, tt.rows, tt.kept)
			}
			if st.PassengersUnknown < tt.unknownPax {
				t.Errorf("passengers unknown = %d; want some", st.PassengersUnknown)
			}
			if st.Read != st.Kept+st.Dropped() {
				t.Errorf("stats do not add up: %+v", st)
			}
		})
	}
}

func TestReadCSVSample(t *testing.T) {
	dir := dataDir(t)
	st := cleanFile(t, filepath.Join(dir, "yellow_tripdata_sample_2019-03.csv"))
	if st.Read != 10000 || st.Kept == 0 || st.Kept == st.Read {
		t.Errorf("stats %+v: want 10000 read, some kept, some dropped", st)
	}
}

func TestReadBadFiles(t *testing.T) {
	dir := dataDir(t)
	tmp := t.TempDir()
	good, err := os.ReadFile(filepath.Join(dir, "green_tripdata_2021-01.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
	}{
		{"not parquet", write("text.parquet", []byte("hello, this is not parquet at all"))},
		{"truncated", write("trunc.parquet", good[:len(good)/2])},
		{"empty", write("empty.parquet", nil)},
		{"missing columns", filepath.Join(dir, "taxi_zone_lookup.csv")},
		{"footer claims 2^40 rows", write("huge.parquet", withRowCount(t, good, 1<<40))},
		{"csv wrong types", write("bad.csv", []byte("lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,passenger_count\n2021-01-01 00:00:00,2021-01-01 00:10:00,abc,1,1\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadFile(context.Background(), tt.path, func([]trip.Raw) error { return nil })
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v; want ErrFormat", err)
			}
		})
	}
	if err := ReadFile(context.Background(), filepath.Join(tmp, "missing.parquet"), func([]trip.Raw) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v; want ErrNotExist", err)
	}
}

// withRowCount is a parquet file with its footer rewritten to say that
// each row group, and the file, has rows rows.
func withRowCount(t *testing.T, file []byte, rows int64) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(file[len(file)-8:]))
	footer := file[len(file)-8-n : len(file)-8]
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		t.Fatal(err)
	}
	md.NumRows = rows * int64(len(md.RowGroups))
	for i := range md.RowGroups {
		md.RowGroups[i].NumRows = rows
	}
	b, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(slices.Clone(file[:len(file)-8-n]), b...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
	return append(out, "PAR1"...)
}

// tripColumns is what a test file states for its trips, one element a
// trip: times in microseconds (NullTime when null), zone ids (0 when
// null), passenger counts (NaN when null).
type tripColumns struct {
	pickup, dropoff []int64
	pu, do          []int64
	pax             []float64
}

// The reader must read every physical layout of the columns it accepts
// into the same values: timestamps in milliseconds, microseconds or
// nanoseconds or as legacy INT96, zone ids as INT32, INT64 or DOUBLE,
// plain or dictionary-encoded (whose values it may read in place), with
// nulls, columns all null, several pages and several row groups.
func TestReadParquetLayouts(t *testing.T) {
	const n = 5000
	want := tripColumns{}
	for i := range n {
		p := int64(1_700_000_000_000_000) + int64(i%700)*61_000_000 // whole seconds, repeating (dictionaries pay)
		want.pickup = append(want.pickup, p)
		want.dropoff = append(want.dropoff, p+int64(i%37)*60_000_000)
		want.pu = append(want.pu, int64(1+i%265))
		want.do = append(want.do, int64(265-i%265))
		want.pax = append(want.pax, float64(i%6))
	}
	withNulls := func(c tripColumns, every int) tripColumns {
		c = tripColumns{slices.Clone(c.pickup), slices.Clone(c.dropoff), slices.Clone(c.pu), slices.Clone(c.do), slices.Clone(c.pax)}
		for i := range n {
			if i%every == 0 {
				c.pickup[i], c.dropoff[i], c.pu[i], c.do[i], c.pax[i] = NullTime, NullTime, 0, 0, math.NaN()
			}
		}
		return c
	}
	dict := func(n parquet.Node) parquet.Node { return parquet.Encoded(n, &parquet.RLEDictionary) }
	micros := parquet.Timestamp(parquet.Microsecond)
	tests := []struct {
		name        string
		time, zone  parquet.Node
		pax         parquet.Node
		optional    bool
		want        tripColumns
		rowsPerPage int
	}{
		{"microseconds in place, dictionaries", dict(micros), dict(parquet.Int(64)), dict(parquet.Leaf(parquet.DoubleType)), false, want, 0},
		{"microseconds in place, plain", micros, parquet.Int(64), parquet.Leaf(parquet.DoubleType), false, want, 0},
		{"milliseconds, INT32 zones", parquet.Timestamp(parquet.Millisecond), parquet.Int(32), parquet.Int(64), false, want, 0},
		{"nanoseconds, dictionaries, DOUBLE zones", dict(parquet.Timestamp(parquet.Nanosecond)), dict(parquet.Leaf(parquet.DoubleType)), dict(parquet.Int(32)), false, want, 0},
		{"INT96", parquet.Leaf(parquet.Int96Type), parquet.Int(32), parquet.Leaf(parquet.DoubleType), false, want, 0},
		{"nulls, dictionaries, small pages", dict(micros), dict(parquet.Int(64)), dict(parquet.Leaf(parquet.DoubleType)), true, withNulls(want, 3), 100},
		{"nulls, plain, milliseconds", parquet.Timestamp(parquet.Millisecond), parquet.Int(64), parquet.Leaf(parquet.DoubleType), true, withNulls(want, 4), 0},
		{"all null", dict(micros), dict(parquet.Int(64)), parquet.Leaf(parquet.DoubleType), true, withNulls(want, 1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTrips(t, tt.time, tt.zone, tt.pax, tt.optional, tt.want, tt.rowsPerPage)
			var got tripColumns
			batches := 0
			err := ReadColumns(context.Background(), path, func(c *Columns) error {
				batches++
				got.pickup = append(got.pickup, c.PickupMicros...)
				got.dropoff = append(got.dropoff, c.DropoffMicros...)
				got.pu = append(got.pu, c.PULocationID...)
				got.do = append(got.do, c.DOLocationID...)
				got.pax = append(got.pax, c.Passengers...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if batches != 3 { // rows in groups of 2,000
				t.Errorf("%d batches, want one a row group: 3", batches)
			}
			for name, cmp := range map[string]bool{
				"pickup":     slices.Equal(got.pickup, tt.want.pickup),
				"dropoff":    slices.Equal(got.dropoff, tt.want.dropoff),
				"PU":         slices.Equal(got.pu, tt.want.pu),
				"DO":         slices.Equal(got.do, tt.want.do),
				"passengers": slices.EqualFunc(got.pax, tt.want.pax, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }),
			} {
				if !cmp {
					t.Errorf("%s column read differs from what was written", name)
				}
			}
		})
	}
}

// writeTrips writes c as a parquet file of TLC green columns of the given
// types, in row groups of 2,000 rows, and returns its path.
func writeTrips(t *testing.T, timeNode, zoneNode, paxNode parquet.Node, optional bool, c tripColumns, rowsPerPage int) string {
	t.Helper()
	node := func(n parquet.Node) parquet.Node {
		if optional {
			return parquet.Optional(n)
		}
		return n
	}
	schema := parquet.NewSchema("trips", parquet.Group{
		"lpep_pickup_datetime":  node(timeNode),
		"lpep_dropoff_datetime": node(timeNode),
		"PULocationID":          node(zoneNode),
		"DOLocationID":          node(zoneNode),
		"passenger_count":       node(paxNode),
	})
	index := map[string]int{}
	for i, path := range schema.Columns() {
		index[path[0]] = i
	}
	value := func(kind parquet.Kind, unit int64, x float64, null bool) parquet.Value {
		switch {
		case null:
			return parquet.NullValue()
		case kind == parquet.Int96:
			micros := int64(x)
			day, rest := micros/86_400_000_000, micros%86_400_000_000
			nanos := uint64(rest * 1000)
			return parquet.Int96Value(deprecated.Int96{uint32(nanos), uint32(nanos >> 32), uint32(day + 2440588)})
		case kind == parquet.Int32:
			return parquet.Int32Value(int32(x))
		case kind == parquet.Int64:
			return parquet.Int64Value(int64(x) * unit)
		case kind == parquet.Float:
			return parquet.FloatValue(float32(x))
		}
		return parquet.DoubleValue(x)
	}
	unit := int64(1) // stored units a microsecond
	if lt := timeNode.Type().LogicalType(); lt != nil {
		ts, _ := lt.Value.(*format.TimestampType)
		switch ts.Unit.Value.(type) {
		case *format.NanoSeconds:
			unit = 1000
		case *format.MilliSeconds:
			unit = -1000
		}
	}
	timeValue := func(micros int64) parquet.Value {
		if micros == NullTime {
			return parquet.NullValue()
		}
		if unit < 0 {
			return parquet.Int64Value(micros / -unit)
		}
		return value(timeNode.Type().Kind(), unit, float64(micros), false)
	}
	var rows []parquet.Row
	for i := range c.pu {
		row := make(parquet.Row, 5)
		set := func(name string, v parquet.Value) {
			def := 0
			if optional && !v.IsNull() {
				def = 1
			}
			row[index[name]] = v.Level(0, def, index[name])
		}
		set("lpep_pickup_datetime", timeValue(c.pickup[i]))
		set("lpep_dropoff_datetime", timeValue(c.dropoff[i]))
		set("PULocationID", value(zoneNode.Type().Kind(), 1, float64(c.pu[i]), c.pu[i] == 0))
		set("DOLocationID", value(zoneNode.Type().Kind(), 1, float64(c.do[i]), c.do[i] == 0))
		set("passenger_count", value(paxNode.Type().Kind(), 1, c.pax[i], math.IsNaN(c.pax[i])))
		rows = append(rows, row)
	}
	path := filepath.Join(t.TempDir(), "trips.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := []parquet.WriterOption{schema, parquet.MaxRowsPerRowGroup(2000)}
	if rowsPerPage > 0 {
		opts = append(opts, parquet.PageBufferSize(rowsPerPage*8))
	}
	w := parquet.NewWriter(f, opts...)
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
