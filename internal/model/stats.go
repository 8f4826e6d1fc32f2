package model

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// SampleSize is how many trips Stats keep in full (the deterministic
// sample the range, hour-of-week and recency calibrations, the training
// metrics and the drift estimates learn from): 262,144, more than the
// default model's 260,891 trips, so that its calibration sees every trip,
// as the trainer that held the trips did. Beyond it the sample is uniform
// over all trips.
const SampleSize = 1 << 18

// numFolds is the number of cross-fitting folds.
const numFolds = 2

// numKeys is the number of (pair, passenger category, fold) keys.
const numKeys = numPairs * numPassengerCats * numFolds

// minuteUnit is the fixed-point unit of summed minutes: a float32 duration
// of at least 1/8 minute is a whole number of 2⁻²⁶ minutes, so sums are
// exact integers (up to 2³⁷ minutes) and do not depend on the order trips
// are added in. (Shorter durations, which the default rules drop, are
// rounded to the unit: still the same whatever the order.)
const minuteUnit = 1 << 26

// Stats are the sufficient statistics the fits learn from, folded from
// trips as they are read so that memory depends on the key space, not on
// the number of trips: by (pickup–dropoff pair, passenger category,
// cross-fitting fold) the count and exact sum of minutes; the count of
// trips per hour of the week; and a deterministic uniform sample of at
// most SampleSize trips (the bottom-k by a hash of file and row), which
// holds every trip while there are fewer.
//
// A trip's fold is the parity of its row among the kept trips of its
// file, so a file's statistics do not depend on the other files: Stats of
// separate files merge (Merge) in any order and grouping into exactly the
// Stats of one pass over all of them.
type Stats struct {
	cells []cell // by key
	// hours counts trips by hour of week; hours[168] those without a pickup time.
	hours  [hoursPerWeek + 1]int64
	trips  int64
	files  []StatsFile
	sample sample
	// cur is the file Add counts rows of.
	cur *StatsFile
}

// StatsFile is one input file of a Stats: its place in the training set
// (Ordinal, which orders the sample), a key identifying its content (a
// repeated file has the same key), and how many trips were added.
type StatsFile struct {
	Ordinal int
	Key     uint64
	Trips   int64
}

// cell is the count and summed minutes (in units of 1/minuteUnit) of a key.
type cell struct{ n, sum int64 }

// sampled is one trip of the sample, in 48 bytes.
type sampled struct {
	hash    uint64
	key     uint64 // file key, to break ties
	micros  int64  // pickup time (wall clock as UTC), if hasTime
	ordinal int32
	row     uint32
	minutes float32
	pu, do  uint16
	pax     int8
	hasTime bool
}

func (e *sampled) example() trip.Example {
	ex := trip.Example{
		Trip:    trip.Trip{PULocationID: e.pu, DOLocationID: e.do, Passengers: e.pax},
		Minutes: e.minutes,
	}
	if e.hasTime {
		ex.Pickup = time.UnixMicro(e.micros).UTC()
	}
	return ex
}

// NewStats returns empty statistics.
func NewStats() *Stats {
	return &Stats{cells: make([]cell, numKeys)}
}

// StartFile starts a file: the trips added next are its rows, in order.
// ordinal is the file's place in the training set, key identifies its
// content.
func (s *Stats) StartFile(ordinal int, key uint64) error {
	for _, f := range s.files {
		if f.Ordinal == ordinal {
			return fmt.Errorf("training statistics: file %d added twice", ordinal)
		}
	}
	s.files = append(s.files, StatsFile{Ordinal: ordinal, Key: key})
	s.cur = &s.files[len(s.files)-1]
	return nil
}

func statsKey(t trip.Trip, fold int) int {
	return (pairIndex(t)*numPassengerCats+passengerIndex(t.Passengers))*numFolds + fold
}

// Add counts one cleaned trip (zones 1..MaxZone, a positive duration) as
// the next row of the current file.
func (s *Stats) Add(ex trip.Example) {
	f := s.cur
	row := uint64(f.Trips)
	f.Trips++
	s.trips++
	c := &s.cells[statsKey(ex.Trip, int(row%numFolds))]
	c.n++
	c.sum += int64(float64(ex.Minutes) * minuteUnit)
	s.hours[hourSlot(ex.Pickup)]++
	// The ordinal is hashed too, so that a file listed twice contributes
	// different rows of each copy.
	h := mix(f.Key ^ mix(row+1+uint64(f.Ordinal)<<40))
	if s.sample.full && h > s.sample.bound.hash {
		return // the common case once the sample is full
	}
	e := sampled{hash: h, key: f.Key, ordinal: int32(f.Ordinal), row: uint32(row), minutes: ex.Minutes,
		pu: ex.PULocationID, do: ex.DOLocationID, pax: ex.Passengers}
	if !ex.Pickup.IsZero() {
		e.hasTime = true
		if ex.Pickup.Location() == time.UTC {
			e.micros = ex.Pickup.UnixMicro()
		} else { // keep the wall clock, which is what the hour of week reads
			y, mo, d := ex.Pickup.Date()
			hh, mm, ss := ex.Pickup.Clock()
			e.micros = time.Date(y, mo, d, hh, mm, ss, ex.Pickup.Nanosecond(), time.UTC).UnixMicro()
		}
	}
	s.sample.offer(e)
}

func hourSlot(t time.Time) int {
	if h := trip.HourOfWeek(t); h >= 0 {
		return h
	}
	return hoursPerWeek
}

// Merge adds o's statistics to s. The files of s and o must differ.
func (s *Stats) Merge(o *Stats) error {
	for _, f := range o.files {
		for _, g := range s.files {
			if f.Ordinal == g.Ordinal {
				return fmt.Errorf("training statistics: file %d in both halves of a merge", f.Ordinal)
			}
		}
	}
	for k, c := range o.cells {
		if c.n != 0 {
			s.cells[k].n += c.n
			s.cells[k].sum += c.sum
		}
	}
	for h, c := range o.hours {
		s.hours[h] += c
	}
	s.trips += o.trips
	s.files = append(s.files, o.files...)
	s.cur = nil
	for _, e := range o.sample.buf {
		s.sample.offer(e)
	}
	return nil
}

// Trips is the number of trips added.
func (s *Stats) Trips() int64 { return s.trips }

// Files are the files added, by ordinal.
func (s *Stats) Files() []StatsFile {
	fs := slices.Clone(s.files)
	slices.SortFunc(fs, func(a, b StatsFile) int { return cmp.Compare(a.Ordinal, b.Ordinal) })
	return fs
}

// HourCounts are the trips per hour of week (Monday 00:00 first), then
// those without a pickup time.
func (s *Stats) HourCounts() []int64 { return slices.Clone(s.hours[:]) }

// forKeys calls fn for every (pair, passenger category) with trips, in
// key order, with their count and summed minutes.
func (s *Stats) forKeys(fn func(pu, do, cat int, n int64, minutes float64)) {
	for p := range numPairs {
		for c := range numPassengerCats {
			var n, sum int64
			for f := range numFolds {
				k := (p*numPassengerCats+c)*numFolds + f
				n += s.cells[k].n
				sum += s.cells[k].sum
			}
			if n > 0 {
				fn(p/nz, p%nz, c, n, float64(sum)/minuteUnit)
			}
		}
	}
}

// ZoneCounts are the trips by pickup zone and by dropoff zone (index the
// zone id) and by passenger category (0..9, then unknown).
func (s *Stats) ZoneCounts() (pickup, dropoff, passengers []int64) {
	pickup, dropoff, passengers = make([]int64, nz), make([]int64, nz), make([]int64, numPassengerCats)
	s.forKeys(func(pu, do, cat int, n int64, _ float64) {
		pickup[pu] += n
		dropoff[do] += n
		passengers[cat] += n
	})
	return pickup, dropoff, passengers
}

// Sample is the sampled trips in training order (file ordinal, then row),
// with their folds: every trip when there are at most SampleSize.
func (s *Stats) Sample() (examples []trip.Example, folds []uint8) {
	s.sample.compact()
	sorted := slices.Clone(s.sample.buf)
	slices.SortFunc(sorted, func(a, b sampled) int {
		return cmp.Or(cmp.Compare(a.ordinal, b.ordinal), cmp.Compare(a.row, b.row))
	})
	examples = make([]trip.Example, len(sorted))
	folds = make([]uint8, len(sorted))
	for i := range sorted {
		examples[i], folds[i] = sorted[i].example(), uint8(sorted[i].row%numFolds)
	}
	return examples, folds
}

// SampleWeight is how many trips each sampled trip stands for: 1 while the
// sample holds every trip.
func (s *Stats) SampleWeight() float64 {
	s.sample.compact()
	if int64(len(s.sample.buf)) == s.trips {
		return 1
	}
	return float64(s.trips) / float64(len(s.sample.buf))
}

// pairSums are, by pair, the summed minutes and count of the trips in
// folds other than skip (none skipped when skip < 0), and the mean of all
// those minutes.
func (s *Stats) pairSums(skip int) (sum, cnt []float64, mean float64) {
	sum = make([]float64, numPairs)
	cnt = make([]float64, numPairs)
	var total, n int64
	for p := range numPairs {
		var ps, pn int64
		for c := range numPassengerCats {
			for f := range numFolds {
				if f == skip {
					continue
				}
				k := (p*numPassengerCats+c)*numFolds + f
				ps += s.cells[k].sum
				pn += s.cells[k].n
			}
		}
		sum[p], cnt[p] = float64(ps)/minuteUnit, float64(pn)
		total += ps
		n += pn
	}
	return sum, cnt, float64(total) / minuteUnit / float64(n)
}

// passengerSums are, by passenger category, the count of trips in folds
// other than skip and the sum of their residuals from the pair estimates.
func (s *Stats) passengerSums(skip int, est []float64) (res, cnt [numPassengerCats]float64) {
	var minutes [numPassengerCats]int64
	for p := range numPairs {
		for c := range numPassengerCats {
			var pn int64
			for f := range numFolds {
				if f == skip {
					continue
				}
				k := (p*numPassengerCats+c)*numFolds + f
				minutes[c] += s.cells[k].sum
				pn += s.cells[k].n
			}
			if pn > 0 {
				cnt[c] += float64(pn)
				res[c] -= float64(pn) * est[p]
			}
		}
	}
	for c := range res {
		res[c] += float64(minutes[c]) / minuteUnit
	}
	return res, cnt
}

// StatsOf are the statistics of examples read as one file.
func StatsOf(examples []trip.Example) *Stats {
	s := NewStats()
	_ = s.StartFile(0, 0) // cannot fail on empty Stats
	for _, ex := range examples {
		s.Add(ex)
	}
	return s
}

// mix is the splitmix64 finaliser: a cheap, well-spread hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// sample keeps the SampleSize first trips in the order of after (a
// bottom-k sample): candidates are appended to buf, and when buf holds
// half as many again it is cut back to the SampleSize first, the last of
// which bounds what may enter from then on. Which trips remain depends on
// the trips offered alone, not on their order.
type sample struct {
	buf   []sampled
	full  bool    // bound is set
	bound sampled // the last kept at the latest compaction
	// hashes is compact's scratch space.
	hashes []uint64
}

// sampleSlack is how many candidates beyond SampleSize buf holds before a
// compaction.
const sampleSlack = SampleSize / 2

// offer adds e as a candidate unless it comes after the bound.
func (p *sample) offer(e sampled) {
	if p.full && after(&e, &p.bound) {
		return
	}
	if p.buf == nil {
		p.buf = make([]sampled, 0, SampleSize+sampleSlack)
	}
	p.buf = append(p.buf, e)
	if len(p.buf) == SampleSize+sampleSlack {
		p.compact()
	}
}

// compact cuts buf back to its SampleSize first: the SampleSize-th
// smallest hash is found among the hashes alone (in linear time), and only
// the trips that share it are ordered in full.
func (p *sample) compact() {
	if len(p.buf) <= SampleSize {
		return
	}
	p.hashes = p.hashes[:0]
	for i := range p.buf {
		p.hashes = append(p.hashes, p.buf[i].hash)
	}
	bound := nthSmallest(p.hashes, SampleSize-1)
	below := 0 // hashes under the bound
	var ties []sampled
	kept := p.buf[:0]
	for _, e := range p.buf { // kept never overtakes the range
		switch {
		case e.hash < bound:
			kept = append(kept, e)
			below++
		case e.hash == bound:
			ties = append(ties, e)
		}
	}
	slices.SortFunc(ties, compareSampled)
	ties = ties[:SampleSize-below]
	p.buf = append(kept, ties...)
	p.bound, p.full = ties[len(ties)-1], true
}

// nthSmallest is the value that would be at index n if v were sorted
// (quickselect; v is reordered).
func nthSmallest(v []uint64, n int) uint64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// Median of three as the pivot, then Hoare's partition.
		mid := lo + (hi-lo)/2
		a, b, c := v[lo], v[mid], v[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case n <= j:
			hi = j
		case n >= i:
			lo = i
		default:
			return v[n]
		}
	}
	return v[n]
}

// after reports whether a comes after b in the sample's order: by hash,
// then file key, row and ordinal, so that the sample is the same whatever
// order trips and merges come in.
func after(a, b *sampled) bool {
	if a.hash != b.hash {
		return a.hash > b.hash
	}
	if a.key != b.key {
		return a.key > b.key
	}
	if a.row != b.row {
		return a.row > b.row
	}
	return a.ordinal > b.ordinal
}

// compareSampled orders sampled trips as after does, for slices.SortFunc.
func compareSampled(a, b sampled) int {
	switch {
	case after(&a, &b):
		return 1
	case after(&b, &a):
		return -1
	}
	return 0
}
