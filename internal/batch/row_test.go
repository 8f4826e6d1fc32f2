package batch

import (
	"bytes"
	"math/bits"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/delta"

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
