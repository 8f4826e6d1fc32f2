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
// metrics and the drift estimates learn from): 262,144, more than any
// four green months, so that the default model's calibration sees every
// trip. Beyond it the sample is uniform over all trips.
const SampleSize = 1 << 18

// numFolds is the number of cross-fitting folds.
const numFolds = 2

// numKeys is the number of (pair, passenger category, fold) keys.
const numKeys = numPairs * numPassengerCats * numFolds

// minuteUnit is the fixed-point unit of summed minutes: a float32 duration
// of 1..60 minutes is a whole number of 2⁻²³ minutes, so sums are exact
// integers and do not depend on the order trips are added in.
const minuteUnit = 1 << 23

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
	n   []uint32 // by key
	sum []int64  // by key, minutes in units of 1/minuteUnit
	// hours counts trips by hour of week; hours[168] those without a pickup time.
	hours  [hoursPerWeek + 1]int64
	trips  int64
	files  []StatsFile
	sample sampleHeap
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

// sampled is one trip of the sample.
type sampled struct {
	hash    uint64
	key     uint64 // file key, to break ties
	ordinal int32
	row     uint32
	ex      trip.Example
}

// NewStats returns empty statistics.
func NewStats() *Stats {
	return &Stats{n: make([]uint32, numKeys), sum: make([]int64, numKeys)}
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

// Add counts one cleaned trip (zones 1..MaxZone, 1..60 minutes) as the next
// row of the current file.
func (s *Stats) Add(ex trip.Example) {
	f := s.cur
	row := uint64(f.Trips)
	f.Trips++
	s.trips++
	k := statsKey(ex.Trip, int(row%numFolds))
	s.n[k]++
	s.sum[k] += int64(float64(ex.Minutes) * minuteUnit)
	s.hours[hourSlot(ex.Pickup)]++
	h := mix(f.Key ^ mix(row+1))
	if len(s.sample) == SampleSize && h > s.sample[0].hash {
		return // the common case once the sample is full
	}
	s.sample.offer(sampled{hash: h, key: f.Key, ordinal: int32(f.Ordinal), row: uint32(row), ex: ex})
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
	for k, c := range o.n {
		if c != 0 {
			s.n[k] += c
			s.sum[k] += o.sum[k]
		}
	}
	for h, c := range o.hours {
		s.hours[h] += c
	}
	s.trips += o.trips
	s.files = append(s.files, o.files...)
	s.cur = nil
	for _, e := range o.sample {
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
				n += int64(s.n[k])
				sum += s.sum[k]
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
	sorted := slices.Clone(s.sample)
	slices.SortFunc(sorted, func(a, b sampled) int {
		return cmp.Or(cmp.Compare(a.ordinal, b.ordinal), cmp.Compare(a.row, b.row))
	})
	examples = make([]trip.Example, len(sorted))
	folds = make([]uint8, len(sorted))
	for i, e := range sorted {
		examples[i], folds[i] = e.ex, uint8(e.row%numFolds)
	}
	return examples, folds
}

// SampleWeight is how many trips each sampled trip stands for: 1 while the
// sample holds every trip.
func (s *Stats) SampleWeight() float64 {
	if int64(len(s.sample)) == s.trips {
		return 1
	}
	return float64(s.trips) / float64(len(s.sample))
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
				ps += s.sum[k]
				pn += int64(s.n[k])
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
				minutes[c] += s.sum[k]
				pn += int64(s.n[k])
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

// sampleHeap is a max-heap of the sampled trips by (hash, file key, row):
// the root is the first to go when a smaller one comes.
type sampleHeap []sampled

func (h sampleHeap) less(i, j int) bool { return after(&h[i], &h[j]) }

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

// offer keeps e if it is among the SampleSize first in the sample's order.
func (h *sampleHeap) offer(e sampled) {
	if len(*h) < SampleSize {
		if *h == nil {
			*h = make(sampleHeap, 0, SampleSize)
		}
		*h = append(*h, e)
		h.up(len(*h) - 1)
		return
	}
	if !after(&(*h)[0], &e) {
		return
	}
	(*h)[0] = e
	h.down(0)
}

func (h sampleHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (h sampleHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
