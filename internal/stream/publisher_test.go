package stream

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// TestPublisher publishes to a real server: an output stored, a duplicate,
// a subject no stream stores, and one that a plain subscriber takes without
// answering, which must expire; each publish gets exactly one done call.
func TestPublisher(t *testing.T) {
	url := startEmbeddedForTest(t)
	nc, js := connect(t, url)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: "PUBTEST", Subjects: []string{"pubtest.ok"}, Storage: jetstream.MemoryStorage, Duplicates: time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	silent, err := nc.SubscribeSync("pubtest.silent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Unsubscribe() })

	var mu sync.Mutex
	got := map[string]pubResult{}
	p, err := newPublisher(nc, 2, 300*time.Millisecond, func(ev inflight, r pubResult) {
		mu.Lock()
		defer mu.Unlock()
		if _, twice := got[ev.subject]; twice {
			t.Errorf("done called twice for %s", ev.subject)
		}
		got[ev.subject] = r
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	go p.expire(ctx)

	tests := []struct {
		name, subject, id string
		duplicate         bool
		err               string // part of the error; empty for none
	}{
		{"stored", "pubtest.ok", "a", false, ""},
		{"duplicate", "pubtest.ok", "a", true, ""},
		{"no stream", "pubtest.none", "b", false, "no stream stores"},
		{"never answered", "pubtest.silent", "c", false, "no acknowledgement"},
	}
	// The ring holds two: publishing four waits for answers (or expiry).
	for _, tt := range tests {
		msg := &nats.Msg{Subject: tt.subject, Data: []byte("x"), Header: nats.Header{jetstream.MsgIDHeader: {tt.id}}}
		if err := p.publish(msg, inflight{subject: tt.name, started: time.Now()}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	p.idle()
	mu.Lock()
	defer mu.Unlock()
	for _, tt := range tests {
		r, ok := got[tt.name]
		switch {
		case !ok:
			t.Errorf("%s: no done call", tt.name)
		case r.duplicate != tt.duplicate:
			t.Errorf("%s: duplicate = %v, want %v", tt.name, r.duplicate, tt.duplicate)
		case tt.err == "" && r.err != nil || tt.err != "" && (r.err == nil || !strings.Contains(r.err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want %q", tt.name, r.err, tt.err)
		}
	}
}

func TestPullStatus(t *testing.T) {
	tests := []struct {
		status, descr string
		ends          bool
		err           string // part of the error; empty for none
	}{
		{"100", "Idle Heartbeat", false, ""},
		{"404", "No Messages", true, ""},
		{"408", "Request Timeout", true, ""},
		{"409", "Batch Completed", true, ""},
		{"409", "Consumer Deleted", true, "consumer deleted"},
		{"409", "Exceeded MaxWaiting", true, "Exceeded MaxWaiting"},
		{"503", "", true, "no responders"},
	}
	for _, tt := range tests {
		t.Run(tt.status+" "+tt.descr, func(t *testing.T) {
			m := &nats.Msg{Header: nats.Header{"Status": {tt.status}, "Description": {tt.descr}}}
			if !isStatus(m) {
				t.Fatal("not recognised as a status message")
			}
			ends, err := pullStatus(m)
			if ends != tt.ends {
				t.Errorf("ends = %v, want %v", ends, tt.ends)
			}
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
	if isStatus(&nats.Msg{Data: []byte("{}"), Header: nats.Header{"Status": {"408"}}}) {
		t.Error("a message with a payload taken for a status")
	}
}
