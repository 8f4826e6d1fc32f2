package oip

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/taxieta/taxieta/internal/apierr"
	"github.com/taxieta/taxieta/internal/trip"
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

// decoder holds the buffers of one request's decoding.
type decoder struct {
	ny      *time.Location
	maxRows int
	ints    []int64
	trips   []trip.Trip
}

// decode reads an inference request: body is the whole body and header
// the length of its JSON part (len(body) when there is no binary part).
func (d *decoder) decode(body []byte, header int) (request, error) {
	var req request
	if header < 0 || header > len(body) {
		return req, &apierr.Error{Kind: apierr.Malformed, Field: "Inference-Header-Content-Length", Msg: fmt.Sprintf("Inference-Header-Content-Length %d is not within the body's %d bytes", header, len(body))}
	}
	var ir InferRequest
	if err := json.Unmarshal(body[:header], &ir); err != nil {
		return req, apierr.Wrap(apierr.Malformed, err, "the body is not an inference request: "+err.Error())
	}
	req.id = ir.ID
	bin := body[header:]
	n := -1
	var pu, do, pax []int64
	var pickups []string
	d.ints = d.ints[:0]
	for i := range ir.Inputs {
		in := &ir.Inputs[i]
		var raw []byte
		if size, ok, err := binarySize(in.Parameters, "inputs."+in.Name); err != nil {
			return req, err
		} else if ok {
			if size > int64(len(bin)) {
				return req, invalid(in.Name, "input %s: binary_data_size %d is past the end of the body", in.Name, size)
			}
			raw, bin = bin[:size], bin[size:]
		}
		rows, cols, err := d.shape(in)
		if err != nil {
			return req, err
		}
		if n >= 0 && rows != n {
			return req, invalid(in.Name, "input %s has %d rows where an earlier input has %d", in.Name, rows, n)
		}
		n = rows
		switch {
		case cols == 3:
			if in.Datatype != typeInt64 {
				return req, invalid(in.Name, "input %s of shape [N,3] must be INT64 (PULocationID, DOLocationID, passenger_count), not %s", in.Name, in.Datatype)
			}
			v, err := d.int64s(in, raw, rows*3)
			if err != nil {
				return req, err
			}
			pu, do, pax = strided(v, 0), strided(v, 1), strided(v, 2)
		case in.Name == inPU || in.Name == inDO || in.Name == inPax:
			if in.Datatype != typeInt64 {
				return req, invalid(in.Name, "input %s must be INT64, not %s", in.Name, in.Datatype)
			}
			v, err := d.int64s(in, raw, rows)
			if err != nil {
				return req, err
			}
			switch in.Name {
			case inPU:
				pu = v
			case inDO:
				do = v
			default:
				pax = v
			}
		case in.Name == inPickup:
			if in.Datatype != typeBytes {
				return req, invalid(in.Name, "input %s must be BYTES (ISO 8601 date-times), not %s", in.Name, in.Datatype)
			}
			v, err := stringsOf(in, raw, rows)
			if err != nil {
				return req, err
			}
			pickups = v
		default:
			return req, invalid(in.Name, "unknown input %q: the model reads PULocationID, DOLocationID, passenger_count (INT64 [N]), pickup_datetime (BYTES [N]) or one INT64 [N,3] tensor", in.Name)
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
	return req, d.wanted(&req, &ir)
}

// shape checks an input's shape: [N] or [N,1], or [N,3]; cols is 1 or 3.
func (d *decoder) shape(in *RequestInput) (rows, cols int, err error) {
	s := in.Shape
	switch {
	case len(s) == 1, len(s) == 2 && s[1] == 1:
		cols = 1
	case len(s) == 2 && s[1] == 3:
		cols = 3
	default:
		return 0, 0, invalid(in.Name, "input %s has shape %v; it must be [N] or, for the trip matrix, [N,3]", in.Name, s)
	}
	if s[0] < 1 || s[0] > int64(d.maxRows) {
		return 0, 0, &apierr.Error{Kind: apierr.Invalid, Field: in.Name, Msg: fmt.Sprintf("input %s has %d rows; a request holds 1 to %d", in.Name, s[0], d.maxRows)}
	}
	return int(s[0]), cols, nil
}

// strided returns column c of a row-major [N,3] matrix.
func strided(v []int64, c int) []int64 {
	out := make([]int64, len(v)/3)
	for i := range out {
		out[i] = v[3*i+c]
	}
	return out
}

// binarySize reads parameters.binary_data_size.
func binarySize(p map[string]any, field string) (int64, bool, error) {
	v, ok := p["binary_data_size"]
	if !ok {
		return 0, false, nil
	}
	f, ok := v.(float64)
	if !ok || f < 0 || f != float64(int64(f)) {
		return 0, false, invalid(field, "%s: binary_data_size must be a whole number of bytes", field)
	}
	return int64(f), true, nil
}

// int64s reads an INT64 tensor of n elements from JSON data or raw bytes.
func (d *decoder) int64s(in *RequestInput, raw []byte, n int) ([]int64, error) {
	start := len(d.ints)
	if raw != nil {
		if len(raw) != 8*n {
			return nil, invalid(in.Name, "input %s: %d bytes of binary data for %d INT64 elements (want %d)", in.Name, len(raw), n, 8*n)
		}
		for i := 0; i < n; i++ {
			d.ints = append(d.ints, int64(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return d.ints[start:], nil
	}
	b := in.Data
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
				return nil, invalid(in.Name, "input %s: element %d is not an INT64", in.Name, len(d.ints)-start)
			}
			d.ints = append(d.ints, v)
			i = j
		default:
			return nil, invalid(in.Name, "input %s: data must be (nested) arrays of integers", in.Name)
		}
	}
	if got := len(d.ints) - start; got != n {
		return nil, invalid(in.Name, "input %s: %d elements where its shape %v holds %d", in.Name, got, in.Shape, n)
	}
	return d.ints[start:], nil
}

// stringsOf reads a BYTES tensor of n elements from JSON data or raw
// bytes (each element a 4-byte little-endian length and its bytes).
func stringsOf(in *RequestInput, raw []byte, n int) ([]string, error) {
	out := make([]string, 0, n)
	if raw != nil {
		for len(raw) > 0 {
			if len(raw) < 4 {
				return nil, invalid(in.Name, "input %s: binary data cut short in element %d", in.Name, len(out))
			}
			l := binary.LittleEndian.Uint32(raw)
			if uint64(l) > uint64(len(raw)-4) {
				return nil, invalid(in.Name, "input %s: binary data cut short in element %d", in.Name, len(out))
			}
			out = append(out, string(raw[4:4+l]))
			raw = raw[4+l:]
		}
	} else {
		var v any
		if err := json.Unmarshal(in.Data, &v); err != nil {
			return nil, invalid(in.Name, "input %s: data must be (nested) arrays of strings", in.Name)
		}
		var flat func(v any) bool
		flat = func(v any) bool {
			switch x := v.(type) {
			case string:
				out = append(out, x)
			case []any:
				for _, e := range x {
					if !flat(e) {
						return false
					}
				}
			default:
				return false
			}
			return true
		}
		if !flat(v) {
			return nil, invalid(in.Name, "input %s: data must be (nested) arrays of strings", in.Name)
		}
	}
	if len(out) != n {
		return nil, invalid(in.Name, "input %s: %d elements where its shape %v holds %d", in.Name, len(out), in.Shape, n)
	}
	return out, nil
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

// wanted reads which outputs the request asks for and how.
func (d *decoder) wanted(req *request, ir *InferRequest) error {
	all := false
	if v, ok := ir.Parameters["binary_data_output"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return invalid("parameters.binary_data_output", "parameters.binary_data_output must be true or false")
		}
		all = b
	}
	if len(ir.Outputs) == 0 {
		req.outputs = [3]bool{true, true, true}
		req.binary = [3]bool{all, all, all}
		return nil
	}
	for _, o := range ir.Outputs {
		k := outputIndex(o.Name)
		if k < 0 {
			return invalid("outputs", "unknown output %q: the model answers duration_minutes, low_minutes and high_minutes", o.Name)
		}
		req.outputs[k] = true
		req.binary[k] = all
		if v, ok := o.Parameters["binary_data"]; ok {
			b, isBool := v.(bool)
			if !isBool {
				return invalid("outputs", "output %s: parameters.binary_data must be true or false", o.Name)
			}
			req.binary[k] = b
		}
	}
	return nil
}

// outputIndex is the index of the named output in outputNames, -1 when
// the model has no such output.
func outputIndex(name string) int {
	for j, n := range outputNames {
		if name == n {
			return j
		}
	}
	return -1
}
