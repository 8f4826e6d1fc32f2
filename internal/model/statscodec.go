package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// statsMagic opens an encoded Stats; the version changes whenever the
// layout or the meaning of the statistics does.
const statsMagic = "taxieta-stats v1\n"

// MarshalBinary encodes the statistics deterministically: the same
// statistics, however they were added and merged, give the same bytes
// (files by ordinal, keys in order, the sample in its own order), ending
// with the sha256 of what comes before.
func (s *Stats) MarshalBinary() ([]byte, error) {
	s.sample.compact()
	b := []byte(statsMagic)
	u := func(v uint64) { b = binary.AppendUvarint(b, v) }
	i := func(v int64) { b = binary.AppendVarint(b, v) }
	u(SampleSize)
	u(numKeys)
	u(uint64(s.trips))
	files := s.Files()
	u(uint64(len(files)))
	for _, f := range files {
		u(uint64(f.Ordinal))
		b = binary.LittleEndian.AppendUint64(b, f.Key)
		u(uint64(f.Trips))
	}
	for _, c := range s.hours {
		u(uint64(c))
	}
	var nonzero uint64
	for _, c := range s.cells {
		if c.n != 0 {
			nonzero++
		}
	}
	u(nonzero)
	last := -1
	for k, c := range s.cells {
		if c.n != 0 {
			u(uint64(k - last))
			u(uint64(c.n))
			i(c.sum)
			last = k
		}
	}
	sorted := slices.Clone(s.sample.buf)
	slices.SortFunc(sorted, compareSampled)
	u(uint64(len(sorted)))
	for _, e := range sorted {
		b = binary.LittleEndian.AppendUint64(b, e.hash)
		b = binary.LittleEndian.AppendUint64(b, e.key)
		i(e.micros)
		u(uint64(e.ordinal))
		u(uint64(e.row))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(e.minutes))
		u(uint64(e.pu))
		u(uint64(e.do))
		i(int64(e.pax))
		if e.hasTime {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// errStats is wrapped into every decoding error.
var errStats = errors.New("training statistics")

// UnmarshalBinary decodes what MarshalBinary wrote, checking the checksum,
// the version, the layout and every value's range.
func (s *Stats) UnmarshalBinary(data []byte) error {
	if !bytes.HasPrefix(data, []byte(statsMagic)) {
		if i := bytes.IndexByte(data, '\n'); i > 0 && i < 64 && bytes.HasPrefix(data, []byte("taxieta-stats ")) {
			return fmt.Errorf("%w: format %q; this build reads %q", errStats, data[:i], statsMagic[:len(statsMagic)-1])
		}
		return fmt.Errorf("%w: not a taxieta statistics file", errStats)
	}
	if len(data) < len(statsMagic)+sha256.Size {
		return fmt.Errorf("%w: truncated", errStats)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return fmt.Errorf("%w: checksum mismatch (truncated or corrupted)", errStats)
	}
	d := statsDecoder{b: body[len(statsMagic):]}
	if n := d.u(); n != SampleSize {
		return fmt.Errorf("%w: sample of %d trips; this build keeps %d", errStats, n, SampleSize)
	}
	if n := d.u(); n != numKeys {
		return fmt.Errorf("%w: %d keys; this build has %d", errStats, n, numKeys)
	}
	*s = *NewStats()
	s.trips = int64(d.u())
	nf := d.u()
	if nf > uint64(len(d.b)) {
		return fmt.Errorf("%w: %d files: truncated", errStats, nf)
	}
	var fileTrips int64
	for range nf {
		f := StatsFile{Ordinal: int(d.u()), Key: d.u64(), Trips: int64(d.u())}
		if len(s.files) > 0 && f.Ordinal <= s.files[len(s.files)-1].Ordinal {
			return fmt.Errorf("%w: files out of order", errStats)
		}
		fileTrips += f.Trips
		s.files = append(s.files, f)
	}
	var hourTrips int64
	for h := range s.hours {
		s.hours[h] = int64(d.u())
		hourTrips += s.hours[h]
	}
	nonzero := d.u()
	k, cellTrips := -1, int64(0)
	for range nonzero {
		k += int(d.u())
		if d.err != nil || k < 0 || k >= numKeys {
			return fmt.Errorf("%w: key out of range", errStats)
		}
		c := &s.cells[k]
		c.n, c.sum = int64(d.u()), d.i()
		if c.n <= 0 || c.sum < 0 {
			return fmt.Errorf("%w: key %d: %d trips of %g minutes in all", errStats, k, c.n, float64(c.sum)/minuteUnit)
		}
		cellTrips += c.n
	}
	ns := d.u()
	if ns > SampleSize {
		return fmt.Errorf("%w: sample of %d trips; want at most %d", errStats, ns, SampleSize)
	}
	for range ns {
		e := sampled{hash: d.u64(), key: d.u64(), micros: d.i(), ordinal: int32(d.u()), row: uint32(d.u())}
		e.minutes = math.Float32frombits(d.u32())
		e.pu, e.do, e.pax = uint16(d.u()), uint16(d.u()), int8(d.i())
		e.hasTime = d.byte() == 1
		if !(e.minutes >= 0 && e.minutes <= math.MaxFloat32) || e.pu < 1 || e.pu > nz-1 || e.do < 1 || e.do > nz-1 {
			return fmt.Errorf("%w: a sampled trip is out of range", errStats)
		}
		s.sample.buf = append(s.sample.buf, e)
	}
	switch {
	case d.err != nil:
		return fmt.Errorf("%w: %v", errStats, d.err)
	case len(d.b) != 0:
		return fmt.Errorf("%w: %d bytes after the end", errStats, len(d.b))
	case fileTrips != s.trips || hourTrips != s.trips || cellTrips != s.trips:
		return fmt.Errorf("%w: %d trips, but files count %d, hours %d and keys %d", errStats, s.trips, fileTrips, hourTrips, cellTrips)
	case int64(ns) != min(s.trips, SampleSize):
		return fmt.Errorf("%w: sample of %d trips out of %d", errStats, ns, s.trips)
	}
	if ns == SampleSize {
		s.sample.bound, s.sample.full = s.sample.buf[ns-1], true
	}
	return nil
}

// statsDecoder reads the values MarshalBinary appends, remembering the
// first error.
type statsDecoder struct {
	b   []byte
	err error
}

func (d *statsDecoder) fail() {
	if d.err == nil {
		d.err = errors.New("truncated")
	}
	d.b = nil
}

// take returns the next n bytes, or nil (and the error) when fewer are left.
func (d *statsDecoder) take(n int) []byte {
	if len(d.b) < n {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// varint reads one varint with read (binary.Uvarint or binary.Varint).
func varint[T uint64 | int64](d *statsDecoder, read func([]byte) (T, int)) T {
	v, n := read(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *statsDecoder) u() uint64 { return varint(d, binary.Uvarint) }

func (d *statsDecoder) i() int64 { return varint(d, binary.Varint) }

func (d *statsDecoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *statsDecoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *statsDecoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}
