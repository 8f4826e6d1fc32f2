package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/format"

	"github.com/taxieta/taxieta/internal/trip"
)

// The counter must render exactly what rideIDs.appendID renders, whatever
// the order of the rows: in sequence, across a carry, after a jump, and for
// rows that bring their own id.
func TestIDCounter(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		indexes []int64
	}{
		{"sequence from 0", "2021/01_", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{"carries", "2021/01_", []int64{8, 9, 10, 98, 99, 100, 101, 998, 999, 1000, 9999, 10000}},
		{"no prefix", "", []int64{0, 1, 9, 10, 11, 99, 100}},
		{"jumps and repeats", "x_", []int64{5, 3, 4, 4, 5, 1 << 40, 1<<40 + 1, 0, 1}},
		{"own ids between", "2024/03_", []int64{0, -1, 1, -1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := rideIDs{prefix: tt.prefix}
			c := idCounter{ids: ids}
			for _, i := range tt.indexes {
				r := tripRow{Index: i}
				if i < 0 {
					r = tripRow{RideID: "own-id"}
				}
				got, want := string(c.append(nil, &r)), string(ids.appendID(nil, &r))
				if got != want {
					t.Fatalf("after index %d: got %q, want %q", c.index, got, want)
				}
			}
		})
	}
}

// The ids of a page, written from the counter's deltas, must be the bytes
// parquet-go's DELTA_BYTE_ARRAY encoder writes for the same ids, page
// after page.
func TestIDDeltasMatchParquetGo(t *testing.T) {
	tests := []struct {
		name  string
		pages [][]int64
	}{
		{"one page", [][]int64{{0, 1, 2, 3, 9, 10, 11}}},
		{"carries across pages", [][]int64{{7, 8, 9}, {10, 11}, {98, 99}, {100, 101, 999}, {1000}}},
		{"rows set aside between", [][]int64{{0, 1, 5, 6, 7, 100, 1000, 10000, 9999}}},
		{"long run", [][]int64{seq(0, 20000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := rideIDs{prefix: "2021/01_"}
			counter, reference := idCounter{ids: ids}, idCounter{ids: ids}
			for _, page := range tt.pages {
				rows := make([]tripRow, len(page))
				for i, x := range page {
					rows[i].Index = x
				}
				prefixes, lengths, suffixes, ok := counter.deltas(rows, nil, nil, nil)
				if !ok {
					t.Fatal("deltas refused rows without ids of their own")
				}
				var got []byte
				for _, ns := range [2][]int32{prefixes, lengths} {
					b, err := new(delta.BinaryPackedEncoding).EncodeInt32(nil, ns)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, b...)
				}
				got = append(got, suffixes...)

				var all []byte
				offsets := []uint32{0}
				for i := range rows {
					all = reference.append(all, &rows[i])
					offsets = append(offsets, uint32(len(all)))
				}
				want, err := new(delta.ByteArrayEncoding).EncodeByteArray(nil, all, offsets)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("page %v: deltas encode to %x, parquet-go to %x", page[:min(len(page), 8)], got[:min(len(got), 64)], want[:min(len(want), 64)])
				}
			}
		})
	}
	// A row with an id of its own sends the page to the general encoder.
	c := idCounter{ids: rideIDs{prefix: "x_"}}
	if _, _, _, ok := c.deltas([]tripRow{{Index: 0}, {RideID: "own"}}, nil, nil, nil); ok {
		t.Error("deltas accepted a row with its own id")
	}
}

func seq(from, to int64) []int64 {
	var s []int64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// The zone dictionary's indexes must fit the bit width the pages declare.
func TestZoneBitWidth(t *testing.T) {
	if want := bits.Len(uint(trip.MaxZone - 1)); zoneBitWidth != want {
		t.Errorf("zoneBitWidth = %d; %d zones need %d bits", zoneBitWidth, trip.MaxZone, want)
	}
}

// writeParquet writes rows, chunk by chunk, as the parquet output and
// opens the result with parquet-go.
func writeParquet(t *testing.T, rows []tripRow) *parquet.File {
	t.Helper()
	var buf bytes.Buffer
	w, err := newParquetWriter(&buf, outputMeta{ids: rideIDs{prefix: "2021/01_"}, modelName: "m", modelVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(rows, chunkRows) {
		if err := w.write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// statValue is the value column ci of the output holds for r, as a
// float64 (exact for zone ids and microsecond times), and whether it is
// present (not null).
func statValue(ci int, r *tripRow) (float64, bool) {
	switch ci {
	case colPickup:
		return float64(r.PickupMicros), r.PickupMicros != noTime
	case colPU:
		return float64(r.PULocationID), true
	case colDO:
		return float64(r.DOLocationID), true
	case colPassengers:
		return r.Passengers, !math.IsNaN(r.Passengers)
	case colActual:
		return r.actualMinutes()
	case colPredicted:
		return float64(r.Pred.Minutes), true
	case colLow:
		return float64(r.Pred.Low), true
	case colHigh:
		return float64(r.Pred.High), true
	}
	return 0, false
}

// decodeStat decodes a PLAIN-encoded statistics bound of type typ.
func decodeStat(typ format.Type, b []byte) float64 {
	le := binary.LittleEndian
	switch typ {
	case format.Int32:
		return float64(int32(le.Uint32(b)))
	case format.Int64:
		return float64(int64(le.Uint64(b)))
	case format.Float:
		return float64(math.Float32frombits(le.Uint32(b)))
	}
	return math.Float64frombits(le.Uint64(b))
}

// Every column chunk's footer entry must agree with the rows of its row
// group: the count of values and of nulls, a dictionary page for the
// dictionary-encoded columns, and min and max statistics that are
// exactly those of the present values (NaN left out), or absent when a
// NaN makes them unknowable; and the rows must read back.
func TestParquetWriterFooter(t *testing.T) {
	row := func(i int) tripRow {
		return tripRow{
			Index: int64(i), PickupMicros: 1_600_000_000_000_000 + int64(i)*1e6, DropoffMicros: 1_600_000_000_000_000 + int64(i)*1e6 + int64(i%50)*60e6,
			PULocationID: int64(1 + i%trip.MaxZone), DOLocationID: int64(trip.MaxZone - i%trip.MaxZone),
			Passengers: float64(i % 7), Pred: trip.Prediction{Minutes: float32(i%90) + 0.5, Low: float32(i % 60), High: float32(i%90) + 10},
		}
	}
	tests := []struct {
		name string
		n    int
		edit func(i int, r *tripRow)
	}{
		{"no rows", 0, nil},
		{"one page", 100, nil},
		{"pages and two row groups", RowGroupRows + 3*chunkRows + 17, nil},
		{"nulls", 3 * chunkRows, func(i int, r *tripRow) {
			if i%3 == 0 {
				r.PickupMicros = noTime
			}
			if i%5 == 0 {
				r.Passengers = math.NaN()
			}
		}},
		{"all null", 2 * chunkRows, func(i int, r *tripRow) {
			r.PickupMicros, r.DropoffMicros, r.Passengers = noTime, noTime, math.NaN()
		}},
		{"NaN estimate after the first page", 3 * chunkRows, func(i int, r *tripRow) {
			switch i {
			case chunkRows + 5:
				r.Pred.Minutes = float32(math.NaN())
			case chunkRows + 6:
				r.Pred.Minutes = 1000 // the row group's largest, on the NaN's page
			case 2*chunkRows + 1:
				r.Pred.High = float32(math.NaN()) // the last page's
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := make([]tripRow, tt.n)
			for i := range rows {
				rows[i] = row(i)
				if tt.edit != nil {
					tt.edit(i, &rows[i])
				}
			}
			f := writeParquet(t, rows)
			md := f.Metadata()
			if md.NumRows != int64(tt.n) {
				t.Errorf("footer says %d rows, want %d", md.NumRows, tt.n)
			}
			if want := (tt.n + RowGroupRows - 1) / RowGroupRows; len(md.RowGroups) != want {
				t.Fatalf("%d row groups, want %d", len(md.RowGroups), want)
			}
			for g, rg := range md.RowGroups {
				group := rows[g*RowGroupRows : min(tt.n, (g+1)*RowGroupRows)]
				if rg.NumRows != int64(len(group)) {
					t.Errorf("row group %d: %d rows, want %d", g, rg.NumRows, len(group))
				}
				for ci, cc := range rg.Columns {
					m := cc.MetaData
					name := fmt.Sprintf("row group %d, %s", g, columnNames[ci])
					var (
						nulls      int64
						lo, hi     = math.Inf(1), math.Inf(-1)
						nan, seen  bool
						dictionary = outputColumns[ci].encoding == format.RLEDictionary
					)
					for i := range group {
						v, ok := statValue(ci, &group[i])
						switch {
						case !ok && ci != colRideID && ci != colModelName && ci != colModelVersion:
							nulls++
						case math.IsNaN(v):
							nan = true
						case ok:
							lo, hi, seen = min(lo, v), max(hi, v), true
						}
					}
					if m.NumValues != int64(len(group)) || m.Statistics.NullCount != nulls {
						t.Errorf("%s: %d values, %d nulls; want %d and %d", name, m.NumValues, m.Statistics.NullCount, len(group), nulls)
					}
					if dictionary != (m.DictionaryPageOffset > 0 && slices.Contains(m.Encoding, format.RLEDictionary)) {
						t.Errorf("%s: dictionary page at %d, encodings %v", name, m.DictionaryPageOffset, m.Encoding)
					}
					stated := m.Statistics.MinValue != nil || m.Statistics.MaxValue != nil
					switch {
					case stated && (nan || !seen):
						t.Errorf("%s: min and max stated for a chunk with a NaN or no values", name)
					case stated:
						if gotLo, gotHi := decodeStat(m.Type, m.Statistics.MinValue), decodeStat(m.Type, m.Statistics.MaxValue); gotLo != lo || gotHi != hi {
							t.Errorf("%s: min %v max %v; the values' are %v and %v", name, gotLo, gotHi, lo, hi)
						}
					case seen && !nan && m.Type != format.ByteArray:
						t.Errorf("%s: no min and max", name)
					}
				}
			}
			r := parquet.NewGenericReader[parquetRecord](f)
			defer r.Close()
			got := make([]parquetRecord, tt.n+1)
			n, err := r.Read(got)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if n != tt.n {
				t.Fatalf("read %d rows back, want %d", n, tt.n)
			}
			for i, g := range got[:n] {
				want := &rows[i]
				if g.RideID != fmt.Sprintf("2021/01_%d", i) || int64(g.PULocationID) != want.PULocationID ||
					int64(g.DOLocationID) != want.DOLocationID || (g.PickupDatetime == nil) != !want.hasPickup() ||
					(g.PassengerCount == nil) != math.IsNaN(want.Passengers) || g.ModelName != "m" || g.ModelVersion != "v1" {
					t.Fatalf("row %d reads back as %+v; wrote %+v", i, g, *want)
				}
			}
		})
	}
}
