package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/training"
	"github.com/taxieta/taxieta/internal/trip"
)

// trainerVersion is what train, train map and train merge record as the
// trainer, and what merge requires of the statistics files.
func trainerVersion() string { return "taxieta " + buildinfo.Version() }

// runTrainMap is the map step of training on many machines: each input
// file (or only file --index) becomes one content-addressed statistics
// file in --out.
func runTrainMap(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet(env, "train map", "train map --train SPEC... --out DIR [--index N] [flags]")
	var (
		d                   dataFlags
		train               listFlag
		out                 string
		index               int
		minMinutes, maxMins float64
	)
	d.register(fs.StringVar)
	fs.Var(&train, "train", "the whole training set: file paths or month specs (repeatable, comma-separated), the same in every map run")
	fs.StringVar(&out, "out", "", "directory to write the statistics files to (required)")
	fs.IntVar(&index, "index", -1, "map only this file (0-based) of what --train resolves to, e.g. a Kubernetes JOB_COMPLETION_INDEX; -1: every file")
	fs.Float64Var(&minMinutes, "min-minutes", trip.DefaultRules().MinMinutes, "cleaning: shortest trip kept, minutes")
	fs.Float64Var(&maxMins, "max-minutes", trip.DefaultRules().MaxMinutes, "cleaning: longest trip kept, minutes")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	switch {
	case len(train) == 0:
		return usageError{errors.New("train map: --train is required (e.g. --train green:2023-01..2023-03)")}
	case out == "":
		return usageError{errors.New("train map: --out is required")}
	case index < -1:
		return usageError{fmt.Errorf("train map: --index %d: want a file index from 0, or -1 for every file", index)}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("train map: unexpected argument %q", fs.Arg(0))}
	case !(minMinutes >= 0 && maxMins > minMinutes):
		return usageError{fmt.Errorf("train map: --min-minutes %g and --max-minutes %g must satisfy 0 <= min < max", minMinutes, maxMins)}
	}
	r := d.resolver(env)
	rules := trip.Rules{MinMinutes: minMinutes, MaxMinutes: maxMins}
	indexes := []int{index}
	if index < 0 {
		files, err := r.Resolve(ctx, train...)
		if err != nil {
			return fmt.Errorf("train map: %w", err)
		}
		indexes = indexes[:0]
		for i := range files {
			indexes = append(indexes, i)
		}
	}
	for _, i := range indexes {
		if err := mapOne(ctx, env, r, rules, train, i, out); err != nil {
			return fmt.Errorf("train map: %w", err)
		}
	}
	return nil
}

func mapOne(ctx context.Context, env environment, r *tlc.Resolver, rules trip.Rules, train []string, i int, out string) error {
	s, err := training.MapShard(ctx, r, rules, trainerVersion(), train, i)
	if err != nil {
		return err
	}
	path, err := training.WriteShard(out, s)
	if err != nil {
		return err
	}
	h := s.Header
	fmt.Fprintf(env.stdout, "file %d of %d: %s (%d rows read, %d kept) -> %s\n", h.Ordinal, h.Files, h.Input.Name, h.Input.Rows, h.Input.Kept, path)
	return nil
}

// runTrainMerge is the merge step: statistics files to the model that one
// train over the same training set writes.
func runTrainMerge(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet(env, "train merge", "train merge --stats DIR|FILE... [--valid SPEC] [--expect N] --out FILE [flags]")
	var (
		d                  dataFlags
		stats, valid       listFlag
		kind, out, name    string
		zoneLookup, shapes string
		expect             int
		asJSON             bool
	)
	d.register(fs.StringVar)
	fs.Var(&stats, "stats", "statistics files of train map, or directories of them (repeatable, comma-separated)")
	fs.Var(&valid, "valid", "validation data, usually the month after the training data")
	fs.IntVar(&expect, "expect", 0, "fail unless the training set has exactly this many files (0: any)")
	fs.StringVar(&kind, "model", model.KindOD, fmt.Sprintf("model kind, one of %v", model.Kinds))
	fs.StringVar(&out, "out", "", "artifact file to write (required)")
	fs.StringVar(&name, "name", model.DefaultName, "model name recorded in the artifact")
	fs.StringVar(&zoneLookup, "zones", "", "taxi_zone_lookup.csv (default: the one in --data-dir, if any)")
	fs.StringVar(&shapes, "zone-shapes", "", "zone shapes as GeoJSON (default: taxi_zones.geojson in --data-dir, if any)")
	fs.BoolVar(&asJSON, "json", false, "print the metrics as JSON on stdout")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	switch {
	case len(stats) == 0:
		return usageError{errors.New("train merge: --stats is required")}
	case out == "":
		return usageError{errors.New("train merge: --out is required")}
	case expect < 0:
		return usageError{fmt.Errorf("train merge: --expect %d: want a count, or 0 for any", expect)}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("train merge: unexpected argument %q", fs.Arg(0))}
	}
	if _, err := model.NewEstimator(kind, nil); err != nil {
		return usageError{fmt.Errorf("train merge: %w", err)}
	}
	zoneLookup, shapes = zoneFiles(d.dataDir, zoneLookup, shapes)
	created, err := creationTime(env.getenv)
	if err != nil {
		return err
	}
	start := time.Now()
	paths, err := training.ShardPaths(stats)
	if err != nil {
		return fmt.Errorf("train merge: %w (no model written)", err)
	}
	st, set, rules, err := training.MergeShards(paths, trainerVersion(), expect)
	if err != nil {
		return fmt.Errorf("train merge: %w (no model written)", err)
	}
	zt, err := training.LoadZones(zoneLookup, shapes)
	if err != nil {
		return fmt.Errorf("train merge: %w (no model written)", err)
	}
	a, err := training.FromStats(ctx, training.Config{
		Kind: kind, Name: name, Train: set.Sources, Valid: valid, Rules: rules,
		ZoneLookup: zoneLookup, ZoneShapes: shapes, Trainer: trainerVersion(), Created: created,
	}, d.resolver(env), zt, st, set)
	if err != nil {
		return fmt.Errorf("train merge: %w (no model written)", err)
	}
	if err := a.WriteFile(out); err != nil {
		return fmt.Errorf("train merge: %w", err)
	}
	if asJSON {
		return printTrainJSON(env.stdout, a, out)
	}
	printTrainReport(env.stdout, a, out, time.Since(start))
	return nil
}
