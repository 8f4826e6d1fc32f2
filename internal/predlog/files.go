package predlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// FileOptions tune a FileSink.
type FileOptions struct {
	// Every closes the current file when the clock passes a multiple of it
	// (default one hour: a file per hour, named for the hour it began in).
	Every time.Duration
	// MaxBytes closes the current file once this much is written (default 256 MiB).
	MaxBytes int64
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// FileSink writes records to rotating parquet files in a directory, each
// written under a temporary name and renamed once complete, so that a
// reader globbing *.parquet (pyarrow, DuckDB, Spark) only ever sees whole
// files, even after a crash: a process killed mid-file leaves at most a
// .parquet.tmp behind.
type FileSink struct {
	dir  string
	opts FileOptions
	seq  int
	cur  *logFile
}

// logFile is the file being written.
type logFile struct {
	f        *os.File
	n        *countingWriter
	w        *parquet.GenericWriter[Record]
	tmp, dst string
	until    time.Time
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewFileSink writes into dir, which it creates if need be.
func NewFileSink(dir string, opts FileOptions) (*FileSink, error) {
	if opts.Every <= 0 {
		opts.Every = time.Hour
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("prediction log directory %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("prediction log directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &FileSink{dir: dir, opts: opts}, nil
}

// Write appends recs to the current file, starting a new one when the
// current one's period is over or it is full. Called with no records, it
// only completes a file whose period is over, so that a quiet hour's file
// does not wait for the next prediction to appear.
func (s *FileSink) Write(ctx context.Context, recs []Record) error {
	now := s.opts.Now()
	if s.cur != nil && (!now.Before(s.cur.until) || s.cur.n.n >= s.opts.MaxBytes) {
		if err := s.Flush(ctx); err != nil {
			return err
		}
	}
	if len(recs) == 0 { // a tick: only close a file whose period is over
		return nil
	}
	if s.cur == nil {
		if err := s.open(now); err != nil {
			return err
		}
	}
	if _, err := s.cur.w.Write(recs); err != nil {
		s.abort()
		return fmt.Errorf("prediction log %s: %w", s.cur.tmp, err)
	}
	return nil
}

// open starts a file for the period that now falls in.
func (s *FileSink) open(now time.Time) error {
	start := now.UTC().Truncate(s.opts.Every)
	s.seq++
	name := fmt.Sprintf("predictions-%s-%d-%d.parquet", start.Format("20060102T150405Z"), os.Getpid(), s.seq)
	dst := filepath.Join(s.dir, name)
	f, err := os.Create(dst + ".tmp")
	if err != nil {
		return fmt.Errorf("prediction log: %w", err)
	}
	cw := &countingWriter{w: f}
	w := parquet.NewGenericWriter[Record](cw,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.MaxRowsPerRowGroup(128<<10),
		parquet.CreatedBy("taxieta", "", ""))
	s.cur = &logFile{f: f, n: cw, w: w, tmp: dst + ".tmp", dst: dst, until: start.Add(s.opts.Every)}
	return nil
}

// Flush completes the current file and renames it into place.
func (s *FileSink) Flush(context.Context) error {
	c := s.cur
	if c == nil {
		return nil
	}
	s.cur = nil
	err := c.w.Close()
	if err == nil {
		err = c.f.Sync()
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(c.tmp, c.dst)
	}
	if err != nil {
		os.Remove(c.tmp)
		return fmt.Errorf("prediction log %s: %w", c.dst, err)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (s *FileSink) abort() {
	if c := s.cur; c != nil {
		c.f.Close()
		os.Remove(c.tmp)
		s.cur = nil
	}
}

// Close completes the current file.
func (s *FileSink) Close(ctx context.Context) error { return s.Flush(ctx) }

// Files lists the complete log files in dir, oldest first.
func Files(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "predictions-*.parquet"))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ReadFile reads a log file's records, failing with a message that names the
// file when it is not a complete prediction log.
func ReadFile(path string) ([]Record, error) {
	if strings.HasSuffix(path, ".tmp") {
		return nil, fmt.Errorf("prediction log %s is incomplete: the process writing it stopped before finishing it", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prediction log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("prediction log: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("prediction log %s is not a complete parquet file (truncated or half-written?): %w", path, err)
	}
	r := parquet.NewGenericReader[Record](pf)
	defer r.Close()
	out := make([]Record, pf.NumRows())
	n, err := r.Read(out)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("prediction log %s: %w", path, err)
	}
	if int64(n) != pf.NumRows() {
		return nil, fmt.Errorf("prediction log %s: read %d of %d records", path, n, pf.NumRows())
	}
	return out, nil
}
