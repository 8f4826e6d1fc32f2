package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/predlog"
	"github.com/taxieta/taxieta/internal/serving"
)

// predictionLogFlags turn on the prediction log of every command that
// predicts (serve, stream, predict), with the same flags for all three.
type predictionLogFlags struct {
	dir    string
	buffer int
	rotate time.Duration
}

func (p *predictionLogFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.dir, "prediction-log", "", "record every prediction (time, id, inputs, estimate, model version) in rotating parquet files in this directory (default: off)")
	fs.IntVar(&p.buffer, "prediction-log-buffer", 1<<16, "predictions held for the prediction log; past it they are dropped and counted (taxieta_prediction_log_dropped_total), never blocking a prediction")
	fs.DurationVar(&p.rotate, "prediction-log-rotate", time.Hour, "start a new prediction log file this often (also past 256 MiB)")
}

// open starts the prediction log; nil when it is off.
func (p *predictionLogFlags) open(log *slog.Logger, reg prometheus.Registerer) (*predlog.Logger, error) {
	if p.dir == "" {
		return nil, nil
	}
	if p.buffer <= 0 || p.rotate <= 0 {
		return nil, usageError{fmt.Errorf("--prediction-log-buffer and --prediction-log-rotate must be positive")}
	}
	sink, err := predlog.NewFileSink(p.dir, predlog.FileOptions{Every: p.rotate})
	if err != nil {
		return nil, err
	}
	l, err := predlog.New(predlog.Options{Buffer: p.buffer, Logger: log, Registerer: reg}, sink)
	if err != nil {
		return nil, err
	}
	log.Info("logging predictions", "dir", p.dir, "buffer", p.buffer, "rotate", p.rotate.String())
	return l, nil
}

// closePredictionLog writes what the prediction log holds, within grace.
func closePredictionLog(l *predlog.Logger, grace time.Duration) error {
	if l == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		return fmt.Errorf("prediction log: %w", err)
	}
	return nil
}

// observer is l as a serving.Observer, nil when the log is off (a nil
// *predlog.Logger in an interface would not be a nil Observer).
func observer(l *predlog.Logger) serving.Observer {
	if l == nil {
		return nil
	}
	return l
}

// driftFlags tune drift monitoring in every command that predicts.
type driftFlags struct {
	minTrips   int64
	minEffects string
}

func (d *driftFlags) register(fs *flag.FlagSet) {
	fs.Int64Var(&d.minTrips, "drift-min-trips", drift.DefaultMinTrips, "fewest trips a drift score is computed on; a window with fewer reports the score as not computed")
	fs.StringVar(&d.minEffects, "drift-min-effect", "", "override the model's minimum drift effect sizes, e.g. pickup_zone=0.05,estimate=0.2 (features: "+featureNames()+"); a feature is flagged only beyond both its calibrated threshold and this")
}

func featureNames() string {
	var names []string
	for f := range drift.NumFeatures {
		names = append(names, f.String())
	}
	return strings.Join(names, ", ")
}

// options are the scoring options the flags say.
func (d *driftFlags) options() (drift.Options, error) {
	o := drift.Options{MinTrips: d.minTrips}
	if d.minTrips <= 0 {
		return o, usageError{fmt.Errorf("--drift-min-trips %d: want a positive number of trips", d.minTrips)}
	}
	if d.minEffects == "" {
		return o, nil
	}
	me := [drift.NumFeatures]float64{-1, -1, -1, -1, -1}
	for _, kv := range strings.Split(d.minEffects, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		f := drift.NumFeatures
		for g := range drift.NumFeatures {
			if g.String() == name {
				f = g
			}
		}
		if !ok || f == drift.NumFeatures {
			return o, usageError{fmt.Errorf("--drift-min-effect %q: want FEATURE=VALUE pairs separated by commas, features %s", kv, featureNames())}
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return o, usageError{fmt.Errorf("--drift-min-effect %s: %q is not a finite number ≥ 0", name, val)}
		}
		me[f] = v
	}
	o.MinEffects = &me
	return o, nil
}

// monitor starts live drift monitoring of the default model of the
// Service svc will point to once opened (it is read only after that).
func (d *driftFlags) monitor(svc **serving.Service, log *slog.Logger, reg prometheus.Registerer) (*live.Monitor, error) {
	o, err := d.options()
	if err != nil {
		return nil, err
	}
	return live.New(func() *serving.ModelVersion {
		if *svc == nil {
			return nil
		}
		return (*svc).Current()
	}, live.Options{Score: o, Logger: log, Registerer: reg})
}
