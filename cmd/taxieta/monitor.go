package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/taxieta/taxieta/internal/accuracy"
	"github.com/taxieta/taxieta/internal/trip"
)

// runMonitor is `taxieta monitor`: how wrong the model was, once the trips
// it estimated have happened.
func runMonitor(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet(env, "monitor", "monitor --estimates FILE|DIR --actuals FILE|SPEC [flags]")
	var (
		estimates, actuals, htmlOut string
		asJSON, failOnDrift         bool
		minMin, maxMin              float64
		d                           dataFlags
		mf                          modelFlags
		df                          driftFlags
	)
	def := trip.DefaultRules()
	fs.String("config", "", "config file of `name = value` lines, one per flag name")
	fs.StringVar(&estimates, "estimates", "", "what the model estimated: a batch output (.parquet, from taxieta predict), a prediction log file, or a --prediction-log directory")
	fs.StringVar(&actuals, "actuals", "", "the trips that happened: a TLC file, or a month such as green:2024-03 (read from --data-dir, else downloaded)")
	fs.StringVar(&htmlOut, "html", "", "also write the report as one self-contained HTML page with charts to this file")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Float64Var(&minMin, "min-minutes", def.MinMinutes, "shortest actual trip judged, minutes (the model's cleaning rules)")
	fs.Float64Var(&maxMin, "max-minutes", def.MaxMinutes, "longest actual trip judged, minutes")
	fs.BoolVar(&failOnDrift, "fail-on-drift", false, fmt.Sprintf("after writing the report, exit %d when any feature drifts over the whole period, naming the features, so a scheduled job can retrain (exit 0: no drift; 1: an error, or drift not computed; 2: a usage mistake); the drift is scored against the profile of the --model that made the estimates", exitDrift))
	d.register(fs.StringVar)
	mf.register(fs, false) // after d: the one --cache-dir is d's
	df.register(fs)
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	mf.registry.cacheDir = d.cacheDir
	switch {
	case estimates == "":
		return usageError{errors.New("monitor: --estimates is required (a batch output, a prediction log file or directory)")}
	case actuals == "":
		return usageError{errors.New("monitor: --actuals is required (a TLC file or a month such as green:2024-03)")}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("monitor: unexpected argument %q", fs.Arg(0))}
	case !(minMin >= 0 && maxMin > minMin):
		return usageError{fmt.Errorf("monitor: --min-minutes %g and --max-minutes %g: want 0 <= min < max", minMin, maxMin)}
	}
	if htmlOut != "" {
		if st, err := os.Stat(filepath.Dir(htmlOut)); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("monitor: --html %s: its directory does not exist", htmlOut)}
		}
	}
	paths, err := d.resolver(env).Resolve(ctx, actuals)
	if err != nil {
		return fmt.Errorf("monitor: --actuals: %w", err)
	}
	if len(paths) != 1 {
		return usageError{fmt.Errorf("monitor: --actuals %s names %d files; name one month", actuals, len(paths))}
	}
	driftOpts, err := df.options()
	if err != nil {
		return err
	}
	// The model that made the estimates, loaded as predict loads it, for
	// its drift profile.
	svc, _, err := mf.openService(ctx, env, newLogger(env.stderr, slog.LevelWarn), nil, nil)
	if err != nil {
		return fmt.Errorf("monitor: --model: %w", err)
	}
	mv := svc.Current()
	dcfg := &accuracy.DriftConfig{Model: mv.Name + " " + mv.Version, Options: driftOpts}
	if mv.Artifact.Profile != nil {
		dcfg.Profile = mv.Artifact.Profile
	} else {
		dcfg.NoProfile = fmt.Sprintf("the model %s (%s) has no drift profile (trained before taxieta kept one); retrain it to monitor drift", dcfg.Model, mv.Source)
	}
	rules := def
	rules.MinMinutes, rules.MaxMinutes = minMin, maxMin
	rep, err := accuracy.Run(ctx, estimates, paths[0], accuracy.Config{Rules: rules, Drift: dcfg})
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	if htmlOut != "" {
		if err := writeFileAtomic(htmlOut, func(w io.Writer) error { return accuracy.WriteHTML(w, rep) }); err != nil {
			return fmt.Errorf("monitor: --html: %w", err)
		}
	}
	if asJSON {
		if err := writeJSON(env.stdout, rep); err != nil {
			return err
		}
	} else {
		printMonitorReport(env.stdout, rep)
	}
	if failOnDrift {
		return failOnDriftOutcome(rep.Drift)
	}
	return nil
}

// exitDrift is the exit code of `monitor --fail-on-drift` when a feature
// drifts: distinct from 1 (an error) and 2 (a usage mistake), so that a
// scheduled job can tell "retrain" from "broken".
const exitDrift = 3

// driftError says the monitored trips drifted (exit code exitDrift).
type driftError struct{ features []string }

func (e driftError) Error() string {
	return fmt.Sprintf("monitor: drift from the model's training data in %s (--fail-on-drift)", strings.Join(e.features, ", "))
}

// failOnDriftOutcome is the outcome of --fail-on-drift: a driftError naming the
// features flagged over the whole period. Drift that could not be
// computed fails too, as an error, since it cannot say the model is fine.
func failOnDriftOutcome(d *accuracy.Drift) error {
	switch {
	case d == nil || !d.Computed:
		reason := "drift was not computed"
		if d != nil && d.Reason != "" {
			reason = d.Reason
		}
		return fmt.Errorf("monitor: --fail-on-drift: drift not computed: %s", reason)
	case len(d.Overall.Flagged) > 0:
		return driftError{d.Overall.Flagged}
	}
	return nil
}

func printMonitorReport(w io.Writer, r *accuracy.Report) {
	fmt.Fprintf(w, "estimates %s (%d; %d matched no trip of %s)\nmodels %v\n", r.Estimates, r.Estimated, r.Unmatched, r.Actuals, r.Models)
	fmt.Fprintf(w, "actual trips judged: %d of %d matched (cleaning %g to %g minutes); %s\n\n",
		r.Overall.Kept, r.Overall.Trips, r.Rules.MinMinutes, r.Rules.MaxMinutes, droppedCounts(r.Cleaning))
	fmt.Fprintf(w, "%-10s %8s %8s %8s %8s %8s %9s\n", "day", "trips", "judged", "RMSE", "MAE", "bias", "in range")
	row := func(name string, f accuracy.Figures) {
		if f.Metrics == nil {
			fmt.Fprintf(w, "%-10s %8d %8d  %s\n", name, f.Trips, f.Kept, f.Note)
			return
		}
		m := f.Metrics
		fmt.Fprintf(w, "%-10s %8d %8d %8.3f %8.3f %+8.3f %8.1f%%\n", name, f.Trips, f.Kept, m.RMSE, m.MAE, *f.Bias, 100*m.IntervalCoverage)
	}
	for _, d := range r.Days {
		row(d.Day, d)
	}
	row("overall", r.Overall)
	printMonitorDrift(w, r.Drift)
}

// printMonitorDrift prints the drift overall, feature by feature, and
// per day the features flagged.
func printMonitorDrift(w io.Writer, d *accuracy.Drift) {
	if d == nil {
		return
	}
	if !d.Computed {
		fmt.Fprintf(w, "\ndrift: not computed (%s)\n", d.Reason)
		return
	}
	o := d.Overall
	fmt.Fprintf(w, "\ndrift of the %d judged trips from the training data of %s (flag: score beyond both the calibrated no-drift threshold and the minimum effect):\n", o.Trips, d.Model)
	printDriftTable(w, o.Features)
	fmt.Fprintln(w, "\ndrift per day:")
	for _, day := range d.Days {
		switch {
		case len(day.Flagged) > 0:
			fmt.Fprintf(w, "%-10s %8d  flagged %s\n", day.Day, day.Trips, strings.Join(day.Flagged, ", "))
		case day.Note != "":
			fmt.Fprintf(w, "%-10s %8d  %s\n", day.Day, day.Trips, day.Note)
		default:
			fmt.Fprintf(w, "%-10s %8d  -\n", day.Day, day.Trips)
		}
	}
}

// writeFileAtomic writes a file through fn under a temporary name and
// renames it into place, so a failure leaves nothing half-written.
func writeFileAtomic(path string, fn func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
