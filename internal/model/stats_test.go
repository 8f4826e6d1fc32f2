package model

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// synthetic are n made-up trips, a file's worth, different for each seed.
func synthetic(n, seed int) []trip.Example {
	out := make([]trip.Example, n)
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		j := i*7919 + seed*104729
		out[i] = trip.Example{
			Trip: trip.Trip{
				PULocationID: uint16(1 + j%trip.MaxZone), DOLocationID: uint16(1 + (j/3)%trip.MaxZone),
				Passengers: int8(j%12) - 1, Pickup: start.Add(time.Duration(j%2_600_000) * time.Second),
			},
			Minutes: float32(60+j%3541) / 60,
		}
		if i%5 == 0 {
			out[i].Pickup = time.Time{}
		}
	}
	return out
}

// fileStats are the statistics of one file.
func fileStats(t *testing.T, ordinal int, key uint64, examples []trip.Example) *Stats {
	t.Helper()
	s := NewStats()
	if err := s.StartFile(ordinal, key); err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		s.Add(ex)
	}
	return s
}

func encode(t *testing.T, s *Stats) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Statistics of files merged in any order and grouping, or decoded from
// their encoding, encode to the same bytes as one pass over the files; the
// files hold more trips than the sample, and one is listed twice.
func TestStatsMergeAndEncoding(t *testing.T) {
	files := [][]trip.Example{synthetic(150_000, 1), synthetic(90_000, 2), synthetic(120_000, 3)}
	files = append(files, files[0])
	keys := []uint64{11, 22, 33, 11}
	one := NewStats()
	var parts []*Stats
	for i, f := range files {
		if err := one.StartFile(i, keys[i]); err != nil {
			t.Fatal(err)
		}
		for _, ex := range f {
			one.Add(ex)
		}
		parts = append(parts, fileStats(t, i, keys[i], f))
	}
	want := encode(t, one)
	merge := func(group ...*Stats) *Stats {
		m := NewStats()
		for _, g := range group {
			if err := m.Merge(g); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	decoded := func(s *Stats) *Stats {
		var d Stats
		if err := d.UnmarshalBinary(encode(t, s)); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	p := parts
	for name, s := range map[string]*Stats{
		"in order":          merge(p...),
		"reversed":          merge(p[3], p[2], p[1], p[0]),
		"grouped":           merge(merge(p[2], p[0]), merge(p[3], p[1])),
		"decoded":           merge(decoded(p[1]), decoded(merge(p[3], p[0])), decoded(p[2])),
		"one pass, decoded": decoded(one),
	} {
		if got := encode(t, s); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, not the %d of one pass", name, len(got), len(want))
		}
	}
	if one.Trips() <= SampleSize || one.SampleWeight() <= 1 {
		t.Fatalf("%d trips, weight %g: want more than the sample holds", one.Trips(), one.SampleWeight())
	}
	if err := merge(p[0]).Merge(p[0]); err == nil {
		t.Error("merging a file twice: no error")
	}
}

func TestStatsDecodeBadInput(t *testing.T) {
	good := encode(t, fileStats(t, 0, 7, synthetic(1000, 1)))
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a taxieta statistics file"},
		{"foreign", []byte("PAR1 something else"), "not a taxieta statistics file"},
		{"other version", append([]byte("taxieta-stats v0\n"), good[len(statsMagic):]...), `format "taxieta-stats v0"`},
		{"truncated", good[:len(good)-100], "checksum mismatch"},
		{"corrupted", flipped, "checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Stats
			err := s.UnmarshalBinary(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want one saying %q", err, tt.want)
			}
		})
	}
}

func TestNthSmallest(t *testing.T) {
	tests := [][]uint64{
		{5}, {2, 1}, {3, 3, 3, 3}, {9, 1, 8, 2, 7, 3, 6, 4, 5, 0}, {1, 1, 2, 2, 0, 0, 5, 5, 5},
	}
	big := make([]uint64, 10_000)
	for i := range big {
		big[i] = mix(uint64(i)) % 500 // many ties
	}
	tests = append(tests, big)
	for _, v := range tests {
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		for n := 0; n < len(v); n += 1 + len(v)/200 {
			if got := nthSmallest(slices.Clone(v), n); got != sorted[n] {
				t.Fatalf("nthSmallest(%v, %d) = %d; want %d", v[:min(len(v), 10)], n, got, sorted[n])
			}
		}
	}
}
