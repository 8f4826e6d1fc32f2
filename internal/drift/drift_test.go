package drift_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc/tlctest"
	"github.com/taxieta/taxieta/internal/trip"
)

// TestScoresOnRealMonths scores whole months and 6,000-trip samples of
// them against the default model's profile: a month inside the training
// months raises no flag, another period or taxi type flags the pickup zones.
func TestScoresOnRealMonths(t *testing.T) {
	dir := testenv.DataDir(t)
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := a.Profile
	if p == nil {
		t.Fatal("the default model has no drift profile")
	}
	pickup := map[string]float64{}
	for _, tt := range []struct {
		file       string
		pickupFlag bool // and no flag at all when false
	}{
		{"green_tripdata_2023-02.parquet", false},
		{"green_tripdata_2024-03.parquet", false},
		{"green_tripdata_2021-01.parquet", true},
		{"yellow_tripdata_sample_2019-03.csv", true},
	} {
		all := tlctest.CleanTrips(t, filepath.Join(dir, tt.file))
		for _, n := range []int{6000, len(all)} {
			trips := tlctest.Spread(all, n)
			preds := make([]trip.Prediction, len(trips))
			a.Model.PredictBatch(trips, preds)
			var c drift.Counts
			c.Add(p, trips, preds)
			scores := p.Score(&c, drift.Options{})
			for _, s := range scores {
				t.Logf("%s, %d trips: %-18s %.4f (calibrated %.4f, threshold %.4f) flag %v unknown %.3f", tt.file, len(trips), s.Feature, s.Score, s.Calibrated, s.Threshold, s.Flag, s.UnknownShare)
				if !s.Computed || s.Threshold < s.Calibrated || s.Threshold < s.MinEffect {
					t.Errorf("%s %s: %+v", tt.file, s.Feature, s)
				}
				if !tt.pickupFlag && s.Flag {
					t.Errorf("%s, %d trips: %s flagged (%.4f > %.4f)", tt.file, len(trips), s.Feature, s.Score, s.Threshold)
				}
			}
			if got := scores[drift.PickupZone].Flag; got != tt.pickupFlag {
				t.Errorf("%s, %d trips: pickup_zone flag %v; want %v", tt.file, len(trips), got, tt.pickupFlag)
			}
			if n == 6000 {
				pickup[tt.file] = scores[drift.PickupZone].Score
			}
		}
	}
	if s := pickup["green_tripdata_2024-03.parquet"]; s <= pickup["green_tripdata_2023-02.parquet"] || s >= pickup["green_tripdata_2021-01.parquet"] {
		t.Errorf("pickup_zone scores of 6,000 trips %v: want 2024-03 between 2023-02 and 2021-01", pickup)
	}
}

// TestCalibratedFalseAlarms draws windows from the reference itself: about
// 1% of them may exceed the calibrated threshold, never many more.
func TestCalibratedFalseAlarms(t *testing.T) {
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := a.Profile
	// Windows of the training months' own trips, read back from a profile
	// replay: bins drawn in proportion to the reference counts.
	for _, n := range []int{300, 3000, 30000} {
		alarms := [drift.NumFeatures]int{}
		const windows = 200
		for w := range windows {
			var c drift.Counts
			fillFromReference(p, &c, n, uint64(w))
			for f, s := range p.Score(&c, drift.Options{MinEffects: &[drift.NumFeatures]float64{0, 0, 0, 0, 0}}) {
				if s.Flag {
					alarms[f]++
				}
			}
		}
		for f, k := range alarms {
			t.Logf("%d-trip windows: %s above its calibrated threshold in %d of %d", n, drift.Feature(f), k, windows)
			if k > windows/20 {
				t.Errorf("%d-trip windows: %s: %d false alarms in %d; want about 1%%", n, drift.Feature(f), k, windows)
			}
		}
	}
}

// fillFromReference counts n trips drawn from the profile's reference
// distributions, feature by feature, with a seeded generator.
func fillFromReference(p *drift.Profile, c *drift.Counts, n int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	off := 0
	for f := range drift.NumFeatures {
		fp := p.Features[f]
		cum := make([]int64, len(fp.Counts))
		var total int64
		for b, v := range fp.Counts {
			total += v
			cum[b] = total
		}
		for range n {
			x := r.Int64N(total)
			b := sort.Search(len(cum), func(i int) bool { return cum[i] > x })
			c.Bins[off+b]++
		}
		off += binsOf(f)
	}
	c.Trips = int64(n)
}

// binsOf is the room a feature takes in Counts.Bins.
func binsOf(f drift.Feature) int {
	switch f {
	case drift.PickupZone, drift.DropoffZone:
		return drift.ZoneBins
	case drift.PassengerCategory:
		return drift.PassengerBins
	case drift.HourOfWeek:
		return drift.HourBins
	}
	return drift.MaxEstimateBins
}

func TestFewTripsAreNotScored(t *testing.T) {
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	var c drift.Counts
	trips := []trip.Trip{{PULocationID: 74, DOLocationID: 75, Passengers: 1}}
	preds := make([]trip.Prediction, 1)
	a.Model.PredictBatch(trips, preds)
	c.Add(a.Profile, trips, preds)
	for _, s := range a.Profile.Score(&c, drift.Options{}) {
		if s.Computed || s.Flag || s.Score != 0 || math.IsNaN(s.UnknownShare) {
			t.Errorf("one trip: %+v; want not computed", s)
		}
	}
	// No pickup time: hour of week has no trips to score, all unknown.
	if s := a.Profile.Score(&c, drift.Options{MinTrips: 1}); !s[drift.PickupZone].Computed || s[drift.HourOfWeek].Computed || s[drift.HourOfWeek].UnknownShare != 1 {
		t.Errorf("min trips 1: %+v", s)
	}
	var empty drift.Counts
	for _, s := range a.Profile.Score(&empty, drift.Options{}) {
		if s.Computed || s.UnknownShare != 0 {
			t.Errorf("empty window: %+v", s)
		}
	}
}

func TestValidate(t *testing.T) {
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		break_ func(p *drift.Profile)
		want   string
	}{
		{"no trips", func(p *drift.Profile) { p.Trips = 0 }, "trips 0"},
		{"quantile", func(p *drift.Profile) { p.Quantile = 1 }, "quantile"},
		{"features", func(p *drift.Profile) { p.Features = p.Features[:2] }, "2 features"},
		{"order", func(p *drift.Profile) { p.Features[0], p.Features[1] = p.Features[1], p.Features[0] }, `is "dropoff_zone"`},
		{"counts", func(p *drift.Profile) { p.Features[0].Counts = p.Features[0].Counts[:3] }, "3 counts"},
		{"negative", func(p *drift.Profile) { p.Features[2].Counts[1] = -1 }, "negative"},
		{"edges", func(p *drift.Profile) { p.Features[4].Edges[1] = p.Features[4].Edges[0] }, "increasing"},
		{"score", func(p *drift.Profile) { p.Features[4].Score = "js" }, `score "js"`},
		{"min effect", func(p *drift.Profile) { p.Features[3].MinEffect = math.NaN() }, "min_effect"},
		{"thresholds", func(p *drift.Profile) { p.Features[3].Thresholds = nil }, "no thresholds"},
		{"threshold order", func(p *drift.Profile) { p.Features[3].Thresholds[1].Trips = 1 }, "increasing sizes"},
		{"version", func(p *drift.Profile) { p.Version = drift.ProfileVersion + 1 }, "reads versions up to"},
		{"hours in version 1", func(p *drift.Profile) { p.Version = 1 }, "per-hour reference in a version 1 profile"},
		{"hours", func(p *drift.Profile) { p.Features[0].ByHour = p.Features[0].ByHour[:3] }, "3 hours of reference"},
		{"hour bin", func(p *drift.Profile) { p.Features[2].ByHour[5][0].Bin = 99 }, "want increasing bins"},
		{"hour count", func(p *drift.Profile) { p.Features[1].ByHour[7][0].Count = 1 << 40 }, "over the week"},
		{"hour of week by hour", func(p *drift.Profile) { p.Features[3].ByHour = p.Features[0].ByHour }, "no per-hour reference"},
		{"span order", func(p *drift.Profile) { p.Features[0].Spans[1].Hours = 1 }, "increasing spans"},
		{"hour of week span", func(p *drift.Profile) { p.Features[3].Spans[0].Hours = 1 }, "increasing spans"},
		{"span thresholds", func(p *drift.Profile) { p.Features[4].Spans[0].Thresholds[2].Score = -1 }, "span of 1 hours"},
		{"smoothing", func(p *drift.Profile) { p.HourSmoothing = math.Inf(1) }, "hour smoothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := json.Marshal(a.Profile)
			var p drift.Profile
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			tt.break_(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v; want an error with %q", err, tt.want)
			}
		})
	}
	if err := a.Profile.Validate(); err != nil {
		t.Errorf("default profile: %v", err)
	}
}

// TestProfileIsReproducible computes a profile twice from the same data.
func TestProfileIsReproducible(t *testing.T) {
	dir := testenv.DataDir(t)
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	trips := tlctest.CleanTrips(t, filepath.Join(dir, "green_tripdata_2023-02.parquet"))
	ex := make([]trip.Example, len(trips))
	for i := range trips {
		ex[i].Trip = trips[i]
	}
	s := drift.DefaultSettings()
	s.Replicates = 50
	var enc [2][]byte
	for i := range enc {
		p, err := drift.NewProfile(ex, nil, a.Model, s)
		if err != nil {
			t.Fatal(err)
		}
		if enc[i], err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
	if string(enc[0]) != string(enc[1]) {
		t.Error("two profiles of the same data differ")
	}
	if _, err := drift.NewProfile(nil, nil, a.Model, s); err == nil {
		t.Error("a profile of no trips: no error")
	}
}

// TestVersion1Profile: a profile written before the per-hour reference
// (no version, no by_hour, no span_thresholds) still decodes, validates
// and scores: whole windows as before, windows of a few hours against the
// whole week, with their hour of week not scored and saying why.
func TestVersion1Profile(t *testing.T) {
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	v2 := a.Profile
	old := *v2
	old.Version, old.HourSmoothing = 0, 0
	old.Features = slices.Clone(v2.Features)
	for i := range old.Features {
		old.Features[i].ByHour, old.Features[i].Spans = nil, nil
	}
	b, err := json.Marshal(&old)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"version"`, `"by_hour"`, `"span_thresholds"`, `"hour_smoothing"`} {
		if strings.Contains(string(b), key) {
			t.Fatalf("a version 1 profile encodes %s", key)
		}
	}
	var p drift.Profile
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("version 1 profile: %v", err)
	}
	trips := make([]trip.Trip, 3000)
	for i := range trips {
		trips[i] = trip.Trip{PULocationID: uint16(1 + i%260), DOLocationID: 75, Passengers: 1, Pickup: time.Date(2024, 3, 4, i%24, 0, 0, 0, time.UTC)}
	}
	preds := make([]trip.Prediction, len(trips))
	a.Model.PredictBatch(trips, preds)
	var c drift.Counts
	c.Add(&p, trips, preds)
	if got, want := p.Score(&c, drift.Options{}), v2.Score(&c, drift.Options{}); got != want {
		t.Errorf("whole-week scores differ between versions:\n%+v\n%+v", got, want)
	}
	day := drift.Span{Hours: 24, Whole: true, FirstHour: 0}
	for f, s := range p.ScoreSpan(&c, drift.Options{}, day) {
		if s.Reference != drift.RefWeek {
			t.Errorf("version 1, %s: reference %q; want week", s.Feature, s.Reference)
		}
		if (drift.Feature(f) == drift.HourOfWeek) != (s.NotScored != "") || (s.NotScored != "" && !strings.Contains(s.NotScored, "version 1")) {
			t.Errorf("version 1, %s: not scored %q", s.Feature, s.NotScored)
		}
	}
	// Version 2 scores the same day against its own hours.
	for _, s := range v2.ScoreSpan(&c, drift.Options{}, day) {
		if s.Reference != drift.RefHours || !s.Computed {
			t.Errorf("version 2, %s: %+v; want computed against the day's hours", s.Feature, s)
		}
	}
}

func TestHourRowJSON(t *testing.T) {
	var r drift.HourRow
	if err := json.Unmarshal([]byte(`"3:10 74:2"`), &r); err != nil || len(r) != 2 || r[1] != (drift.BinCount{Bin: 74, Count: 2}) {
		t.Fatalf("decode: %v %v", r, err)
	}
	if b, err := json.Marshal(r); err != nil || string(b) != `"3:10 74:2"` {
		t.Errorf("encode: %s %v", b, err)
	}
	for _, bad := range []string{`"3:x"`, `"3"`, `[1,2]`, `"a:1"`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestReferenceSampled: the per-hour reference is the sampled trips'
// counts, unscaled, beside the whole week's counts of every trip; a
// reference whose sampled trips were not all counted is refused.
func TestReferenceSampled(t *testing.T) {
	dir := testenv.DataDir(t)
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	trips := tlctest.CleanTrips(t, filepath.Join(dir, "green_tripdata_2023-02.parquet"))
	s := drift.DefaultSettings()
	s.Replicates, s.Sizes, s.SpanSizes = 10, []int{100}, []int{100}
	preds := make([]trip.Prediction, len(trips))
	a.Model.PredictBatch(trips, preds)
	for _, tc := range []struct {
		name  string
		every int // every how many trips is sampled
	}{{"all", 1}, {"a third", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			ref := drift.NewReference()
			ref.EstimateSource = "training"
			perHour := make([]int64, drift.HourBins-1)
			for i := range trips {
				ref.AddInput(&trips[i], 1)
				ref.AddEstimate(&trips[i], float64(preds[i].Minutes))
				if i%tc.every == 0 {
					ref.AddSampled(&trips[i])
					if h := trip.HourOfWeek(trips[i].Pickup); h >= 0 {
						perHour[h]++
					}
				}
			}
			p, err := drift.NewProfileFrom(ref, s)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if p.Trips != int64(len(trips)) {
				t.Errorf("%d trips; want %d", p.Trips, len(trips))
			}
			for _, f := range []drift.Feature{drift.PickupZone, drift.PassengerCategory} {
				for h, row := range p.Features[f].ByHour {
					var n int64
					for _, bc := range row {
						n += bc.Count
					}
					if n != perHour[h] {
						t.Fatalf("%s, hour %d: %d trips by hour; want the %d sampled", f, h, n, perHour[h])
					}
				}
			}
			if tc.every == 1 {
				// Sampling every trip: the hours add up to the week's
				// counts of the trips with a pickup time.
				pu := p.Features[drift.HourOfWeek].Counts
				for h, n := range perHour {
					if pu[h] != n {
						t.Fatalf("hour %d: %d trips in the week's counts, %d by hour", h, pu[h], n)
					}
				}
			}
			for _, sp := range p.Features[drift.PickupZone].Spans {
				if len(sp.Thresholds) != 1 || !(sp.Thresholds[0].Score > 0) {
					t.Errorf("span %d hours: thresholds %+v", sp.Hours, sp.Thresholds)
				}
			}
		})
	}
	ref := drift.NewReference()
	ref.AddInput(&trips[0], 1)
	ref.AddSampled(&trips[0])
	ref.AddSampled(&trips[0])
	ref.AddEstimate(&trips[0], 10)
	if _, err := drift.NewProfileFrom(ref, s); err == nil {
		t.Error("more sampled trips than counted: no error")
	}
}
