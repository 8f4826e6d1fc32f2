package oip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// The tensor names and types the model reads and writes.
const (
	inPU      = "PULocationID"
	inDO      = "DOLocationID"
	inPax     = "passenger_count"
	inPickup  = "pickup_datetime"
	outMin    = "duration_minutes"
	outLow    = "low_minutes"
	outHigh   = "high_minutes"
	typeInt64 = "INT64"
	typeBytes = "BYTES"
	typeFP64  = "FP64"
)

// outputNames are the model's outputs in the order they are answered.
var outputNames = [3]string{outMin, outLow, outHigh}

// invalid is a request error naming the tensor at fault and the rule.
func invalid(field, format string, args ...any) error {
	return &apierr.Error{Kind: apierr.Invalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// request is a decoded inference request.
type request struct {
	id      string
	trips   []trip.Trip
	outputs [3]bool // which of outputNames are wanted
	binary  [3]bool // which of them go in the binary part
}

// input is one input tensor of a REST request's JSON header. Its byte
// slices point into the body; shape into decoder.dims.
type input struct {
	name, datatype []byte
	shape          []int64
	binSize        int64  // parameters.binary_data_size; -1 when absent
	data           []byte // the data value as written; nil when absent
}

// output is one entry of a REST request's outputs.
type output struct {
	name   []byte
	binary int8 // parameters.binary_data: -1 absent, 0 false, 1 true
}

// decoder holds the buffers of one request's decoding, reused from request
// to request so that a small request costs few allocations.
type decoder struct {
	ny      *time.Location
	maxRows int
	ints    []int64
	trips   []trip.Trip
	inputs  []input
	outputs []output
	dims    []int64
	// allBinary is parameters.binary_data_output: -1 absent, 0, 1.
	allBinary int8
}

// knownName returns the model's tensor name b spells without allocating,
// or b as a new string when it is none of them.
func knownName(b []byte) string {
	switch string(b) {
	case inPU:
		return inPU
	case inDO:
		return inDO
	case inPax:
		return inPax
	case inPickup:
		return inPickup
	case outMin:
		return outMin
	case outLow:
		return outLow
	case outHigh:
		return outHigh
	}
	return string(b)
}

// decode reads an inference request: body is the whole body and header
// the length of its JSON part (len(body) when there is no binary part).
func (d *decoder) decode(body []byte, header int) (request, error) {
	var req request
	if header < 0 || header > len(body) {
		return req, &apierr.Error{Kind: apierr.Malformed, Field: "Inference-Header-Content-Length", Msg: fmt.Sprintf("Inference-Header-Content-Length %d is not within the body's %d bytes", header, len(body))}
	}
	if err := d.parse(body[:header], &req); err != nil {
		return req, err
	}
	bin := body[header:]
	n := -1
	var pu, do, pax []int64
	var pickups []string
	d.ints = d.ints[:0]
	for i := range d.inputs {
		in := &d.inputs[i]
		name := knownName(in.name)
		var raw []byte
		if in.binSize >= 0 {
			if in.binSize > int64(len(bin)) {
				return req, invalid(name, "input %s: binary_data_size %d is past the end of the body", name, in.binSize)
			}
			raw, bin = bin[:in.binSize:in.binSize], bin[in.binSize:]
		}
		rows, cols, err := d.shape(name, in.shape, &n)
		if err != nil {
			return req, err
		}
		switch {
		case cols == 3:
			if string(in.datatype) != typeInt64 {
				return req, invalid(name, "input %s of shape [N,3] must be INT64 (PULocationID, DOLocationID, passenger_count), not %s", name, in.datatype)
			}
			v, err := d.int64s(name, in.shape, raw, in.data, rows*3)
			if err != nil {
				return req, err
			}
			pu, do, pax = strided(v, 0), strided(v, 1), strided(v, 2)
		case name == inPU || name == inDO || name == inPax:
			if string(in.datatype) != typeInt64 {
				return req, invalid(name, "input %s must be INT64, not %s", name, in.datatype)
			}
			v, err := d.int64s(name, in.shape, raw, in.data, rows)
			if err != nil {
				return req, err
			}
			switch name {
			case inPU:
				pu = v
			case inDO:
				do = v
			default:
				pax = v
			}
		case name == inPickup:
			if string(in.datatype) != typeBytes {
				return req, invalid(name, "input %s must be BYTES (ISO 8601 date-times), not %s", name, in.datatype)
			}
			v, err := stringsOf(name, in.shape, raw, in.data, rows)
			if err != nil {
				return req, err
			}
			pickups = v
		default:
			return req, invalid(name, "unknown input %q: the model reads PULocationID, DOLocationID, passenger_count (INT64 [N]), pickup_datetime (BYTES [N]) or one INT64 [N,3] tensor", name)
		}
	}
	if pu == nil || do == nil {
		return req, invalid("inputs", "inputs PULocationID and DOLocationID (INT64 [N]), or one INT64 [N,3] tensor, are required")
	}
	if len(bin) != 0 {
		return req, invalid("inputs", "%d bytes of binary data are not claimed by any input's binary_data_size", len(bin))
	}
	if err := d.trips_(pu, do, pax, pickups); err != nil {
		return req, err
	}
	req.trips = d.trips
	return req, d.wanted(&req)
}

// parse reads the JSON header into d.inputs, d.outputs and d.allBinary,
// and the request's id, with tripjson's scanner: members the protocol does
// not name are skipped, as the specification allows; a member given twice
// counts as given last, as encoding/json reads it. JSON that is not well
// formed is Malformed; a member of the wrong type is Invalid, naming it.
func (d *decoder) parse(b []byte, req *request) error {
	d.inputs, d.outputs, d.dims, d.allBinary = d.inputs[:0], d.outputs[:0], d.dims[:0], -1
	s := tripjson.NewScanner(b)
	if s.Peek() != '{' {
		if _, err := s.Skip(); err != nil {
			return notJSON(err)
		}
		return &apierr.Error{Kind: apierr.Malformed, Msg: "the body is not an inference request: want a JSON object"}
	}
	err := s.Members(func(key []byte) error {
		switch string(key) {
		case "id":
			if s.Null() {
				req.id = ""
				return nil
			}
			if s.Peek() != '"' {
				return invalid("id", "id must be a string")
			}
			t, err := s.Text()
			req.id = string(t)
			return err
		case "inputs":
			d.inputs = d.inputs[:0]
			if s.Null() {
				return nil
			}
			if s.Peek() != '[' {
				return invalid("inputs", "inputs must be an array of tensors")
			}
			return s.Elements(func() error { return d.parseInput(&s) })
		case "outputs":
			d.outputs = d.outputs[:0]
			if s.Null() {
				return nil
			}
			if s.Peek() != '[' {
				return invalid("outputs", "outputs must be an array of {\"name\": ...} objects")
			}
			return s.Elements(func() error { return d.parseOutput(&s) })
		case "parameters":
			return parameters(&s, "parameters", func(key []byte) error {
				if string(key) != "binary_data_output" {
					_, err := s.Skip()
					return err
				}
				v, err := boolean(&s, "parameters.binary_data_output")
				d.allBinary = v
				return err
			})
		}
		_, err := s.Skip()
		return err
	})
	if err == nil {
		err = s.End()
	}
	return notJSON(err)
}

// notJSON makes a syntax error Malformed, naming where the JSON broke;
// other errors (and nil) are returned as they are.
func notJSON(err error) error {
	if err == nil {
		return nil
	}
	var se *tripjson.SyntaxError
	if errors.As(err, &se) {
		return apierr.Wrap(apierr.Malformed, err, "the body is not an inference request: "+se.Error())
	}
	return err
}

// parameters reads a parameters object (or null), calling member for each
// of its members with the scanner at the member's value.
func parameters(s *tripjson.Scanner, field string, member func(key []byte) error) error {
	if s.Null() {
		return nil
	}
	if s.Peek() != '{' {
		return invalid(field, "%s must be an object", field)
	}
	return s.Members(member)
}

// boolean reads true or false as 1 or 0; any other value is Invalid.
func boolean(s *tripjson.Scanner, field string) (int8, error) {
	v, err := s.Skip()
	switch {
	case err != nil:
		return -1, err
	case string(v) == "true":
		return 1, nil
	case string(v) == "false":
		return 0, nil
	}
	return -1, invalid(field, "%s must be true or false", field)
}

// parseInput reads one element of inputs.
func (d *decoder) parseInput(s *tripjson.Scanner) error {
	k := len(d.inputs)
	if s.Peek() != '{' {
		f := fmt.Sprintf("inputs[%d]", k)
		return invalid(f, "%s must be a tensor object (name, shape, datatype, data)", f)
	}
	in := input{binSize: -1}
	text := func(member string) ([]byte, error) {
		if s.Peek() != '"' {
			f := fmt.Sprintf("inputs[%d].%s", k, member)
			return nil, invalid(f, "%s must be a string", f)
		}
		return s.Text()
	}
	err := s.Members(func(key []byte) error {
		var err error
		switch string(key) {
		case "name":
			in.name, err = text("name")
		case "datatype":
			in.datatype, err = text("datatype")
		case "shape":
			in.shape, err = d.parseShape(s, k)
		case "parameters":
			err = parameters(s, fmt.Sprintf("inputs[%d].parameters", k), func(key []byte) error {
				if string(key) != "binary_data_size" {
					_, err := s.Skip()
					return err
				}
				in.binSize, err = binarySize(s, k)
				return err
			})
		case "data":
			if s.Null() {
				in.data = nil
				return nil
			}
			in.data, err = s.Skip()
		default:
			_, err = s.Skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	d.inputs = append(d.inputs, in)
	return nil
}

// parseShape reads inputs[k].shape, an array of integers, into d.dims.
func (d *decoder) parseShape(s *tripjson.Scanner, k int) ([]int64, error) {
	bad := func() error {
		f := fmt.Sprintf("inputs[%d].shape", k)
		return invalid(f, "%s must be an array of integers", f)
	}
	if s.Peek() != '[' {
		return nil, bad()
	}
	start := len(d.dims)
	err := s.Elements(func() error {
		if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
			return bad()
		}
		num, err := s.Number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return bad()
		}
		d.dims = append(d.dims, v)
		return nil
	})
	return d.dims[start:len(d.dims):len(d.dims)], err
}

// binarySize reads inputs[k].parameters.binary_data_size, a whole number
// of bytes (written as an integer or not: 8, 8.0).
func binarySize(s *tripjson.Scanner, k int) (int64, error) {
	bad := func() error {
		f := fmt.Sprintf("inputs[%d].parameters.binary_data_size", k)
		return invalid(f, "%s must be a whole number of bytes", f)
	}
	if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
		return -1, bad()
	}
	num, err := s.Number()
	if err != nil {
		return -1, err
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || f < 0 || f >= 1<<62 || f != float64(int64(f)) {
		return -1, bad()
	}
	return int64(f), nil
}

// parseOutput reads one element of outputs.
func (d *decoder) parseOutput(s *tripjson.Scanner) error {
	k := len(d.outputs)
	if s.Peek() != '{' {
		f := fmt.Sprintf("outputs[%d]", k)
		return invalid(f, "%s must be an object naming an output", f)
	}
	o := output{binary: -1}
	err := s.Members(func(key []byte) error {
		var err error
		switch string(key) {
		case "name":
			if s.Peek() != '"' {
				f := fmt.Sprintf("outputs[%d].name", k)
				return invalid(f, "%s must be a string", f)
			}
			o.name, err = s.Text()
		case "parameters":
			err = parameters(s, fmt.Sprintf("outputs[%d].parameters", k), func(key []byte) error {
				if string(key) != "binary_data" {
					_, err := s.Skip()
					return err
				}
				var err error
				o.binary, err = boolean(s, "output "+knownName(o.name)+": parameters.binary_data")
				return err
			})
		default:
			_, err = s.Skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	d.outputs = append(d.outputs, o)
	return nil
}

// shape checks an input's shape: [N] or [N,1], or [N,3]; cols is 1 or 3.
// n is the rows of the inputs before it (-1 before the first), which N
// must match; it becomes N.
func (d *decoder) shape(name string, s []int64, n *int) (rows, cols int, err error) {
	switch {
	case len(s) == 1, len(s) == 2 && s[1] == 1:
		cols = 1
	case len(s) == 2 && s[1] == 3:
		cols = 3
	default:
		return 0, 0, invalid(name, "input %s has shape %v; it must be [N] or, for the trip matrix, [N,3]", name, s)
	}
	if s[0] < 1 || s[0] > int64(d.maxRows) {
		return 0, 0, invalid(name, "input %s has %d rows; a request holds 1 to %d", name, s[0], d.maxRows)
	}
	rows = int(s[0])
	if *n >= 0 && rows != *n {
		return 0, 0, invalid(name, "input %s has %d rows where an earlier input has %d", name, rows, *n)
	}
	*n = rows
	return rows, cols, nil
}

// strided returns column c of a row-major [N,3] matrix.
func strided(v []int64, c int) []int64 {
	out := make([]int64, len(v)/3)
	for i := range out {
		out[i] = v[3*i+c]
	}
	return out
}

// int64s reads an INT64 tensor of n elements from raw bytes (when raw is
// not nil) or from data, its JSON data: (nested) arrays of integers, which
// the scanner has checked to be well-formed JSON.
func (d *decoder) int64s(name string, shape []int64, raw, data []byte, n int) ([]int64, error) {
	start := len(d.ints)
	if raw != nil {
		if len(raw) != 8*n {
			return nil, invalid(name, "input %s: %d bytes of binary data for %d INT64 elements (want %d)", name, len(raw), n, 8*n)
		}
		for i := 0; i < n; i++ {
			d.ints = append(d.ints, int64(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return d.ints[start:], nil
	}
	b := data
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '[' || c == ']' || c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			v, err := strconv.ParseInt(string(b[i:j]), 10, 64)
			if err != nil || j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
				return nil, invalid(name, "input %s: element %d is not an INT64", name, len(d.ints)-start)
			}
			d.ints = append(d.ints, v)
			i = j
		default:
			return nil, invalid(name, "input %s: data must be (nested) arrays of integers", name)
		}
	}
	if got := len(d.ints) - start; got != n {
		return nil, invalid(name, "input %s: %d elements where its shape %v holds %d", name, got, shape, n)
	}
	return d.ints[start:], nil
}

// stringsOf reads a BYTES tensor of n elements from raw bytes (when raw is
// not nil: each element a 4-byte little-endian length and its bytes) or
// from data, its JSON data: (nested) arrays of strings.
func stringsOf(name string, shape []int64, raw, data []byte, n int) ([]string, error) {
	out := make([]string, 0, n)
	if raw != nil {
		for len(raw) > 0 {
			if len(raw) < 4 {
				return nil, invalid(name, "input %s: binary data cut short in element %d", name, len(out))
			}
			l := binary.LittleEndian.Uint32(raw)
			if uint64(l) > uint64(len(raw)-4) {
				return nil, invalid(name, "input %s: binary data cut short in element %d", name, len(out))
			}
			out = append(out, string(raw[4:4+l]))
			raw = raw[4+l:]
		}
	} else {
		s := tripjson.NewScanner(data)
		if err := appendStrings(&s, &out); err != nil {
			return nil, invalid(name, "input %s: data must be (nested) arrays of strings", name)
		}
	}
	if len(out) != n {
		return nil, invalid(name, "input %s: %d elements where its shape %v holds %d", name, len(out), shape, n)
	}
	return out, nil
}

// errNotStrings says that a BYTES tensor's JSON data holds something else.
var errNotStrings = errors.New("not (nested) arrays of strings")

// appendStrings appends the strings of (nested) arrays of strings, in
// order. The data is well-formed JSON nested at most 64 deep (the scanner
// checked it), which bounds the recursion.
func appendStrings(s *tripjson.Scanner, out *[]string) error {
	switch s.Peek() {
	case '[':
		return s.Elements(func() error { return appendStrings(s, out) })
	case '"':
		t, err := s.Text()
		*out = append(*out, string(t))
		return err
	}
	return errNotStrings
}

// trips_ builds the trips from the columns, checking every rule.
func (d *decoder) trips_(pu, do, pax []int64, pickups []string) error {
	d.trips = d.trips[:0]
	for i := range pu {
		if !trip.ValidZone(pu[i]) {
			return invalid(inPU, "%s[%d] = %d is not a TLC zone id (1..%d)", inPU, i, pu[i], trip.MaxZone)
		}
		if !trip.ValidZone(do[i]) {
			return invalid(inDO, "%s[%d] = %d is not a TLC zone id (1..%d)", inDO, i, do[i], trip.MaxZone)
		}
		t := trip.Trip{PULocationID: uint16(pu[i]), DOLocationID: uint16(do[i]), Passengers: trip.NoPassengers}
		if pax != nil {
			switch p := pax[i]; {
			case p == -1:
			case p >= 0 && p <= trip.MaxPassengers:
				t.Passengers = int8(p)
			default:
				return invalid(inPax, "%s[%d] = %d must be 0..%d, or -1 when unknown", inPax, i, p, trip.MaxPassengers)
			}
		}
		if pickups != nil && pickups[i] != "" {
			tm, ok := trip.ParseTime([]byte(pickups[i]), d.ny)
			if !ok {
				return invalid(inPickup, "%s[%d] = %q is not an ISO 8601 date-time", inPickup, i, pickups[i])
			}
			t.Pickup = tm
		}
		d.trips = append(d.trips, t)
	}
	return nil
}

// wanted sets which outputs the request asks for and how, from
// d.outputs and d.allBinary.
func (d *decoder) wanted(req *request) error {
	all := d.allBinary == 1
	if len(d.outputs) == 0 {
		req.outputs = [3]bool{true, true, true}
		req.binary = [3]bool{all, all, all}
		return nil
	}
	for _, o := range d.outputs {
		k := outputIndex(o.name)
		if k < 0 {
			return invalid("outputs", "unknown output %q: the model answers duration_minutes, low_minutes and high_minutes", o.name)
		}
		req.outputs[k] = true
		req.binary[k] = all
		if o.binary >= 0 {
			req.binary[k] = o.binary == 1
		}
	}
	return nil
}

// outputIndex is the index of the named output in outputNames, -1 when
// the model has no such output.
func outputIndex[T string | []byte](name T) int {
	for j, n := range outputNames {
		if string(name) == n {
			return j
		}
	}
	return -1
}
