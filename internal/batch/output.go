package batch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/taxieta/taxieta/internal/tripjson"
)

// OutputColumns are the output's columns, in order, in every format:
//
//   - ride_id: the trip's identifier, the input's own (JSON Lines) or the
//     course's "YYYY/MM_index" for a TLC file named after its month;
//   - pickup_datetime, PULocationID, DOLocationID, passenger_count: the
//     input's values (pickup time and passenger count may be empty);
//   - actual_minutes: dropoff minus pickup, when the input has both;
//   - predicted_minutes, low_minutes, high_minutes: the estimate and its
//     10–90% range;
//   - model_name, model_version: the model that made the estimate.
func OutputColumns() []string { return slices.Clone(columnNames[:]) }

// columnNames are the output columns, indexed by the col* constants.
var columnNames = [numColumns]string{
	"ride_id", "pickup_datetime", "PULocationID", "DOLocationID", "passenger_count",
	"actual_minutes", "predicted_minutes", "low_minutes", "high_minutes", "model_name", "model_version",
}

// outputMeta is what every output row carries beside its own values.
type outputMeta struct {
	ids          rideIDs
	modelName    string
	modelVersion string
	input        string
}

// output receives the scored rows of a run.
type output interface {
	// write appends rows (all scored) to the output.
	write(rows []tripRow) error
	// commit completes the file and puts it in place.
	commit() error
	// abort removes whatever was written (not possible on stdout).
	abort()
}

// rowWriter encodes rows in one format.
type rowWriter interface {
	write(rows []tripRow) error
	// close writes whatever the format needs at the end (a parquet footer).
	close() error
}

// atomicFile is a file written under a temporary name in the destination's
// folder and renamed into place on commit; or stdout, written directly.
type atomicFile struct {
	final string
	tmp   *os.File
	buf   *bufio.Writer
	w     io.Writer // buf, or the file itself when the format buffers
	sync  bool      // flush to disk before the rename
	done  bool
}

// createAtomic starts writing path; "-" writes to stdout. buffered adds a
// write buffer; sync flushes the file to disk before the rename.
func createAtomic(path string, stdout io.Writer, buffered, sync bool) (*atomicFile, error) {
	a := &atomicFile{final: path, sync: sync}
	var w io.Writer = stdout
	if path != "-" {
		dir := filepath.Dir(path)
		st, err := os.Stat(dir)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is not a folder", dir)
		}
		f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
		if err != nil {
			return nil, err
		}
		a.tmp, w = f, f
	}
	a.w = w
	if buffered || a.tmp == nil {
		a.buf = bufio.NewWriterSize(w, 256<<10)
		a.w = a.buf
	}
	return a, nil
}

func (a *atomicFile) Write(p []byte) (int, error) { return a.w.Write(p) }

func (a *atomicFile) commit() error {
	if a.buf != nil {
		if err := a.buf.Flush(); err != nil {
			return err
		}
	}
	if a.tmp == nil {
		a.done = true
		return nil
	}
	var err error
	if a.sync {
		err = a.tmp.Sync()
	}
	if cerr := a.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes the file private; the output is an ordinary file.
		err = os.Chmod(a.tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(a.tmp.Name(), a.final)
	}
	if err != nil {
		os.Remove(a.tmp.Name())
		return err
	}
	a.done = true
	return nil
}

func (a *atomicFile) abort() {
	if a.done || a.tmp == nil {
		if a.buf != nil && !a.done {
			a.buf.Flush() // stdout: what was written stays written
		}
		return
	}
	a.tmp.Close()
	os.Remove(a.tmp.Name())
	a.done = true
}

// fileOutput is an output file in one format.
type fileOutput struct {
	f  *atomicFile
	rw rowWriter
}

func (o *fileOutput) write(rows []tripRow) error { return o.rw.write(rows) }

func (o *fileOutput) commit() error {
	if err := o.rw.close(); err != nil {
		return err
	}
	return o.f.commit()
}

func (o *fileOutput) abort() { o.f.abort() }

// createOutput starts the output file of a run.
func createOutput(path, format string, stdout io.Writer, meta outputMeta, sync bool) (output, error) {
	f, err := createAtomic(path, stdout, format != FormatParquet, sync)
	if err != nil {
		return nil, err
	}
	var rw rowWriter
	switch format {
	case FormatParquet:
		rw, err = newParquetWriter(f, meta)
	case FormatCSV:
		rw, err = newCSVWriter(f, meta)
	case FormatJSONL:
		rw = &jsonlWriter{w: f, meta: meta}
	default:
		err = errors.New("unknown output format " + format)
	}
	if err != nil {
		f.abort()
		return nil, err
	}
	return &fileOutput{f: f, rw: rw}, nil
}

// csvWriter writes rows as CSV with a header line.
type csvWriter struct {
	w    io.Writer
	meta outputMeta
	buf  []byte
	tail []byte // ",name,version\n", the same on every line
}

func newCSVWriter(w io.Writer, meta outputMeta) (*csvWriter, error) {
	c := &csvWriter{w: w, meta: meta}
	var header []byte
	for i, col := range columnNames {
		if i > 0 {
			header = append(header, ',')
		}
		header = append(header, col...)
	}
	header = append(header, '\n')
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	c.tail = append(c.tail, ',')
	c.tail = appendCSVField(c.tail, meta.modelName)
	c.tail = append(c.tail, ',')
	c.tail = appendCSVField(c.tail, meta.modelVersion)
	c.tail = append(c.tail, '\n')
	return c, nil
}

func (c *csvWriter) write(rows []tripRow) error {
	for i := range rows {
		r := &rows[i]
		b := c.buf[:0]
		if r.RideID != "" {
			b = appendCSVField(b, r.RideID)
		} else {
			b = c.meta.ids.appendID(b, r)
		}
		b = append(b, ',')
		if r.hasPickup() {
			b = appendDateTime(b, r.PickupMicros)
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, r.PULocationID, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.DOLocationID, 10)
		b = append(b, ',')
		if !math.IsNaN(r.Passengers) {
			b = strconv.AppendFloat(b, r.Passengers, 'f', -1, 64)
		}
		b = append(b, ',')
		if m, ok := r.actualMinutes(); ok {
			b = strconv.AppendFloat(b, m, 'f', -1, 64)
		}
		b = append(b, ',')
		b = appendFloat32(b, r.Pred.Minutes)
		b = append(b, ',')
		b = appendFloat32(b, r.Pred.Low)
		b = append(b, ',')
		b = appendFloat32(b, r.Pred.High)
		b = append(b, c.tail...)
		c.buf = b
		if _, err := c.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (c *csvWriter) close() error { return nil }

// appendCSVField appends s, quoted when it needs to be.
func appendCSVField(b []byte, s string) []byte {
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			quote = true
		}
	}
	if s != "" && (s[0] == ' ' || s[0] == '\t') {
		quote = true
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// jsonlWriter writes rows as JSON Lines; empty values are left out.
type jsonlWriter struct {
	w    io.Writer
	meta outputMeta
	buf  []byte
	tail []byte
}

func (j *jsonlWriter) write(rows []tripRow) error {
	if j.tail == nil {
		j.tail = append(j.tail, `,"model_name":`...)
		j.tail = tripjson.AppendString(j.tail, j.meta.modelName)
		j.tail = append(j.tail, `,"model_version":`...)
		j.tail = tripjson.AppendString(j.tail, j.meta.modelVersion)
		j.tail = append(j.tail, "}\n"...)
	}
	for i := range rows {
		r := &rows[i]
		b := append(j.buf[:0], `{"ride_id":`...)
		if r.RideID != "" {
			b = tripjson.AppendString(b, r.RideID)
		} else {
			b = append(b, '"')
			b = j.meta.ids.appendID(b, r) // digits, '/' and '_' only
			b = append(b, '"')
		}
		if r.hasPickup() {
			b = append(b, `,"pickup_datetime":"`...)
			b = appendDateTime(b, r.PickupMicros)
			b = append(b, '"')
		}
		b = append(b, `,"PULocationID":`...)
		b = strconv.AppendInt(b, r.PULocationID, 10)
		b = append(b, `,"DOLocationID":`...)
		b = strconv.AppendInt(b, r.DOLocationID, 10)
		if !math.IsNaN(r.Passengers) {
			b = append(b, `,"passenger_count":`...)
			b = strconv.AppendFloat(b, r.Passengers, 'f', -1, 64)
		}
		if m, ok := r.actualMinutes(); ok {
			b = append(b, `,"actual_minutes":`...)
			b = strconv.AppendFloat(b, m, 'f', -1, 64)
		}
		b = append(b, `,"predicted_minutes":`...)
		b = appendFloat32(b, r.Pred.Minutes)
		b = append(b, `,"low_minutes":`...)
		b = appendFloat32(b, r.Pred.Low)
		b = append(b, `,"high_minutes":`...)
		b = appendFloat32(b, r.Pred.High)
		b = append(b, j.tail...)
		j.buf = b
		if _, err := j.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonlWriter) close() error { return nil }

// appendFloat32 appends the shortest decimal that reads back as v.
func appendFloat32(b []byte, v float32) []byte {
	return strconv.AppendFloat(b, float64(v), 'f', -1, 32)
}

// appendDateTime appends wall-clock microseconds as "2006-01-02 15:04:05",
// with the fraction of a second when there is one.
func appendDateTime(b []byte, micros int64) []byte {
	return time.UnixMicro(micros).UTC().AppendFormat(b, "2006-01-02 15:04:05.999999")
}
