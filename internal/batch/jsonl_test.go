package batch

import (
	"bytes"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/tripjson"
)

// A line's ride_id follows tripjson.RideID; null or absent is the line
// number. What a line gave, batch writes as a JSON string, which reads back
// as the same id, so that a scored .jsonl can be scored again.
func TestLineRideIDs(t *testing.T) {
	dec, err := newLineDecoder()
	if err != nil {
		t.Fatal(err)
	}
	longest := strings.Repeat("x", tripjson.MaxRideIDBytes)
	tests := []struct {
		id      string // the ride_id member's value as written; "" for none
		want    string // the row's ride id
		problem string // the reject's reason, when refused
	}{
		{id: `"2021/01_7"`, want: "2021/01_7"},
		{id: `"` + longest + `"`, want: longest},
		{id: `17`, want: "17"},
		{id: `-0`, want: "0"},
		{id: `null`, want: "5"},
		{id: ``, want: "5"},
		{id: `17.5`, want: "5", problem: "ride_id must be a string or an integer written without a fraction or exponent, got 17.5"},
		{id: `1e3`, want: "5", problem: "ride_id must be a string or an integer written without a fraction or exponent, got 1e3"},
		{id: `18446744073709551616`, want: "5", problem: "ride_id must be an integer that fits in 64 bits, got 18446744073709551616"},
		{id: `""`, want: "5", problem: `ride_id must not be empty, got ""`},
		{id: `"` + longest + `y"`, want: "5", problem: "ride_id must be at most 256 bytes long, got 257 bytes: "},
		{id: `true`, want: "5", problem: "ride_id must be a string or an integer, got a boolean"},
	}
	for _, tt := range tests {
		line := `{"PULocationID": 43, "DOLocationID": 151}`
		if tt.id != "" {
			line = `{"ride_id": ` + tt.id + `, "PULocationID": 43, "DOLocationID": 151}`
		}
		r := tripRow{Index: 4, Line: 5}
		dec.decode([]byte(line), &r)
		if r.RideID != tt.want || !strings.HasPrefix(r.Problem, tt.problem) || (tt.problem == "") != (r.Problem == "") {
			t.Errorf("ride_id %.40s: id %.40q, problem %q; want %.40q, %q", tt.id, r.RideID, r.Problem, tt.want, tt.problem)
			continue
		}
		if r.Problem != "" {
			continue
		}
		var out bytes.Buffer
		w := &jsonlWriter{w: &out, meta: outputMeta{modelName: "m", modelVersion: "1"}}
		if err := w.write([]tripRow{r}); err != nil {
			t.Fatal(err)
		}
		again := tripRow{Index: 0, Line: 1}
		dec.decode(bytes.TrimSpace(out.Bytes()), &again)
		if again.Problem != "" || again.RideID != r.RideID {
			t.Errorf("ride_id %.40s: the output line %.80s reads back as %.40q, problem %q", tt.id, out.Bytes(), again.RideID, again.Problem)
		}
	}
}
