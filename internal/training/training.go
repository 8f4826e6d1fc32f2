// Package training turns trip sources into a trained, measured model
// artifact: resolve the sources, read and clean the trips, fit, evaluate on
// the training data and on a later month, and describe it all in the
// artifact.
package training

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/zones"
)

// Config says what to train and on what.
type Config struct {
	Kind  string
	Name  string
	Train []string // trip sources: files or month specs
	Valid []string // optional
	Rules trip.Rules
	// ZoneLookup and ZoneShapes are optional files: taxi_zone_lookup.csv
	// and the zone shapes as GeoJSON.
	ZoneLookup string
	ZoneShapes string
	// Trainer is the version of taxieta doing the training.
	Trainer string
	// Created is the artifact's creation time.
	Created time.Time
	// Drift sets how the drift profile is computed; the zero Settings mean
	// drift.DefaultSettings().
	Drift drift.Settings
}

// ErrNoData is returned when cleaning leaves nothing to learn from.
var ErrNoData = errors.New("no trips left after cleaning")

// Run trains a model as cfg says. The training trips are folded into
// statistics as they are read (memory depends on the key space, not on the
// number of trips); the validation trips are measured as they are read,
// after the fit.
func Run(ctx context.Context, cfg Config, r *tlc.Resolver) (*model.Artifact, error) {
	if _, err := model.NewEstimator(cfg.Kind, nil); err != nil {
		return nil, err // a wrong kind fails before any data is read
	}
	zt, err := LoadZones(cfg.ZoneLookup, cfg.ZoneShapes)
	if err != nil {
		return nil, err
	}
	st, trainSet, err := Aggregate(ctx, r, cfg.Rules, cfg.Train)
	if err != nil {
		return nil, fmt.Errorf("training data: %w", err)
	}
	return FromStats(ctx, cfg, r, zt, st, trainSet)
}

// FromStats is the rest of Run once the training trips are folded into
// st (described by trainSet): fit, measure on the training sample and on
// the validation sources, and describe it all in the artifact. Statistics
// merged from files aggregated apart give the same artifact as Run.
func FromStats(ctx context.Context, cfg Config, r *tlc.Resolver, zt zones.Table, st *model.Stats, trainSet model.Dataset) (*model.Artifact, error) {
	est, err := model.NewEstimator(cfg.Kind, zt)
	if err != nil {
		return nil, err
	}
	m, err := est.FitStats(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("fit %s model: %w", cfg.Kind, err)
	}
	sample, _ := st.Sample()
	eval := model.Evaluation{Train: model.Evaluate(m, sample)}
	ref := reference(st, sample)
	var validSet *model.Dataset
	if len(cfg.Valid) > 0 {
		set, met, err := Measure(ctx, r, cfg.Rules, cfg.Valid, m, ref)
		if err != nil {
			return nil, fmt.Errorf("validation data: %w", err)
		}
		validSet, eval.Valid = &set, &met
	} else {
		ref.EstimateSource = "training"
		for i := range sample {
			ref.AddEstimate(&sample[i].Trip, float64(m.Predict(sample[i].Trip).Minutes))
		}
	}
	ds := cfg.Drift
	if ds.Replicates == 0 {
		ds = drift.DefaultSettings()
	}
	profile, err := drift.NewProfileFrom(ref, ds)
	if err != nil {
		return nil, err
	}
	if zt == nil {
		zt = make(zones.Table, trip.MaxZone+1)
		for i := 1; i <= trip.MaxZone; i++ {
			zt[i] = zones.Zone{ID: i, Name: "Zone " + strconv.Itoa(i), Borough: "Unknown"}
		}
	}
	return model.NewArtifact(m, model.Artifact{
		Name:       cfg.Name,
		CreatedAt:  cfg.Created.UTC(),
		Trainer:    cfg.Trainer,
		Cleaning:   model.Cleaning{Rules: cfg.Rules, Description: cfg.Rules.Describe()},
		Training:   trainSet,
		Validation: validSet,
		Metrics:    eval,
		Zones:      zt,
		Profile:    profile,
	})
}

// Reference is the drift reference of training statistics, with no
// estimates yet: the trips per pickup zone, dropoff zone, passenger
// category and hour of week, and the statistics' sample as the sampled
// trips of the per-hour reference (every training trip while there are at
// most model.SampleSize; beyond, the sample's own counts, unscaled: see
// drift.Reference). Statistics merged in any order have the same sample in
// the same (training) order, hence the same reference.
func Reference(st *model.Stats) *drift.Reference {
	sample, _ := st.Sample()
	return reference(st, sample)
}

// reference is Reference of st with its sample already drawn.
func reference(st *model.Stats, sample []trip.Example) *drift.Reference {
	ref := drift.NewReference()
	ref.Trips = st.Trips()
	pu, do, pax := st.ZoneCounts()
	copy(ref.Inputs[drift.PickupZone], pu)
	copy(ref.Inputs[drift.DropoffZone], do)
	copy(ref.Inputs[drift.PassengerCategory], pax)
	copy(ref.Inputs[drift.HourOfWeek], st.HourCounts())
	for i := range sample {
		ref.AddSampled(&sample[i].Trip)
	}
	return ref
}

// maxWorkers bounds how many files Aggregate reads at once: each reader
// holds statistics of its own (about 45 MB), merged at the end.
const maxWorkers = 4

// Aggregate resolves sources and folds their cleaned trips into training
// statistics, describing what it read. The i-th file is the statistics'
// file i; files are read by up to GOMAXPROCS readers at once (at most
// maxWorkers), each into statistics of its own, merged at the end, which
// gives the same statistics as one reader.
func Aggregate(ctx context.Context, r *tlc.Resolver, rules trip.Rules, sources []string) (*model.Stats, model.Dataset, error) {
	set := model.Dataset{Sources: sources}
	files, err := r.Resolve(ctx, sources...)
	if err != nil {
		return nil, set, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type result struct {
		info trip.DataFile
		cs   trip.Stats
		err  error
	}
	results := make([]result, len(files))
	workers := min(runtime.GOMAXPROCS(0), len(files), maxWorkers)
	parts := make([]*model.Stats, max(workers, 1))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range parts {
		parts[w] = model.NewStats()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res := &results[i]
				res.info, res.cs, res.err = AggregateFile(ctx, files[i], i, rules, parts[w])
				if res.err != nil {
					cancel(res.err) // the first error is the cause
				}
			}
		}()
	}
feed:
	for i := range files {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, set, err
	}
	for _, res := range results {
		set.Files = append(set.Files, res.info)
		set.Stats.Add(res.cs)
	}
	st := parts[0]
	for i, p := range parts[1:] {
		if err := st.Merge(p); err != nil {
			return nil, set, err
		}
		parts[1+i] = nil // its memory can go before the fit
	}
	if st.Trips() == 0 {
		return nil, set, fmt.Errorf("%v: %w (%d rows read)", sources, ErrNoData, set.Stats.Read)
	}
	return st, set, nil
}

// AggregateFile reads and cleans the trips of one file into st as its file
// ordinal, and describes the file and its cleaning. A file's statistics
// depend on its content and ordinal alone, so files can be aggregated
// apart and merged.
func AggregateFile(ctx context.Context, path string, ordinal int, rules trip.Rules, st *model.Stats) (trip.DataFile, trip.Stats, error) {
	var cs trip.Stats
	info, err := tlc.Fingerprint(path)
	if err != nil {
		return info, cs, err
	}
	key, err := strconv.ParseUint(info.SHA256[:16], 16, 64)
	if err != nil {
		return info, cs, fmt.Errorf("%s: sha256 %q: %w", path, info.SHA256, err)
	}
	if err := st.StartFile(ordinal, key); err != nil {
		return info, cs, fmt.Errorf("%s: %w", path, err)
	}
	err = tlc.ReadColumns(ctx, path, func(c *tlc.Columns) error {
		for i := range c.Len() {
			if ex, ok := rules.Clean(c.Raw(i), &cs); ok {
				st.Add(ex)
			}
		}
		return nil
	})
	if err != nil {
		return info, cs, err
	}
	info.Rows, info.Kept = cs.Read, cs.Kept
	return info, cs, nil
}

// Measure resolves sources and measures m on their cleaned trips as they
// are read, counting m's estimates (with the pickup time) into ref as the
// validation estimates; it describes what it read.
func Measure(ctx context.Context, r *tlc.Resolver, rules trip.Rules, sources []string, m model.Model, ref *drift.Reference) (model.Dataset, model.Metrics, error) {
	set := model.Dataset{Sources: sources}
	files, err := r.Resolve(ctx, sources...)
	if err != nil {
		return set, model.Metrics{}, err
	}
	ev := model.NewEvaluator(m)
	for _, path := range files {
		info, err := tlc.Fingerprint(path)
		if err != nil {
			return set, model.Metrics{}, err
		}
		var cs trip.Stats
		err = tlc.ReadColumns(ctx, path, func(c *tlc.Columns) error {
			for i := range c.Len() {
				if ex, ok := rules.Clean(c.Raw(i), &cs); ok {
					ref.AddEstimate(&ex.Trip, float64(ev.Add(ex).Minutes))
				}
			}
			return nil
		})
		if err != nil {
			return set, model.Metrics{}, err
		}
		info.Rows, info.Kept = cs.Read, cs.Kept
		set.Files = append(set.Files, info)
		set.Stats.Add(cs)
	}
	if set.Stats.Kept == 0 {
		return set, model.Metrics{}, fmt.Errorf("%v: %w (%d rows read)", sources, ErrNoData, set.Stats.Read)
	}
	ref.EstimateSource = "validation"
	return set, ev.Metrics(), nil
}

// LoadZones reads the zone lookup and, if given, the zone shapes. Both
// empty means no zone table (nil).
func LoadZones(lookup, shapes string) (zones.Table, error) {
	if lookup == "" {
		if shapes != "" {
			return nil, errors.New("zone shapes need the zone lookup table too")
		}
		return nil, nil
	}
	zt, err := zones.ReadLookupFile(lookup)
	if err != nil {
		return nil, err
	}
	if shapes != "" {
		if err := zt.AddCentroidsFile(shapes); err != nil {
			return nil, err
		}
	}
	return zt, nil
}

// DefaultZoneFiles returns the zone lookup and shapes in dataDir, each empty
// when absent.
func DefaultZoneFiles(dataDir string) (lookup, shapes string) {
	if dataDir == "" {
		return "", ""
	}
	if p := filepath.Join(dataDir, "taxi_zone_lookup.csv"); exists(p) {
		lookup = p
	}
	if p := filepath.Join(dataDir, "taxi_zones.geojson"); exists(p) && lookup != "" {
		shapes = p
	}
	return lookup, shapes
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
