package stream

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestParsePubAck(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		header    nats.Header
		duplicate bool
		err       string // part of the error; empty for none
	}{
		{"stored", `{"stream":"OUT","seq":42}`, nil, false, ""},
		{"stored, with domain", `{"stream":"OUT","domain":"hub","seq":42}`, nil, false, ""},
		{"duplicate as 2.15 writes it", `{"stream":"OUT","seq":42,"duplicate": true}`, nil, true, ""},
		{"duplicate as encoding/json writes it", `{"stream":"OUT","seq":42,"duplicate":true}`, nil, true, ""},
		{"not a duplicate", `{"stream":"OUT","seq":42,"duplicate":false}`, nil, false, ""},
		{"error", `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`, nil, false, "maximum messages exceeded"},
		{"no responders", ``, nats.Header{"Status": {"503"}}, false, "no stream stores"},
		{"other status", ``, nats.Header{"Status": {"408"}, "Description": {"Request Timeout"}}, false, "408"},
		{"garbage", `hello`, nil, false, "unexpected"},
		{"bad error", `{"error":`, nil, false, "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parsePubAck(&nats.Msg{Data: []byte(tt.data), Header: tt.header})
			if r.duplicate != tt.duplicate {
				t.Errorf("duplicate = %v, want %v", r.duplicate, tt.duplicate)
			}
			if tt.err == "" && r.err != nil || tt.err != "" && (r.err == nil || !strings.Contains(r.err.Error(), tt.err)) {
				t.Errorf("err = %v, want %q", r.err, tt.err)
			}
		})
	}
}
