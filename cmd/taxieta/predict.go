package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/taxieta/taxieta/internal/batch"
	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/tlc"
)

// runPredict is `taxieta predict`: score a file of trips in batch.
func runPredict(ctx context.Context, env environment, args []string) (err error) {
	fs := newFlagSet(env, "predict", "predict --in FILE --out FILE [flags]")
	var (
		in, out, onError, rejects, logLevel string
		mf                                  modelFlags
		ignoreTime, asJSON, fsync           bool
	)
	fs.String("config", "", "config file of `name = value` lines, one per flag name")
	fs.StringVar(&in, "in", "", "trips to score: TLC .parquet or .csv, or .jsonl (- reads JSON Lines from stdin)")
	fs.StringVar(&out, "out", "", "where to write the estimates: .parquet, .csv or .jsonl (- writes JSON Lines to stdout)")
	mf.register(fs, false)
	var pl predictionLogFlags
	pl.register(fs)
	var df driftFlags
	df.register(fs)
	fs.StringVar(&onError, "on-error", batch.OnErrorFail, "rows that cannot be scored: fail (stop, naming the row) or skip (write them to the rejects file)")
	fs.StringVar(&rejects, "rejects", "", "with --on-error skip, the rejects file (JSON Lines; default OUT.rejects.jsonl)")
	fs.BoolVar(&ignoreTime, "ignore-pickup-time", false, "score on zones and passenger count only, even when the input has pickup times")
	fs.BoolVar(&fsync, "fsync", true, "flush the output to disk before renaming it into place (false: faster on a slow disk; an OS crash may then leave a partial file)")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	fs.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error (JSON log lines on stderr)")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	switch {
	case in == "":
		return usageError{errors.New("predict: --in is required (a .parquet, .csv or .jsonl file, or -)")}
	case out == "":
		return usageError{errors.New("predict: --out is required (a .parquet, .csv or .jsonl file, or -)")}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("predict: unexpected argument %q", fs.Arg(0))}
	case onError != batch.OnErrorFail && onError != batch.OnErrorSkip:
		return usageError{fmt.Errorf("predict: --on-error %q: want %s or %s", onError, batch.OnErrorFail, batch.OnErrorSkip)}
	case rejects != "" && onError != batch.OnErrorSkip:
		return usageError{errors.New("predict: --rejects needs --on-error skip")}
	case out == "-" && onError == batch.OnErrorSkip && rejects == "":
		return usageError{errors.New("predict: with --out - and --on-error skip, name the rejects file with --rejects")}
	}
	for _, f := range []struct{ flag, path string }{{"--in", in}, {"--out", out}} {
		if _, err := batch.FormatOf(f.path); err != nil {
			return usageError{fmt.Errorf("predict: %s %w", f.flag, err)}
		}
	}
	driftOpts, err := df.options()
	if err != nil {
		return err
	}
	level, err := parseLogLevel("predict", logLevel)
	if err != nil {
		return err
	}
	log := newLogger(env.stderr, level)

	// The model is resolved once, before any output is created: every row
	// and the summary name the version that scored them.
	plog, err := pl.open(log, nil)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	defer func() { err = errors.Join(err, closePredictionLog(plog, time.Minute)) }()
	counted := new(live.Batch)
	svc, _, err := mf.openService(ctx, env, log, nil, serving.Observers(observer(plog), counted))
	if err != nil {
		return fmt.Errorf("predict: %w; no output written", err)
	}
	lm := svc.Current()
	opts := batch.Options{
		In: in, Out: out, Stdin: os.Stdin, Stdout: env.stdout,
		OnError: onError, Rejects: rejects,
		Models: svc, Model: lm,
		Rules: lm.Artifact.Cleaning.Rules, IgnorePickupTime: ignoreTime,
		NoSync: !fsync, Logger: log,
	}
	if f, ok := env.stderr.(*os.File); ok && tlc.IsTerminal(f) {
		opts.Progress = f
	}
	sum, err := batch.Run(ctx, opts)
	var rowErr *batch.RowError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return fmt.Errorf("predict: interrupted; no output written: %w", err)
	case errors.As(err, &rowErr):
		return fmt.Errorf("predict: %w; no output written (--on-error skip sets such rows aside in a rejects file)", err)
	default:
		return fmt.Errorf("predict: %w; no output written", err)
	}
	// With the estimates on stdout, the summary goes to stderr.
	report := env.stdout
	if out == "-" {
		report = env.stderr
	}
	var dr *live.WindowSnapshot
	if w, ok := counted.Score(driftOpts); ok {
		dr = &w
	}
	if asJSON {
		return writeJSON(report, struct {
			*batch.Summary
			ModelSource string `json:"model_source"`
			// Drift is the drift of the scored trips from the model's
			// training data; absent for a model without a drift profile.
			Drift *live.WindowSnapshot `json:"drift,omitempty"`
		}{sum, lm.Source, dr})
	}
	printPredictReport(report, sum, lm)
	printDrift(report, dr, lm)
	return nil
}

// printDrift prints the drift of a batch run's trips, feature by feature.
func printDrift(w io.Writer, d *live.WindowSnapshot, lm *serving.ModelVersion) {
	if d == nil {
		if lm.Artifact.Profile == nil {
			fmt.Fprintln(w, "\ndrift: not computed (the model has no drift profile; retrain it to get one)")
		}
		return
	}
	fmt.Fprintf(w, "\ndrift of these %d trips from the model's training data (flag: score beyond both the calibrated no-drift threshold and the minimum effect):\n", d.Trips)
	printDriftTable(w, d.Features)
}

func printPredictReport(w io.Writer, s *batch.Summary, lm *serving.ModelVersion) {
	in, out := s.Input, s.Output
	if in == "-" {
		in = "stdin"
	}
	if out == "-" {
		out = "stdout"
	}
	fmt.Fprintf(w, "read %d rows from %s (%s); wrote %d estimates to %s (%s); rejected %d",
		s.Rows, in, s.InputFormat, s.Written, out, s.OutputFormat, s.Rejected)
	if s.Rejects != "" {
		fmt.Fprintf(w, " (to %s)", s.Rejects)
	}
	fmt.Fprintf(w, "\nmodel %s version %s (%s)\n", lm.Name, lm.Version, lm.Source)
	if e := s.Evaluation; e != nil {
		st := e.Cleaning
		fmt.Fprintf(w, "\nactual durations: %d rows, %d kept by the model's cleaning rules (%g to %g minutes); %s\n",
			st.Read, st.Kept, e.Rules.MinMinutes, e.Rules.MaxMinutes, droppedCounts(st))
		fmt.Fprintln(w, "metrics on the lab's inputs (zones, passenger count), minutes:")
		m := e.Metrics
		printMetricsTable(w, metricsRow{"scored", &m})
		if m.RMSEWithTime != nil && m.RMSE > 0 {
			fmt.Fprintf(w, "with the pickup time as well: RMSE %.3f (%.1f%% lower), in range %.1f%%\n",
				*m.RMSEWithTime, 100*(1-*m.RMSEWithTime/m.RMSE), 100**m.IntervalCoverageWithTime)
		}
	}
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.Rows) / s.Seconds
	}
	fmt.Fprintf(w, "\ntook %.3f s (%.0f rows/s)\n", s.Seconds, rate)
}

// printDriftTable prints drift scores a feature a line, for batch runs and
// the accuracy report alike.
func printDriftTable(w io.Writer, features []drift.FeatureScore) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "feature\tscore\tthreshold\tcalibrated\tmin effect\tflag\tunknown")
	for _, f := range features {
		if !f.Computed {
			fmt.Fprintf(tw, "%s\tnot computed (%d trips)\t\t\t%g\t-\t%.1f%%\n", f.Feature, f.Trips, f.MinEffect, 100*f.UnknownShare)
			continue
		}
		flag := "-"
		if f.Flag {
			flag = "DRIFT"
		}
		fmt.Fprintf(tw, "%s\t%.4f %s\t%.4f\t%.4f\t%g\t%s\t%.1f%%\n", f.Feature, f.Score, f.Kind, f.Threshold, f.Calibrated, f.MinEffect, flag, 100*f.UnknownShare)
	}
	tw.Flush()
}
