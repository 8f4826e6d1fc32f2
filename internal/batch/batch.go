// Package batch scores files of trips offline: it reads TLC trip files
// (parquet or CSV) or JSON Lines, estimates every trip's duration with a
// model, and writes the estimates as parquet, CSV or JSON Lines.
//
// A run streams: it holds one input row group and a few chunks of rows at a
// time, whatever the file size. Rows it cannot score (a zone id that is no
// TLC zone, a malformed line) either fail the run, naming the row, or are set
// aside in a rejects file with the reason. The output is written to a
// temporary file beside the destination and renamed into place only when
// the run succeeds, so a failed run leaves no half-written file. When the
// input records actual durations (TLC files do), the run also measures the
// predictions, as training measures a model.
package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/taxieta/taxieta/internal/progress"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// What to do with a row that cannot be scored.
const (
	// OnErrorFail stops the run at the first such row, naming it.
	OnErrorFail = "fail"
	// OnErrorSkip writes such rows to the rejects file with the reason.
	OnErrorSkip = "skip"
)

// Options configure a Run.
type Options struct {
	// In is the input file: .parquet, .csv (TLC layouts) or .jsonl, or "-"
	// for JSON Lines on Stdin.
	In string
	// Out is the output file, its format named by its extension (.parquet,
	// .csv, .jsonl), or "-" for JSON Lines on Stdout.
	Out    string
	Stdin  io.Reader
	Stdout io.Writer
	// OnError is OnErrorFail (the default when empty) or OnErrorSkip.
	OnError string
	// Rejects is where rejected rows go with OnErrorSkip, as JSON Lines;
	// empty means Out + ".rejects.jsonl". Required when Out is "-".
	Rejects string

	// Models is the prediction seam the trips are scored through, and
	// Model the version it resolved at the start: every estimate is made by
	// it and names it, even if the seam's default moves during the run.
	Models *serving.Service
	Model  *serving.ModelVersion
	// Rules clean the rows that count in the evaluation; the zero value
	// means trip.DefaultRules.
	Rules trip.Rules
	// IgnorePickupTime scores without the pickup time even when the input
	// has one and the model uses it (the lab's three inputs only).
	IgnorePickupTime bool

	// NoSync skips flushing the output to disk before renaming it into
	// place. A failed run still leaves no file; an operating-system crash
	// soon after might leave a partial one. On a slow disk the flush can
	// take longer than scoring a month.
	NoSync bool

	// Progress, when not nil, receives a progress bar (meant for a terminal).
	Progress io.Writer
	// Logger receives a line when the run starts and ends; nil logs nothing.
	Logger *slog.Logger
}

// Summary says what a run did.
type Summary struct {
	Input        string `json:"input"`
	InputFormat  string `json:"input_format"`
	Output       string `json:"output"`
	OutputFormat string `json:"output_format"`
	// Rejects is the rejects file, with OnErrorSkip.
	Rejects      string `json:"rejects,omitempty"`
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	// Rows counts the rows read, Written those scored and written,
	// Rejected those set aside.
	Rows     int64 `json:"rows"`
	Written  int64 `json:"written"`
	Rejected int64 `json:"rejected"`
	// Evaluation is set when the input has actual durations.
	Evaluation *Evaluation `json:"evaluation,omitempty"`
	// Elapsed is the run's wall-clock time; Seconds is the same in JSON.
	Elapsed time.Duration `json:"-"`
	Seconds float64       `json:"seconds"`
}

// RowError is a row that cannot be scored, in a run that fails on such rows.
type RowError struct {
	Input  string // the input file
	Where  string // "row 12" or "line 13"
	RideID string
	Reason string
}

// Error names the input, the row (with its ride id) and the reason.
func (e *RowError) Error() string {
	return fmt.Sprintf("%s %s (ride_id %s): %s", e.Input, e.Where, e.RideID, e.Reason)
}

// config is Options checked and completed.
type config struct {
	Options
	inFormat, outFormat string
	skip                bool
	log                 *slog.Logger
	// copyOnly reads and writes the rows without scoring them: the
	// benchmarks' measure of what input and output alone cost.
	copyOnly bool
}

func (o Options) check() (config, error) {
	c := config{Options: o}
	var err error
	if o.In == "" || o.Out == "" {
		return c, errors.New("both an input and an output file are needed")
	}
	if c.inFormat, err = FormatOf(o.In); err != nil {
		return c, fmt.Errorf("input %w", err)
	}
	if c.outFormat, err = FormatOf(o.Out); err != nil {
		return c, fmt.Errorf("output %w", err)
	}
	switch o.OnError {
	case "", OnErrorFail:
	case OnErrorSkip:
		c.skip = true
		if c.Rejects == "" {
			if o.Out == "-" {
				return c, errors.New("with the output on stdout, name the rejects file (--rejects FILE)")
			}
			c.Rejects = o.Out + ".rejects.jsonl"
		}
		if c.Rejects == o.Out || (c.Rejects == o.In && o.In != "-") {
			return c, fmt.Errorf("the rejects file %s must differ from the input and output", c.Rejects)
		}
	default:
		return c, fmt.Errorf("on-error %q: want %s or %s", o.OnError, OnErrorFail, OnErrorSkip)
	}
	if o.Out != "-" && o.Out == o.In {
		return c, fmt.Errorf("the output %s would overwrite the input", o.Out)
	}
	if o.Models == nil || o.Model == nil {
		return c, errors.New("no model")
	}
	if c.Rules == (trip.Rules{}) {
		c.Rules = trip.DefaultRules()
	}
	if c.Stdin == nil {
		c.Stdin = eofReader{}
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	c.log = o.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Run scores the input file into the output file as opts say. On error no
// output file (and no rejects file) is left behind, except on stdout.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	c, err := opts.check()
	if err != nil {
		return nil, err
	}
	return run(ctx, c)
}

func run(ctx context.Context, c config) (*Summary, error) {
	start := time.Now()
	src, err := openSource(c.In, c.Stdin, c.Progress != nil)
	if err != nil {
		return nil, fmt.Errorf("input %w", err)
	}
	sum := &Summary{
		Input: c.In, InputFormat: c.inFormat, Output: c.Out, OutputFormat: c.outFormat,
		ModelName: c.Model.Name, ModelVersion: c.Model.Version,
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "batch start", slog.String("input", c.In), slog.String("output", c.Out),
		slog.String("model", c.Model.Name), slog.String("model_version", c.Model.Version))
	meta := outputMeta{ids: src.ids(), modelName: c.Model.Name, modelVersion: c.Model.Version, input: c.In}
	out, err := createOutput(c.Out, c.outFormat, c.Stdout, meta, !c.NoSync)
	if err != nil {
		closeSource(src)
		return nil, fmt.Errorf("output %s: %w", c.Out, err)
	}
	var rej *rejectsFile
	if c.skip {
		sum.Rejects = c.Rejects
		if rej, err = createRejects(c.Rejects, c.Stdout, meta.ids, !c.NoSync); err != nil {
			out.abort()
			closeSource(src)
			return nil, fmt.Errorf("rejects %s: %w", c.Rejects, err)
		}
	}
	p := &pipeline{cfg: &c, src: src, out: out, rej: rej, sum: sum, ids: meta.ids}
	if src.durations() && !c.copyOnly {
		p.eval = &evaluator{rules: c.Rules, withTime: c.Model.Artifact.Model.UsesPickupTime()}
	}
	if c.Progress != nil {
		p.bar = progress.New(c.Progress, filepath.Base(src.name()), progress.Rows)
	}
	err = p.run(ctx)
	if p.bar != nil {
		p.bar.Finish(sum.Rows, src.fraction(), err == nil)
	}
	if err == nil && rej != nil {
		if err = rej.commit(); err != nil {
			err = fmt.Errorf("rejects %s: %w", c.Rejects, err)
		}
	}
	if err == nil {
		if err = out.commit(); err != nil {
			err = fmt.Errorf("output %s: %w", c.Out, err)
		}
	}
	if err != nil {
		out.abort()
		if rej != nil {
			rej.abort()
		}
		var re *RowError
		if !errors.As(err, &re) && !errors.Is(err, context.Canceled) {
			c.log.LogAttrs(ctx, slog.LevelError, "batch failed", slog.String("input", c.In), slog.String("error", err.Error()))
		}
		return nil, err
	}
	if p.eval != nil {
		sum.Evaluation = p.eval.result()
	}
	sum.Elapsed = time.Since(start)
	sum.Seconds = sum.Elapsed.Seconds()
	c.log.LogAttrs(ctx, slog.LevelInfo, "batch done", slog.String("input", c.In), slog.String("output", c.Out),
		slog.Int64("rows", sum.Rows), slog.Int64("written", sum.Written), slog.Int64("rejected", sum.Rejected),
		slog.Duration("took", sum.Elapsed))
	return sum, nil
}

// closeSource releases a source that will not be read.
func closeSource(s source) {
	switch s := s.(type) {
	case *csvSource:
		s.f.Close()
	case *jsonlSource:
		s.rc.Close()
	}
}

// pipeline scores chunks of rows as the source hands them over.
type pipeline struct {
	cfg  *config
	src  source
	out  output
	rej  *rejectsFile
	sum  *Summary
	ids  rideIDs
	eval *evaluator
	bar  *progress.Bar
	// scored is the evaluation's inputs for the chunk being scored, one
	// element a row.
	scored []scored
	// bufs hold each part's trips on their way through the prediction seam.
	bufs [parts]partBuffers
}

// partBuffers are one part's trips and estimates for the prediction seam:
// those served (row i of the chunk is served[k] when rowOf[k] == i), and
// those the evaluation also measures (the estimate with or without the
// pickup time that the output does not carry).
type partBuffers struct {
	served, measured   []trip.Trip
	servedP, measuredP []trip.Prediction
	rowOf, measuredOf  []int
}

func (b *partBuffers) reset() {
	b.served, b.measured = b.served[:0], b.measured[:0]
	b.rowOf, b.measuredOf = b.rowOf[:0], b.measuredOf[:0]
}

// chunkBuffers is how many chunks of rows are in flight: one being read,
// one being written, one waiting between them.
const chunkBuffers = 3

// run reads and scores in one goroutine and writes in another, so that on
// two cores reading the next chunk overlaps writing this one. Memory holds
// chunkBuffers chunks of rows, whatever the size of the input.
func (p *pipeline) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan []tripRow, 1)
	free := make(chan []tripRow, chunkBuffers)
	for range chunkBuffers - 1 { // the source allocates the first
		free <- make([]tripRow, 0, chunkRows)
	}
	var readErr error
	go func() {
		defer close(full)
		readErr = p.src.read(ctx, func(rows []tripRow) ([]tripRow, error) {
			if !p.cfg.copyOnly {
				p.score(rows)
			}
			select {
			case full <- rows:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			select {
			case b := <-free:
				return b[:0], nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
	}()
	var writeErr error
	for rows := range full {
		if writeErr == nil {
			if writeErr = p.write(rows); writeErr != nil {
				cancel() // stop reading
			}
		}
		free <- rows // never blocks: free holds every buffer
	}
	if writeErr != nil {
		return writeErr
	}
	return readErr
}

// write sets the rejects of a scored chunk aside and writes the rest.
func (p *pipeline) write(rows []tripRow) error {
	p.sum.Rows += int64(len(rows))
	k := 0 // rows[:k] are the rows to write
	for i := range rows {
		r := &rows[i]
		if r.Problem == "" {
			if k != i {
				rows[k] = *r
			}
			k++
			continue
		}
		if p.rej == nil {
			return &RowError{Input: p.src.name(), Where: p.src.where(r), RideID: p.ids.id(r), Reason: r.Problem}
		}
		if err := p.rej.add(r); err != nil {
			return fmt.Errorf("rejects %s: %w", p.cfg.Rejects, err)
		}
		p.sum.Rejected++
	}
	if err := p.out.write(rows[:k]); err != nil {
		return fmt.Errorf("output %s: %w", p.cfg.Out, err)
	}
	p.sum.Written += int64(k)
	if p.bar != nil {
		p.bar.Update(p.sum.Rows, p.src.fraction())
	}
	return nil
}

// parts is how many goroutines share the work on a chunk's rows (filling
// and scoring them), each a contiguous part: these are the costliest steps
// between reading and writing, and one goroutine left the second core
// waiting.
const parts = 2

// inParts calls fn for the parts of [0, n), side by side, and returns when
// all are done.
func inParts(n int, fn func(part, from, to int)) {
	size := (n + parts - 1) / parts
	var wg sync.WaitGroup
	for k := 1; k < parts && k*size < n; k++ {
		wg.Go(func() { fn(k, k*size, min(n, (k+1)*size)) })
	}
	fn(0, 0, min(n, size))
	wg.Wait()
}

// scored is what scoring a row leaves for the evaluation: the row's actual
// duration and both estimates, when cleaning kept the row.
type scored struct {
	kept    bool
	minutes float32
	lab, wt trip.Prediction
}

// score estimates every row that can be scored and marks the others with
// their problem, the parts of the chunk side by side. Rows with actual
// durations are cleaned and counted in the evaluation exactly as
// model.Evaluate counts them: the sums are added up afterwards, in row
// order, so the figures do not depend on how the chunk was shared out.
func (p *pipeline) score(rows []tripRow) {
	if p.eval != nil {
		p.scored = slices.Grow(p.scored[:0], len(rows))[:len(rows)]
	}
	var stats [parts]trip.Stats
	inParts(len(rows), func(k, from, to int) { p.scoreRows(rows, from, to, &stats[k], &p.bufs[k]) })
	if p.eval == nil {
		return
	}
	for _, st := range stats {
		p.eval.stats.Add(st)
	}
	for i := range rows {
		if e := &p.scored[i]; e.kept {
			p.eval.lab.Add(e.minutes, e.lab)
			if p.eval.withTime {
				p.eval.wt.Add(e.minutes, e.wt)
			}
		}
	}
}

// scoreRows scores rows[from:to], counting cleaning's outcomes in stats
// and leaving the evaluation's inputs in p.scored. It collects the part's
// trips in buf, then estimates them in two calls of the prediction seam:
// one for the estimates written, one for those only the evaluation reads.
func (p *pipeline) scoreRows(rows []tripRow, from, to int, stats *trip.Stats, buf *partBuffers) {
	buf.reset()
	mv := p.cfg.Model
	useTime := !p.cfg.IgnorePickupTime && mv.Artifact.Model.UsesPickupTime()
	for i := from; i < to; i++ {
		r := &rows[i]
		var e *scored
		if p.eval != nil {
			e = &p.scored[i]
			*e = scored{}
		}
		if r.Problem != "" {
			continue
		}
		var (
			ex   trip.Example
			kept bool
		)
		if e != nil {
			ex, kept = p.eval.rules.Clean(r.raw(), stats)
		}
		if !trip.ValidZone(r.PULocationID) {
			r.Problem = zoneProblem("PULocationID", r.PULocationID)
			continue
		}
		if !trip.ValidZone(r.DOLocationID) {
			r.Problem = zoneProblem("DOLocationID", r.DOLocationID)
			continue
		}
		t := trip.Trip{
			PULocationID: uint16(r.PULocationID),
			DOLocationID: uint16(r.DOLocationID),
			Passengers:   trip.PassengersOf(r.Passengers),
		}
		if kept {
			// The evaluation reads the estimate without the pickup time
			// (lab) and, for a model that uses it, the one with it (wt);
			// the output carries one of them.
			*e = scored{kept: true, minutes: ex.Minutes}
			switch {
			case useTime:
				buf.serve(i, ex.Trip)
				buf.measure(i, t)
			case p.eval.withTime:
				buf.serve(i, t)
				buf.measure(i, ex.Trip)
			default:
				buf.serve(i, t)
			}
			continue
		}
		if useTime && r.hasPickup() {
			t.Pickup = time.UnixMicro(r.PickupMicros).UTC()
		}
		buf.serve(i, t)
	}
	buf.servedP = slices.Grow(buf.servedP[:0], len(buf.served))[:len(buf.served)]
	p.cfg.Models.PredictBatch(serving.Call{Protocol: serving.Batch}, mv, buf.served, buf.servedP)
	for k, i := range buf.rowOf {
		rows[i].Pred = buf.servedP[k]
	}
	if p.eval == nil {
		return
	}
	buf.measuredP = slices.Grow(buf.measuredP[:0], len(buf.measured))[:len(buf.measured)]
	p.cfg.Models.Measure(mv, buf.measured, buf.measuredP)
	for k, i := range buf.rowOf {
		if e := &p.scored[i]; e.kept {
			if useTime {
				e.wt = buf.servedP[k]
			} else {
				e.lab = buf.servedP[k]
			}
		}
	}
	for k, i := range buf.measuredOf {
		e := &p.scored[i]
		if useTime {
			e.lab = buf.measuredP[k]
		} else {
			e.wt = buf.measuredP[k]
		}
	}
}

// serve adds the trip whose estimate row i carries.
func (b *partBuffers) serve(i int, t trip.Trip) {
	b.served = append(b.served, t)
	b.rowOf = append(b.rowOf, i)
}

// measure adds a trip of row i that only the evaluation reads.
func (b *partBuffers) measure(i int, t trip.Trip) {
	b.measured = append(b.measured, t)
	b.measuredOf = append(b.measuredOf, i)
}

// zoneProblem says why a zone id cannot be scored, in the words the web
// API and the stream use (internal/tripjson); an empty cell reads as 0.
func zoneProblem(field string, v int64) string {
	if v == 0 {
		return fmt.Sprintf("%s is empty or 0: must be a zone id from 1 to %d", field, trip.MaxZone)
	}
	return fmt.Sprintf("%s must be a zone id from 1 to %d, got %d", field, trip.MaxZone, v)
}
