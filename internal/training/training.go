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
	"strconv"
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
}

// ErrNoData is returned when cleaning leaves nothing to learn from.
var ErrNoData = errors.New("no trips left after cleaning")

// Run trains a model as cfg says.
func Run(ctx context.Context, cfg Config, r *tlc.Resolver) (*model.Artifact, error) {
	if _, err := model.NewEstimator(cfg.Kind, nil); err != nil {
		return nil, err // a wrong kind fails before any data is read
	}
	zt, err := LoadZones(cfg.ZoneLookup, cfg.ZoneShapes)
	if err != nil {
		return nil, err
	}
	train, trainSet, err := Load(ctx, r, cfg.Rules, cfg.Train)
	if err != nil {
		return nil, fmt.Errorf("training data: %w", err)
	}
	var valid []trip.Example
	var validSet *model.Dataset
	if len(cfg.Valid) > 0 {
		v, set, err := Load(ctx, r, cfg.Rules, cfg.Valid)
		if err != nil {
			return nil, fmt.Errorf("validation data: %w", err)
		}
		valid, validSet = v, &set
	}
	est, err := model.NewEstimator(cfg.Kind, zt)
	if err != nil {
		return nil, err
	}
	m, err := est.Fit(ctx, train)
	if err != nil {
		return nil, fmt.Errorf("fit %s model: %w", cfg.Kind, err)
	}
	eval := model.Evaluation{Train: model.Evaluate(m, train)}
	if valid != nil {
		v := model.Evaluate(m, valid)
		eval.Valid = &v
	}
	profile, err := drift.NewProfile(train, valid, m, drift.DefaultSettings())
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

// Load resolves sources and reads and cleans their trips, describing what it read.
func Load(ctx context.Context, r *tlc.Resolver, rules trip.Rules, sources []string) ([]trip.Example, model.Dataset, error) {
	set := model.Dataset{Sources: sources}
	files, err := r.Resolve(ctx, sources...)
	if err != nil {
		return nil, set, err
	}
	var out []trip.Example
	for _, path := range files {
		info, err := tlc.Fingerprint(path)
		if err != nil {
			return nil, set, err
		}
		var st trip.Stats
		err = tlc.ReadFile(ctx, path, func(rows []trip.Raw) error {
			for _, raw := range rows {
				if ex, ok := rules.Clean(raw, &st); ok {
					out = append(out, ex)
				}
			}
			return nil
		})
		if err != nil {
			return nil, set, err
		}
		info.Rows, info.Kept = st.Read, st.Kept
		set.Files = append(set.Files, info)
		set.Stats.Add(st)
	}
	if len(out) == 0 {
		return nil, set, fmt.Errorf("%v: %w (%d rows read)", sources, ErrNoData, set.Stats.Read)
	}
	return out, set, nil
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
