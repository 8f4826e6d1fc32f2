package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/training"
	"github.com/taxieta/taxieta/internal/trip"
)

// dataFlags are the flags of every command that reads TLC data.
type dataFlags struct {
	dataDir  string
	cacheDir string
	baseURL  string
}

func (d *dataFlags) register(fsAdd func(p *string, name, value, usage string)) {
	fsAdd(&d.dataDir, "data-dir", "", "directory holding TLC files (green_tripdata_YYYY-MM.parquet, taxi_zone_lookup.csv, taxi_zones.geojson)")
	fsAdd(&d.cacheDir, "cache-dir", defaultCacheDir(), "directory for downloaded files")
	fsAdd(&d.baseURL, "tlc-base-url", tlc.DefaultBaseURL, "where the TLC's monthly files are downloaded from")
}

func (d *dataFlags) resolver(env environment) *tlc.Resolver {
	f := &tlc.Fetcher{BaseURL: d.baseURL}
	if w, ok := env.stderr.(*os.File); ok && tlc.IsTerminal(w) {
		f.Progress = w
	}
	return &tlc.Resolver{DataDir: d.dataDir, CacheDir: filepath.Join(d.cacheDir, "tlc"), Fetcher: f}
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "taxieta")
	}
	return filepath.Join(os.TempDir(), "taxieta-cache")
}

func runTrain(ctx context.Context, env environment, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "map": // training on many machines: one statistics file per input file
			return runTrainMap(ctx, env, args[1:])
		case "merge": // and the model from them
			return runTrainMerge(ctx, env, args[1:])
		}
	}
	fs := newFlagSet(env, "train", "train --train SPEC [--valid SPEC] --out FILE [flags]\n       taxieta train map --train SPEC... --out DIR [--index N]\n       taxieta train merge --stats DIR|FILE... --out FILE")
	var (
		d                   dataFlags
		train, valid        listFlag
		kind, out, name     string
		zoneLookup, shapes  string
		asJSON              bool
		minMinutes, maxMins float64
		registerAs, alias   string
		rf                  registryFlags
	)
	d.register(fs.StringVar)
	fs.Var(&train, "train", "training data: file paths or month specs (repeatable, comma-separated)")
	fs.Var(&valid, "valid", "validation data, usually the month after the training data")
	fs.StringVar(&kind, "model", model.KindOD, fmt.Sprintf("model kind, one of %v", model.Kinds))
	fs.StringVar(&out, "out", "", "artifact file to write (required)")
	fs.StringVar(&name, "name", model.DefaultName, "model name recorded in the artifact")
	fs.StringVar(&zoneLookup, "zones", "", "taxi_zone_lookup.csv (default: the one in --data-dir, if any)")
	fs.StringVar(&shapes, "zone-shapes", "", "zone shapes as GeoJSON (default: taxi_zones.geojson in --data-dir, if any)")
	fs.BoolVar(&asJSON, "json", false, "print the metrics as JSON on stdout")
	fs.Float64Var(&minMinutes, "min-minutes", trip.DefaultRules().MinMinutes, "cleaning: shortest trip kept, minutes")
	fs.Float64Var(&maxMins, "max-minutes", trip.DefaultRules().MaxMinutes, "cleaning: longest trip kept, minutes")
	fs.StringVar(&registerAs, "register", "", "also register the model as a new version of this registered model name")
	fs.StringVar(&alias, "alias", "", "with --register: point this alias (e.g. champion) at the new version")
	rf.register(fs)
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	switch {
	case alias != "" && registerAs == "":
		return usageError{errors.New("train: --alias needs --register NAME")}
	case registerAs != "" && registry.CheckName(registerAs) != nil:
		return usageError{fmt.Errorf("train: --register: %w", registry.CheckName(registerAs))}
	case alias != "" && registry.CheckAlias(alias) != nil:
		return usageError{fmt.Errorf("train: --alias: %w", registry.CheckAlias(alias))}
	case len(train) == 0:
		return usageError{errors.New("train: --train is required (e.g. --train green:2023-01)")}
	case out == "":
		return usageError{errors.New("train: --out is required")}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("train: unexpected argument %q", fs.Arg(0))}
	case !(minMinutes >= 0 && maxMins > minMinutes):
		return usageError{fmt.Errorf("train: --min-minutes %g and --max-minutes %g must satisfy 0 <= min < max", minMinutes, maxMins)}
	}
	zoneLookup, shapes = zoneFiles(d.dataDir, zoneLookup, shapes)
	created, err := creationTime(env.getenv)
	if err != nil {
		return err
	}
	start := time.Now()
	a, err := training.Run(ctx, training.Config{
		Kind: kind, Name: name, Train: train, Valid: valid,
		Rules:      trip.Rules{MinMinutes: minMinutes, MaxMinutes: maxMins},
		ZoneLookup: zoneLookup, ZoneShapes: shapes,
		Trainer: trainerVersion(), Created: created,
	}, d.resolver(env))
	if err != nil {
		return fmt.Errorf("train: %w (no model written)", err)
	}
	if err := a.WriteFile(out); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if registerAs != "" {
		msg := env.stdout
		if asJSON {
			msg = env.stderr // stdout is the JSON document
		}
		if err := registerTrained(ctx, env, msg, &rf, a, registerAs, alias, start); err != nil {
			return fmt.Errorf("train: %w (the model was written to %s)", err, out)
		}
	}
	if asJSON {
		return printTrainJSON(env.stdout, a, out)
	}
	printTrainReport(env.stdout, a, out, time.Since(start))
	return nil
}

// registerTrained registers a as a new version of name and, if alias is
// set, points alias at it.
func registerTrained(ctx context.Context, env environment, msg io.Writer, rf *registryFlags, a *model.Artifact, name, alias string, started time.Time) error {
	reg, err := rf.open(env, newLogger(env.stderr, slog.LevelInfo))
	if err != nil {
		return err
	}
	b, err := a.Encode()
	if err != nil {
		return err
	}
	info, err := registry.RunInfoFor(a, started)
	if err != nil {
		return err
	}
	v, err := reg.Register(ctx, name, b, info)
	if err != nil {
		return fmt.Errorf("register in %s: %w", reg.Location(), err)
	}
	fmt.Fprintf(msg, "registered models:/%s/%s in %s (sha256 %s, run %s)\n", v.Name, v.Version, reg.Location(), v.Checksum, v.RunID)
	if alias != "" {
		if err := reg.SetAlias(ctx, name, alias, v.Version); err != nil {
			return fmt.Errorf("version %s registered, but setting alias %s failed: %w", v.Version, alias, err)
		}
		fmt.Fprintf(msg, "models:/%s@%s -> version %s\n", v.Name, alias, v.Version)
	}
	return nil
}

// creationTime honours SOURCE_DATE_EPOCH, for reproducible artifacts.
func creationTime(getenv func(string) string) (time.Time, error) {
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, usageError{fmt.Errorf("SOURCE_DATE_EPOCH %q is not a Unix time in seconds", s)}
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

func printTrainJSON(w io.Writer, a *model.Artifact, out string) error {
	doc := map[string]any{
		"model":    map[string]any{"kind": a.Kind, "name": a.Name, "file": out, "sha256": a.Checksum},
		"train":    a.Metrics.Train,
		"cleaning": map[string]any{"rules": a.Cleaning.Rules, "train": a.Training.Stats},
	}
	if a.Metrics.Valid != nil {
		doc["valid"] = a.Metrics.Valid
		doc["cleaning"].(map[string]any)["valid"] = a.Validation.Stats
	}
	return writeJSON(w, doc)
}

func printTrainReport(w io.Writer, a *model.Artifact, out string, took time.Duration) {
	sets := []struct {
		name string
		set  *model.Dataset
	}{{"train", &a.Training}, {"valid", a.Validation}}
	for _, s := range sets {
		if s.set == nil {
			continue
		}
		st := s.set.Stats
		fmt.Fprintf(w, "%s data %v: %d files, %d rows read, %d kept; %s\n",
			s.name, s.set.Sources, len(s.set.Files), st.Read, st.Kept, droppedCounts(st))
	}
	fmt.Fprintf(w, "\nmodel %s (%s); metrics on the lab's inputs (zones, passenger count), minutes:\n", a.Kind, a.Name)
	rows := []metricsRow{{"train", &a.Metrics.Train}}
	if a.Metrics.Valid != nil {
		rows = append(rows, metricsRow{"valid", a.Metrics.Valid})
	}
	printMetricsTable(w, rows...)
	if v := a.Metrics.Valid; v != nil && v.RMSEWithTime != nil {
		fmt.Fprintf(w, "with the pickup time as well: valid RMSE %.3f (%.1f%% lower), in range %.1f%%\n",
			*v.RMSEWithTime, 100*(1-*v.RMSEWithTime/v.RMSE), 100**v.IntervalCoverageWithTime)
	}
	fmt.Fprintf(w, "\nwrote %s (sha256 %s) in %s\n", out, a.Checksum, took.Round(time.Millisecond))
}

// metricsRow is one named row of printMetricsTable.
type metricsRow struct {
	name string
	m    *model.Metrics
}

// printMetricsTable prints metrics as the right-aligned table that train and
// predict both report.
func printMetricsTable(w io.Writer, rows ...metricsRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\trows\tRMSE\tMAE\tR²\tin 10–90% range\t")
	for _, r := range rows {
		m := r.m
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.1f%%\t\n", r.name, m.Rows, m.RMSE, m.MAE, m.R2, 100*m.IntervalCoverage)
	}
	tw.Flush()
}

// droppedCounts says what the cleaning rules dropped, as train and predict
// both report it.
func droppedCounts(st trip.Stats) string {
	return fmt.Sprintf("dropped: bad_zone %d, too_short %d, too_long %d; passenger_count unknown (kept): %d",
		st.BadZone, st.TooShort, st.TooLong, st.PassengersUnknown)
}

// zoneFiles are the zone lookup and shapes a training command uses: those
// given, else the data folder's (the shapes only with its lookup).
func zoneFiles(dataDir, lookup, shapes string) (string, string) {
	defLookup, defShapes := training.DefaultZoneFiles(dataDir)
	if lookup == "" {
		lookup = defLookup
		if shapes == "" {
			shapes = defShapes
		}
	}
	return lookup, shapes
}
