package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/taxieta/taxieta/internal/accuracy"
	"github.com/taxieta/taxieta/internal/trip"
)

// runMonitor is `taxieta monitor`: how wrong the model was, once the trips
// it estimated have happened.
func runMonitor(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet(env, "monitor", "monitor --estimates FILE|DIR --actuals FILE|SPEC [flags]")
	var (
		estimates, actuals, htmlOut string
		asJSON                      bool
		minMin, maxMin              float64
		d                           dataFlags
	)
	def := trip.DefaultRules()
	fs.String("config", "", "config file of `name = value` lines, one per flag name")
	fs.StringVar(&estimates, "estimates", "", "what the model estimated: a batch output (.parquet, from taxieta predict), a prediction log file, or a --prediction-log directory")
	fs.StringVar(&actuals, "actuals", "", "the trips that happened: a TLC file, or a month such as green:2024-03 (read from --data-dir, else downloaded)")
	fs.StringVar(&htmlOut, "html", "", "also write the report as one self-contained HTML page with charts to this file")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Float64Var(&minMin, "min-minutes", def.MinMinutes, "shortest actual trip judged, minutes (the model's cleaning rules)")
	fs.Float64Var(&maxMin, "max-minutes", def.MaxMinutes, "longest actual trip judged, minutes")
	d.register(fs.StringVar)
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
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
	rules := def
	rules.MinMinutes, rules.MaxMinutes = minMin, maxMin
	rep, err := accuracy.Evaluate(ctx, estimates, paths[0], rules)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	if htmlOut != "" {
		if err := writeFileAtomic(htmlOut, func(w io.Writer) error { return accuracy.WriteHTML(w, rep) }); err != nil {
			return fmt.Errorf("monitor: --html: %w", err)
		}
	}
	if asJSON {
		return writeJSON(env.stdout, rep)
	}
	printMonitorReport(env.stdout, rep)
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
