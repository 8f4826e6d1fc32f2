package stream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

func TestTopologyValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Topology)
		want   string // part of the error; empty for none
	}{
		{"default", func(*Topology) {}, ""},
		{"no stream", func(t *Topology) { t.Stream = "" }, "stream is empty"},
		{"no durable", func(t *Topology) { t.Durable = "" }, "durable is empty"},
		{"same outputs", func(t *Topology) { t.DeadLetterSubject = t.OutSubject }, "both"},
		{"input is output", func(t *Topology) { t.OutSubject = t.Subject }, "also an output"},
		{"window too short", func(t *Topology) { t.DedupWindow = t.AckWait }, "twice the ack wait"},
		{"no ack wait", func(t *Topology) { t.AckWait = 0 }, "ack wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := DefaultTopology()
			tt.change(&top)
			err := top.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseAckSubject(t *testing.T) {
	tests := []struct {
		reply string
		want  ackSubject
		ok    bool
	}{
		{"$JS.ACK.RIDES.taxieta.1.42.40.1700000000000000000.7", ackSubject{"RIDES", "taxieta", 1, 42}, true},
		{"$JS.ACK._.ACCHASH.RIDES.taxieta.3.42.40.1700000000000000000.7.xyz", ackSubject{"RIDES", "taxieta", 3, 42}, true},
		{"$JS.ACK.hub.ACCHASH.RIDES.taxieta.3.42.40.1700000000000000000.7", ackSubject{"RIDES", "taxieta", 3, 42}, true},
		{"$JS.ACK.RIDES.taxieta.1.42.40.1700000000000000000", ackSubject{}, false},
		{"$JS.ACK.RIDES.taxieta.1.42.40.1700000000000000000.7.8", ackSubject{}, false},
		{"$JS.ACK.RIDES.taxieta.x.42.40.1700000000000000000.7", ackSubject{}, false},
		{"_INBOX.abc.1.2.3.4.5.6.7", ackSubject{}, false},
		{"", ackSubject{}, false},
	}
	for _, tt := range tests {
		got, ok := parseAckSubject(tt.reply)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseAckSubject(%q) = %+v, %v; want %+v, %v", tt.reply, got, ok, tt.want, tt.ok)
		}
	}
	if id := (ackSubject{"RIDES", "taxieta", 3, 42}).outputID(); id != "taxieta:RIDES:taxieta:42" {
		t.Errorf("outputID = %q", id)
	}
}

func testConfig(t *testing.T, top Topology) Config {
	cfg := DefaultConfig()
	cfg.Topology = top
	cfg.Models = testService(t)
	cfg.Logger = testLogger(t)
	// The default fetch wait: a shorter one makes drains quicker, but the
	// client gives up on a batch that stalls for FetchWait+1s, leaving its
	// messages to the ack wait, and the tests run on a loaded machine.
	cfg.FetchWait = time.Second
	cfg.LagInterval = 100 * time.Millisecond
	return cfg
}

// setupRun makes a fresh topology on the server at url, stores good and
// bad events (see makeEvents) in its input stream, and returns a Config to
// consume them.
func setupRun(t *testing.T, url string, good, bad int) (jetstream.JetStream, []event, Config) {
	t.Helper()
	nc, js := connect(t, url)
	top := testTopology(t, js)
	createInput(t, js, top)
	evs := makeEvents(good, bad)
	publish(t, nc, js, top, evs)
	return js, evs, testConfig(t, top)
}

// runAsync runs Run until the returned stop is called, which returns Run's
// results.
func runAsync(t *testing.T, url string, cfg Config) (stop func() (Stats, error)) {
	t.Helper()
	in, _ := connect(t, url)
	out, _ := connect(t, url)
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		s   Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Run(ctx, in, out, cfg)
		done <- result{s, err}
	}()
	return func() (Stats, error) {
		cancel()
		select {
		case r := <-done:
			return r.s, r.err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after its context was cancelled")
			return Stats{}, nil
		}
	}
}

// TestRun sends good and bad events through Run and checks every output,
// the counts and the metrics, against both servers.
func TestRun(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			url := srv.url(t)
			js, evs, cfg := setupRun(t, url, 3000, 60)
			top := cfg.Topology
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Metrics = m
			stop := runAsync(t, url, cfg)
			waitFor(t, "every output", time.Minute, func() bool { return storedMsgs(t, js, top.OutStream) == uint64(len(evs)) })
			// Let the lag poller see the consumer caught up.
			waitFor(t, "lag 0", 10*time.Second, func() bool {
				return metricValue(t, reg, "taxieta_stream_consumer_lag", "") == 0 &&
					metricValue(t, reg, "taxieta_stream_consumer_ack_pending", "") == 0
			})
			stats, err := stop()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := Stats{In: 3060, Out: 3000, Dead: 60}
			if stats != want {
				t.Errorf("stats %+v, want %+v", stats, want)
			}
			checkOutputs(t, js, top, evs, cfg.Models.Current())
			for _, c := range []struct {
				name, label string
				want        float64
			}{
				{"taxieta_stream_events_in_total", "", 3060},
				{"taxieta_stream_events_out_total", "", 3000},
				{"taxieta_stream_events_dead_lettered_total", "", 60},
				{"taxieta_stream_events_dead_lettered_total", "malformed", 20},
				{"taxieta_stream_publish_failures_total", "", 0},
				{"taxieta_stream_processing_seconds", "", 3060},
			} {
				if got := metricValue(t, reg, c.name, c.label); got != c.want {
					t.Errorf("metric %s{%s} = %v, want %v", c.name, c.label, got, c.want)
				}
			}
			assertConsumerDone(t, js, top)
		})
	}
}

// assertConsumerDone checks that every event was delivered and acknowledged.
func assertConsumerDone(t *testing.T, js jetstream.JetStream, top Topology) {
	t.Helper()
	cons, err := js.Consumer(t.Context(), top.Stream, top.Durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		t.Errorf("consumer: %d pending, %d delivered and not acknowledged; want 0 and 0", info.NumPending, info.NumAckPending)
	}
}

// TestDrain cancels Run in the middle of a stream of events: it must return
// with everything it fetched acknowledged (nothing half-done), and a second
// Run finishes the rest with no duplicate.
func TestDrain(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			url := srv.url(t)
			js, evs, cfg := setupRun(t, url, 20000, 0)
			top := cfg.Topology

			stop := runAsync(t, url, cfg)
			waitFor(t, "some outputs", time.Minute, func() bool { return storedMsgs(t, js, top.OutStream) >= 2000 })
			first, err := stop()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			cons, err := js.Consumer(t.Context(), top.Stream, top.Durable)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if info.NumAckPending != 0 {
				t.Errorf("after the drain, %d events were delivered and not acknowledged", info.NumAckPending)
			}
			if stored := storedMsgs(t, js, top.OutStream); stored != first.Out || first.In != first.Out {
				t.Errorf("after the drain: %d outputs stored, stats %+v", stored, first)
			}
			if first.Out == uint64(len(evs)) {
				t.Log("the first run finished every event before it was stopped; the drain was not exercised")
			}
			t.Logf("first run stopped after %d of %d events", first.Out, len(evs))

			stop = runAsync(t, url, cfg)
			waitFor(t, "every output", time.Minute, func() bool { return storedMsgs(t, js, top.OutStream) == uint64(len(evs)) })
			second, err := stop()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if first.Out+second.Out != uint64(len(evs)) || second.Duplicates != 0 {
				t.Errorf("runs stored %d + %d estimates for %d events; stats %+v then %+v", first.Out, second.Out, len(evs), first, second)
			}
			checkOutputs(t, js, top, evs, cfg.Models.Current())
			assertConsumerDone(t, js, top)
		})
	}
}

// TestRedeliveryIsDeduplicated publishes an output the way a consumer that
// died before acknowledging would have, then checks that processing the
// redelivered event stores nothing new.
func TestRedeliveryIsDeduplicated(t *testing.T) {
	url := startEmbeddedForTest(t)
	js, _, cfg := setupRun(t, url, 10, 0)
	cfg.Topology.AckWait = time.Second
	top := cfg.Topology

	// A first consumer fetches one event, stores its output, and dies
	// without acknowledging it.
	cons, err := Ensure(t.Context(), js, top)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	msg := <-batch.Messages()
	ack, ok := parseAckSubject(msg.Reply())
	if !ok {
		t.Fatalf("reply subject %q", msg.Reply())
	}
	if _, err := js.Publish(t.Context(), top.OutSubject, []byte(`{"ride_id":"r0"}`), jetstream.WithMsgID(ack.outputID())); err != nil {
		t.Fatal(err)
	}

	stop := runAsync(t, url, cfg)
	waitFor(t, "every event acknowledged", time.Minute, func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	stats, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Duplicates != 1 || stats.Redelivered != 1 || stats.Out != 10 {
		t.Errorf("stats %+v, want 1 duplicate, 1 redelivered, 10 out", stats)
	}
	if n := storedMsgs(t, js, top.OutStream); n != 10 {
		t.Errorf("%d outputs stored, want 10", n)
	}
}

// TestSetupWithoutStreams checks that without --setup a missing consumer is
// an error, not a hang.
func TestSetupWithoutStreams(t *testing.T) {
	url := startEmbeddedForTest(t)
	nc, js := connect(t, url)
	cfg := testConfig(t, testTopology(t, js))
	cfg.Setup = false
	_, err := Run(t.Context(), nc, nc, cfg)
	if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("Run without streams = %v, want a not-found error", err)
	}
}

// metricValue sums a metric's series in reg (those whose "class" label is
// class, if given); for a histogram, it counts observations.
func metricValue(t *testing.T, reg *prometheus.Registry, name, class string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if class != "" && l.GetName() == "class" && l.GetValue() != class {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestConfirmAcks acknowledges thousands of events at once, as the end of
// a drain does, and checks that once confirmAcks returns the server has
// applied every acknowledgement. A flush alone is not enough: the server
// queues acknowledgements and applies them later (the count still pending
// right after a flush is logged; under load it is often above 0).
func TestConfirmAcks(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			url := srv.url(t)
			_, _, cfg := setupRun(t, url, 5000, 0)
			nc, js := connect(t, url)
			cons, err := Ensure(t.Context(), js, cfg.Topology)
			if err != nil {
				t.Fatal(err)
			}
			var replies []string
			for len(replies) < 5000 {
				b, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				for m := range b.Messages() {
					replies = append(replies, m.Reply())
				}
				if err := b.Error(); err != nil {
					t.Fatal(err)
				}
			}
			p := &processor{cfg: Config{PublishTimeout: 10 * time.Second}, ack: []byte("+ACK")}
			for _, r := range replies {
				if err := nc.Publish(r, p.ack); err != nil {
					t.Fatal(err)
				}
			}
			p.lastAcked.Store(&replies[len(replies)-1])
			if err := p.flushAcks(nc); err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("right after a flush: %d of %d acknowledgements not applied yet", info.NumAckPending, len(replies))
			if err := p.confirmAcks(nc); err != nil {
				t.Fatalf("confirmAcks: %v", err)
			}
			if info, err = cons.Info(t.Context()); err != nil {
				t.Fatal(err)
			}
			if info.NumAckPending != 0 || info.NumPending != 0 {
				t.Errorf("after confirmAcks: %d pending, %d delivered and not acknowledged; want 0 and 0", info.NumPending, info.NumAckPending)
			}
		})
	}
}
