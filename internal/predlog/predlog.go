// Package predlog records every prediction a deployment serves, so that
// its owners can see what the model was asked and what it answered, and
// later join that with the trips that actually happened. It is a
// serving.Observer: attached to the prediction seam, it sees the web API,
// the standard protocols, batch and streaming alike.
//
// Recording never slows or fails a prediction. Observe copies the
// observation into a bounded buffer and returns; a writer goroutine drains
// the buffer into sinks (rotating parquet files, a NATS subject). When the
// buffer is full the records are dropped and counted, never silently:
// taxieta_prediction_log_dropped_total and a log line say how many. Close
// flushes what is buffered, so SIGTERM loses nothing.
package predlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/serving"
)

// Record is one logged prediction: when, for whom, what was asked and what
// the model answered. It is also the parquet schema of the log files.
type Record struct {
	// Time is when the prediction was made, microseconds since the Unix epoch (UTC).
	Time int64 `parquet:"time,timestamp(microsecond)"`
	// ID is the request id (web API, standard protocols) or the ride id
	// (stream); empty for batch rows.
	ID       string `parquet:"id,dict"`
	Protocol string `parquet:"protocol,dict"`
	Model    string `parquet:"model_name,dict"`
	Version  string `parquet:"model_version,dict"`
	// Pickup is the stated pickup time, NYC wall-clock time in microseconds
	// since the Unix epoch as if it were UTC (the TLC files' convention);
	// null (0 here) when the trip did not state it.
	Pickup       int64 `parquet:"pickup_datetime,optional,timestamp(microsecond:local)"`
	PULocationID int32 `parquet:"PULocationID"`
	DOLocationID int32 `parquet:"DOLocationID"`
	// PassengerCount is 0..9, or -1 when the trip did not state it.
	PassengerCount int32   `parquet:"passenger_count"`
	Minutes        float32 `parquet:"predicted_minutes"`
	Low            float32 `parquet:"low_minutes"`
	High           float32 `parquet:"high_minutes"`
}

// Sink receives batches of records from the writer goroutine, in order,
// and an empty batch at every flush interval without records (to rotate
// files on time). Write must not keep recs after it returns.
type Sink interface {
	Write(ctx context.Context, recs []Record) error
	// Flush makes what was written durable (closes the current file).
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// Options tune a Logger.
type Options struct {
	// Buffer is the most records held between Observe and the sinks
	// (default 65,536); past it, records are dropped and counted.
	Buffer int
	// FlushEvery is how often the writer hands buffered records to the
	// sinks (default 200 ms).
	FlushEvery time.Duration
	Logger     *slog.Logger
	// Registerer receives the log's metrics; nil means none.
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Logger is a serving.Observer that records every prediction into sinks.
type Logger struct {
	sinks []Sink
	opts  Options
	log   *slog.Logger

	mu      sync.Mutex
	cur     []Record // filled by Observe
	spare   []Record // handed back by the writer
	dropped uint64   // since the last log line
	closed  bool

	wake chan struct{}
	done chan struct{}

	recorded, droppedTotal prometheus.Counter
	writeErrors            prometheus.Counter
}

// New starts a Logger writing to sinks; Close stops it.
func New(opts Options, sinks ...Sink) (*Logger, error) {
	if len(sinks) == 0 {
		return nil, errors.New("prediction log: no sink")
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 1 << 16
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 200 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Logger{
		sinks: sinks, opts: opts, log: opts.Logger,
		cur:  make([]Record, 0, min(opts.Buffer, 4096)),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		recorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taxieta_prediction_log_records_total", Help: "Predictions handed to the prediction log's sinks.",
		}),
		droppedTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taxieta_prediction_log_dropped_total", Help: "Predictions not logged because the prediction log's buffer was full.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taxieta_prediction_log_write_errors_total", Help: "Failed writes of the prediction log to a sink; their records are lost.",
		}),
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{l.recorded, l.droppedTotal, l.writeErrors} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("prediction log: register metrics: %w", err)
			}
		}
	}
	go l.run()
	return l, nil
}

// Observe records o's predictions, or drops and counts them when the
// buffer is full. It never blocks on the sinks.
func (l *Logger) Observe(o serving.Observation) {
	now := l.opts.Now().UnixMicro()
	proto := o.Protocol.String()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	room := l.opts.Buffer - len(l.cur)
	n := len(o.Trips)
	if n > room {
		l.dropped += uint64(n - max(room, 0))
		l.droppedTotal.Add(float64(n - max(room, 0)))
		n = max(room, 0)
	}
	for i := range n {
		t, p := &o.Trips[i], &o.Predictions[i]
		r := Record{
			Time: now, ID: o.ID, Protocol: proto, Model: o.Model.Name, Version: o.Model.Version,
			PULocationID: int32(t.PULocationID), DOLocationID: int32(t.DOLocationID),
			PassengerCount: int32(t.Passengers), Minutes: p.Minutes, Low: p.Low, High: p.High,
		}
		if !t.Pickup.IsZero() {
			r.Pickup = wallMicros(t.Pickup)
		}
		l.cur = append(l.cur, r)
	}
	full := len(l.cur) >= l.opts.Buffer/2
	l.mu.Unlock()
	if full {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// wallMicros is t's wall-clock time as if it were UTC, in microseconds.
func wallMicros(t time.Time) int64 {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC).UnixMicro()
}

// run drains the buffer into the sinks until Close.
func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.FlushEvery)
	defer tick.Stop()
	for {
		closing := false
		select {
		case <-tick.C:
		case <-l.wake:
		}
		l.mu.Lock()
		batch := l.cur
		l.cur = l.spare[:0]
		l.spare = nil
		dropped := l.dropped
		l.dropped = 0
		closing = l.closed
		l.mu.Unlock()
		if dropped > 0 {
			l.log.Warn("prediction log buffer full; predictions dropped", "dropped", dropped, "buffer", l.opts.Buffer)
		}
		l.write(batch) // empty on a quiet tick: sinks still close files whose period is over
		l.mu.Lock()
		if l.spare == nil {
			l.spare = batch[:0]
		}
		l.mu.Unlock()
		if closing {
			return
		}
	}
}

func (l *Logger) write(batch []Record) {
	ctx := context.Background()
	for _, s := range l.sinks {
		if err := s.Write(ctx, batch); err != nil {
			l.writeErrors.Inc()
			l.log.Error("prediction log write failed; records lost", "records", len(batch), "err", err)
		}
	}
	if len(batch) > 0 {
		l.recorded.Add(float64(len(batch)))
	}
}

// Close writes what is buffered, closes the sinks (the current file is
// completed and renamed into place) and stops the Logger. Predictions
// observed after Close are not recorded.
func (l *Logger) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		return fmt.Errorf("prediction log: close: %w", ctx.Err())
	}
	var errs []error
	for _, s := range l.sinks {
		if err := s.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
