package batch

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/parquet-go/parquet-go"

	"github.com/taxieta/taxieta/internal/tlc"
)

// chunkRows is the most rows handed through the pipeline at once. A TLC row
// group is cut into chunks of this size, so that memory is bounded by one
// row group of the input plus a few chunks.
const chunkRows = 8 << 10

// Input formats.
const (
	FormatParquet = "parquet"
	FormatCSV     = "csv"
	FormatJSONL   = "jsonl"
)

// FormatOf names the format of a path from its extension (FormatParquet,
// FormatCSV or FormatJSONL); "-" is JSON Lines on stdin or stdout.
func FormatOf(path string) (string, error) {
	if path == "-" {
		return FormatJSONL, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet", ".pq":
		return FormatParquet, nil
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("%s: unknown file type %q (want .parquet, .csv or .jsonl, or - for JSON Lines on stdin/stdout)", path, filepath.Ext(path))
}

// chunkFunc receives a chunk of rows and hands back an empty buffer for the next.
type chunkFunc func(rows []tripRow) ([]tripRow, error)

// source is an input file of trips.
type source interface {
	// read streams the rows to fn in chunks of at most chunkRows, in input
	// order. fn takes the chunk over and returns an empty slice (of capacity
	// chunkRows) for the source to fill next.
	read(ctx context.Context, fn chunkFunc) error
	// durations reports whether rows carry actual durations (pickup and
	// dropoff times), so that predictions can be judged.
	durations() bool
	// ids renders the rows' ride identifiers.
	ids() rideIDs
	// fraction is the share of the input read so far, or -1 when unknown.
	// It is safe to call while read runs.
	fraction() float64
	// name is the file's path, or "stdin".
	name() string
	// where names a row for people: "row 12" or "line 13".
	where(r *tripRow) string
}

// openSource opens path (or stdin for "-") as a source. Opening checks what
// can be checked before reading: the file exists and has a known type.
func openSource(path string, stdin io.Reader, wantProgress bool) (source, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	prefix := monthPrefix(path)
	switch format {
	case FormatParquet:
		s := &tlcSource{path: path, prefix: prefix}
		if wantProgress {
			s.total = parquetRows(path)
		}
		return s, nil
	case FormatCSV:
		return newCSVSource(path, prefix)
	default:
		if path == "-" {
			return newJSONLSource("stdin", io.NopCloser(stdin), -1), nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		size := int64(-1)
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		return newJSONLSource(path, f, size), nil
	}
}

// monthName finds the year and month in a TLC file name, e.g. 2021-01 in
// green_tripdata_2021-01.parquet.
var monthName = regexp.MustCompile(`(\d{4})-(\d{2})`)

// monthPrefix is the course's ride_id prefix "YYYY/MM_" for a file named
// after its month, else "" (the ride id is then the row index alone).
func monthPrefix(path string) string {
	m := monthName.FindStringSubmatch(filepath.Base(path))
	if m == nil || m[2] < "01" || m[2] > "12" {
		return ""
	}
	return m[1] + "/" + m[2] + "_"
}

// parquetRows is the number of rows a parquet file's footer declares, or
// -1 when it cannot be read (reading will then say why).
func parquetRows(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return -1
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return -1
	}
	return pf.NumRows()
}

// tlcSource reads a TLC parquet file with internal/tlc, one row group at a time.
type tlcSource struct {
	path   string
	prefix string
	total  int64 // rows in the file, when known (for progress)
	done   atomic.Int64
}

func (s *tlcSource) name() string            { return s.path }
func (s *tlcSource) durations() bool         { return true }
func (s *tlcSource) ids() rideIDs            { return rideIDs{prefix: s.prefix} }
func (s *tlcSource) where(r *tripRow) string { return fmt.Sprintf("row %d", r.Index) }

func (s *tlcSource) fraction() float64 {
	if s.total <= 0 {
		return -1
	}
	return math.Min(1, float64(s.done.Load())/float64(s.total))
}

func (s *tlcSource) read(ctx context.Context, fn chunkFunc) error {
	rows := make([]tripRow, 0, chunkRows)
	var index int64
	// fn's errors (a rejected row, a failed write) are returned as they
	// are, not as errors of reading the file.
	var fnErr error
	err := tlc.ReadColumns(ctx, s.path, func(c *tlc.Columns) error {
		for at := 0; at < c.Len(); at += chunkRows {
			n := min(c.Len()-at, chunkRows)
			rows = rows[:n]
			inParts(n, func(_, from, to int) {
				for i := from; i < to; i++ {
					j := at + i
					rows[i] = tripRow{
						Index:        index + int64(i),
						PickupMicros: c.PickupMicros[j], DropoffMicros: c.DropoffMicros[j],
						PULocationID: c.PULocationID[j], DOLocationID: c.DOLocationID[j],
						Passengers: c.Passengers[j],
					}
				}
			})
			index += int64(n)
			if rows, fnErr = fn(rows); fnErr != nil {
				return fnErr
			}
			s.done.Store(index)
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}
