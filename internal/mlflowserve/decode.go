package mlflowserve

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// The keys of a JSON request body that say how its rows are laid out, as
// MLflow's scoring server names them.
const (
	keySplit     = "dataframe_split"
	keyRecords   = "dataframe_records"
	keyInstances = "instances"
	keyInputs    = "inputs"
	keyParams    = "params"
)

// requiredFormat is MLflow's own sentence for a body without exactly one
// layout key, so that clients that match on it still do.
const requiredFormat = "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"

// maxProblems is how many broken rules one error message lists.
const maxProblems = 10

// signature returns column i of rows sent as bare arrays (instances or
// inputs as a list of lists), in the order the model's MLflow signature
// lists them; NoField past the last.
func signature(i int) tripjson.Field {
	switch i {
	case 0:
		return tripjson.PULocationID
	case 1:
		return tripjson.DOLocationID
	case 2:
		return tripjson.PassengerCount
	case 3:
		return tripjson.PickupDatetime
	}
	return tripjson.NoField
}

// signatureColumns is how many columns the signature has.
const signatureColumns = 4

// badRequest is a request that cannot be scored, with MLflow's words for why.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// wrongValue reads past a value of the wrong kind and says what it was:
// the rule badf(format, args...) states, then ", got" and the value's kind.
func wrongValue(s *tripjson.Scanner, format string, args ...any) error {
	v, err := s.Skip()
	if err != nil {
		return err
	}
	return badf(format+", got %s", append(args, tripjson.Describe(v))...)
}

// decoder reads the rows of one request into trips, collecting the rules
// they break.
type decoder struct {
	ny       *time.Location
	maxRows  int
	trips    []trip.Trip
	problems []string
	nProblem int
	row      int // the row being read
}

func (d *decoder) report(p tripjson.Problem) {
	if d.nProblem++; d.nProblem <= maxProblems {
		d.problems = append(d.problems, fmt.Sprintf("row %d: %s", d.row, p.Error()))
	}
}

// newRow starts row d.row, refusing more than maxRows.
func (d *decoder) newRow() (*trip.Trip, error) {
	if len(d.trips) >= d.maxRows {
		return nil, badf("at most %d rows per request", d.maxRows)
	}
	d.row = len(d.trips)
	d.trips = append(d.trips, trip.Trip{Passengers: trip.NoPassengers})
	return &d.trips[d.row], nil
}

// result is the trips read, or an error listing the rules broken.
func (d *decoder) result() ([]trip.Trip, error) {
	if d.nProblem == 0 {
		if len(d.trips) == 0 {
			return nil, badf("no rows to score")
		}
		return d.trips, nil
	}
	msg := "Invalid input: " + strings.Join(d.problems, "; ")
	if more := d.nProblem - len(d.problems); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return nil, &badRequest{msg}
}

// syntax turns a scanner error into MLflow's words for malformed JSON.
func syntax(err error) error {
	var se *tripjson.SyntaxError
	if errors.As(err, &se) {
		return badf("Failed to parse input from JSON: %s", se.Error())
	}
	return err
}

// decodeJSON reads a JSON request body in any of MLflow's layouts.
func (d *decoder) decodeJSON(body []byte) ([]trip.Trip, error) {
	s := tripjson.NewScanner(body)
	if s.Peek() != '{' {
		if _, err := s.Skip(); err != nil {
			return nil, syntax(err)
		}
		return nil, badf("%s. Received %s", requiredFormat, tripjson.Describe(body))
	}
	var (
		layout string
		raw    []byte
		keys   []string
	)
	err := s.Members(func(key []byte) error {
		k := string(key)
		keys = append(keys, strconv.Quote(k))
		v, err := s.Skip()
		if err != nil {
			return err
		}
		switch k {
		case keySplit, keyRecords, keyInstances, keyInputs:
			if layout != "" {
				return badf("%s. Received both %q and %q", requiredFormat, layout, k)
			}
			layout, raw = k, v
		case keyParams:
			if v[0] != '{' {
				return badf("params must be a JSON object of parameter names and values, got %s", tripjson.Describe(v))
			}
		}
		return nil // MLflow ignores other keys
	})
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return nil, syntax(err)
	}
	if layout == "" {
		return nil, badf("%s. Received dictionary with input fields: [%s]", requiredFormat, strings.Join(keys, ", "))
	}
	s = tripjson.NewScanner(raw)
	switch layout {
	case keySplit:
		err = d.split(&s)
	case keyRecords:
		err = d.records(&s, layout)
	case keyInstances:
		err = d.rows(&s, layout)
	case keyInputs:
		if s.Peek() == '{' {
			err = d.columns(&s)
		} else {
			err = d.rows(&s, layout)
		}
	}
	if err != nil {
		return nil, syntax(err)
	}
	return d.result()
}

// split reads {"columns": […], "data": [[…], …], "index": […]}, as pandas'
// to_json(orient="split") and to_dict(orient="split") write it.
func (d *decoder) split(s *tripjson.Scanner) error {
	if s.Peek() != '{' {
		return wrongValue(s, "%s must be an object with columns and data", keySplit)
	}
	var (
		cols    []tripjson.Field
		hasCols bool
		data    []byte
	)
	err := s.Members(func(key []byte) error {
		switch string(key) {
		case "columns":
			hasCols = true
			return d.columnNames(s, &cols)
		case "data":
			v, err := s.Skip()
			data = v
			return err
		}
		_, err := s.Skip() // index, and whatever else pandas adds
		return err
	})
	if err != nil {
		return err
	}
	if !hasCols || data == nil {
		return badf("%s must have both columns and data", keySplit)
	}
	if err := checkColumns(cols); err != nil {
		return err
	}
	ds := tripjson.NewScanner(data)
	if ds.Peek() != '[' {
		return badf("%s.data must be an array of rows, got %s", keySplit, tripjson.Describe(data))
	}
	return ds.Elements(func() error { return d.row1(&ds, cols, keySplit+".data") })
}

// columnNames reads an array of column names.
func (d *decoder) columnNames(s *tripjson.Scanner, cols *[]tripjson.Field) error {
	if s.Peek() != '[' {
		return wrongValue(s, "columns must be an array of column names")
	}
	return s.Elements(func() error {
		if s.Peek() != '"' {
			return wrongValue(s, "column names must be strings")
		}
		name, err := s.Text()
		if err != nil {
			return err
		}
		*cols = append(*cols, tripjson.FieldOf(name))
		return nil
	})
}

// checkColumns requires both zone columns.
func checkColumns(cols []tripjson.Field) error {
	var pu, do bool
	for _, c := range cols {
		pu = pu || c == tripjson.PULocationID
		do = do || c == tripjson.DOLocationID
	}
	switch {
	case !pu:
		return badf("Invalid input: the column PULocationID is missing (columns: PULocationID, DOLocationID, and optionally passenger_count and pickup_datetime)")
	case !do:
		return badf("Invalid input: the column DOLocationID is missing (columns: PULocationID, DOLocationID, and optionally passenger_count and pickup_datetime)")
	}
	return nil
}

// row1 reads one row given as an array of values in the order of cols;
// columns that are no trip field are ignored.
func (d *decoder) row1(s *tripjson.Scanner, cols []tripjson.Field, where string) error {
	t, err := d.newRow()
	if err != nil {
		return err
	}
	if s.Peek() != '[' {
		return wrongValue(s, "%s row %d must be an array of %d values", where, d.row, len(cols))
	}
	i := 0
	err = s.Elements(func() error {
		f := tripjson.NoField
		if i < len(cols) {
			f = cols[i]
		}
		i++
		return tripjson.DecodeField(s, f, d.ny, t, d.report)
	})
	if err == nil && i != len(cols) {
		err = badf("%s row %d has %d values for %d columns", where, d.row, i, len(cols))
	}
	return err
}

// records reads an array of objects, one a row, keyed by column name.
func (d *decoder) records(s *tripjson.Scanner, where string) error {
	if s.Peek() != '[' {
		return wrongValue(s, "%s must be an array of row objects", where)
	}
	return s.Elements(func() error { return d.record(s) })
}

// record reads one row object; members that are no trip field are ignored.
func (d *decoder) record(s *tripjson.Scanner) error {
	t, err := d.newRow()
	if err != nil {
		return err
	}
	got, err := tripjson.Decode(s, d.ny, d.report, func([]byte) error { _, err := s.Skip(); return err })
	*t = got
	return err
}

// rows reads instances (or inputs as a list): row objects, or rows as
// arrays of values in the signature's column order.
func (d *decoder) rows(s *tripjson.Scanner, where string) error {
	if s.Peek() != '[' {
		return wrongValue(s, "%s must be an array of rows", where)
	}
	return s.Elements(func() error {
		if s.Peek() == '{' {
			return d.record(s)
		}
		return d.prefixRow(s, where)
	})
}

// prefixRow reads a row of two to four values: the signature's columns in order.
func (d *decoder) prefixRow(s *tripjson.Scanner, where string) error {
	t, err := d.newRow()
	if err != nil {
		return err
	}
	if s.Peek() != '[' {
		return wrongValue(s, "%s row %d must be an object or an array [PULocationID, DOLocationID, passenger_count, pickup_datetime]", where, d.row)
	}
	i := 0
	err = s.Elements(func() error {
		if i >= signatureColumns {
			return badf("%s row %d has more than %d values (PULocationID, DOLocationID, passenger_count, pickup_datetime)", where, d.row, signatureColumns)
		}
		f := signature(i)
		i++
		return tripjson.DecodeField(s, f, d.ny, t, d.report)
	})
	if err == nil && i < 2 {
		err = badf("%s row %d has %d values; it needs at least PULocationID and DOLocationID", where, d.row, i)
	}
	return err
}

// columns reads inputs as an object of columns: {"PULocationID": […], …}.
func (d *decoder) columns(s *tripjson.Scanner) error {
	type column struct {
		f   tripjson.Field
		raw []byte
	}
	var cols []column
	err := s.Members(func(key []byte) error {
		v, err := s.Skip()
		if err != nil {
			return err
		}
		if f := tripjson.FieldOf(key); f != tripjson.NoField {
			if v[0] != '[' {
				return badf("inputs.%s must be an array of values, got %s", f, tripjson.Describe(v))
			}
			cols = append(cols, column{f, v})
		}
		return nil
	})
	if err != nil {
		return err
	}
	fields := make([]tripjson.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.f
	}
	if err := checkColumns(fields); err != nil {
		return err
	}
	for ci, c := range cols {
		cs := tripjson.NewScanner(c.raw)
		n := 0
		err := cs.Elements(func() error {
			if ci == 0 {
				if _, err := d.newRow(); err != nil {
					return err
				}
			} else if n >= len(d.trips) {
				return badf("inputs.%s has more values than inputs.%s", c.f, cols[0].f)
			}
			d.row = n
			n++
			return tripjson.DecodeField(&cs, c.f, d.ny, &d.trips[d.row], d.report)
		})
		if err != nil {
			return err
		}
		if n != len(d.trips) {
			return badf("inputs.%s has %d values, inputs.%s %d: columns must be as long as each other", c.f, n, cols[0].f, len(d.trips))
		}
	}
	return nil
}

// decodeCSV reads a CSV body with a header line, as pandas' to_csv writes
// it (with or without the index column). Each cell is read as the JSON
// value it spells (an empty cell as null), so the rules and their words are
// those of every other input.
func (d *decoder) decodeCSV(body []byte) ([]trip.Trip, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, badf("Failed to parse input as CSV: no header line")
		}
		return nil, badf("Failed to parse input as CSV: %v", err)
	}
	cols := make([]tripjson.Field, len(header))
	for i, h := range header {
		cols[i] = tripjson.FieldOf([]byte(strings.TrimSpace(h)))
	}
	if err := checkColumns(cols); err != nil {
		return nil, err
	}
	var cell []byte
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, badf("Failed to parse input as CSV: %v", err)
		}
		t, err := d.newRow()
		if err != nil {
			return nil, err
		}
		for i, v := range rec {
			if i >= len(cols) || cols[i] == tripjson.NoField {
				continue
			}
			cell = csvCell(cell[:0], v)
			cs := tripjson.NewScanner(cell)
			if err := tripjson.DecodeField(&cs, cols[i], d.ny, t, d.report); err != nil {
				return nil, syntax(err)
			}
		}
	}
	return d.result()
}

// csvCell renders a CSV cell as the JSON value it spells: a number as
// written, empty as null, anything else as a string.
func csvCell(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	if v == "" {
		return append(b, "null"...)
	}
	if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') {
		// A JSON number as written (pandas writes 1.0 for a float column).
		s := tripjson.NewScanner([]byte(v))
		if _, err := s.Number(); err == nil && s.End() == nil {
			return append(b, v...)
		}
	}
	return tripjson.AppendString(b, v)
}
