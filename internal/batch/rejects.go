package batch

import (
	"io"
	"math"
	"strconv"

	"github.com/taxieta/taxieta/internal/tripjson"
)

// rejectsFile holds the rows a run could not score, one JSON object a line:
//
//	{"ride_id":"2021/01_17","row":17,"reason":"PULocationID is empty or 0: ...","input":{...}}
//
// "row" is the row index of a parquet file; text inputs give "line" instead.
// "input" is the row as read: the JSON line itself when it was valid JSON,
// else the line as a string; a CSV record as an object of its cells; a
// parquet row as an object of the values read.
type rejectsFile struct {
	f   *atomicFile
	ids rideIDs
	buf []byte
}

func createRejects(path string, stdout io.Writer, ids rideIDs, sync bool) (*rejectsFile, error) {
	f, err := createAtomic(path, stdout, true, sync)
	if err != nil {
		return nil, err
	}
	return &rejectsFile{f: f, ids: ids}, nil
}

func (j *rejectsFile) add(r *tripRow) error {
	b := append(j.buf[:0], `{"ride_id":`...)
	b = tripjson.AppendString(b, j.ids.id(r))
	if r.Line > 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, r.Line, 10)
	} else {
		b = append(b, `,"row":`...)
		b = strconv.AppendInt(b, r.Index, 10)
	}
	b = append(b, `,"reason":`...)
	b = tripjson.AppendString(b, r.Problem)
	b = append(b, `,"input":`...)
	if r.Input != nil {
		b = append(b, r.Input...)
	} else {
		b = appendInputObject(b, r)
	}
	b = append(b, "}\n"...)
	j.buf = b
	_, err := j.f.Write(b)
	return err
}

// appendInputObject appends the values read from a row as a JSON object.
func appendInputObject(b []byte, r *tripRow) []byte {
	b = append(b, `{"PULocationID":`...)
	b = strconv.AppendInt(b, r.PULocationID, 10)
	b = append(b, `,"DOLocationID":`...)
	b = strconv.AppendInt(b, r.DOLocationID, 10)
	b = append(b, `,"passenger_count":`...)
	if math.IsNaN(r.Passengers) || math.IsInf(r.Passengers, 0) {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, r.Passengers, 'f', -1, 64)
	}
	for _, t := range []struct {
		name   string
		micros int64
	}{{"pickup_datetime", r.PickupMicros}, {"dropoff_datetime", r.DropoffMicros}} {
		b = append(b, `,"`...)
		b = append(b, t.name...)
		b = append(b, `":`...)
		if t.micros == noTime {
			b = append(b, "null"...)
		} else {
			b = append(b, '"')
			b = appendDateTime(b, t.micros)
			b = append(b, '"')
		}
	}
	return append(b, '}')
}

func (j *rejectsFile) commit() error { return j.f.commit() }
func (j *rejectsFile) abort()        { j.f.abort() }
