package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
