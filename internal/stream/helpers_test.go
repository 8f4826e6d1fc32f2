package stream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/trip"
)

// testServer is a NATS server a test runs against.
type testServer struct {
	name string
	url  func(t *testing.T) string
}

// servers are the two kinds every integration test runs against: the real
// nats-server process the test script starts, and one embedded in the test.
var servers = []testServer{
	{"real", func(t *testing.T) string { return testenv.Service(t, "TAXIETA_NATS_URL") }},
	{"embedded", startEmbeddedForTest},
}

func startEmbeddedForTest(t *testing.T) string {
	t.Helper()
	srv, err := StartEmbedded(t.Context(), EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv.URL()
}

func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// testTopology returns names no other test uses, so that tests can share
// the real server, and deletes its streams when the test ends.
func testTopology(t *testing.T, js jetstream.JetStream) Topology {
	top := testTopologyNames()
	deleteStreamsAtCleanup(t, js, top)
	return top
}

// deleteStreamsAtCleanup deletes the topology's streams when the test ends.
func deleteStreamsAtCleanup(t *testing.T, js jetstream.JetStream, top Topology) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, top.Stream)
		_ = js.DeleteStream(ctx, top.OutStream)
	})
}

// testTopologyNames returns names no other test uses.
func testTopologyNames() Topology {
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := strings.ToUpper(hex.EncodeToString(b[:]))
	top := DefaultTopology()
	top.Stream, top.OutStream, top.Durable = "RIDES_"+id, "ESTIMATES_"+id, "taxieta_"+id
	top.Subject, top.OutSubject, top.DeadLetterSubject = "t"+id+".rides", "t"+id+".estimates", "t"+id+".dead"
	return top
}

// jsonUnmarshalStrict decodes data into v, rejecting unknown fields.
func jsonUnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func loadTestModel(t testing.TB) *model.Artifact {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testService serves the embedded default model through the prediction seam.
func testService(t testing.TB) *serving.Service {
	t.Helper()
	a := loadTestModel(t)
	svc, err := serving.New(serving.NewStatic(&serving.ModelVersion{Artifact: a, Name: a.Name, Version: a.Checksum[:12], Source: "embedded"}), serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// event is a test event and what should come of it.
type event struct {
	data []byte
	// rideID is set for a valid event; reason (part of the dead letter's
	// reason) for an invalid one.
	rideID string
	trip   trip.Trip
	reason string
}

// makeEvents returns good valid events with ride ids "r0".."r<good-1>" and,
// spread among them, bad invalid ones.
func makeEvents(good, bad int) []event {
	badKinds := []struct{ data, reason string }{
		{`{"ride_id":"b%d","ride":{"PULocationID":0,"DOLocationID":4}}`, "ride.PULocationID: must be a zone id from 1 to 265, got 0"},
		{`{"ride_id":"b%d","ride":{"PULocationID":"74","DOLocationID":4}}`, "ride.PULocationID: must be an integer zone id from 1 to 265, got a string"},
		{`{"ride_id":"b%d","ride":{"PULocationID":74,"DOLocationID":4,"trip_distance":3}}`, "unknown field"},
		{`{"ride_id":"b%d","ride":{"PULocationID":74,"DOLocationID":4,"passenger_count":12}}`, "ride.passenger_count: must be from 0 to 9, got 12"},
		{`not json %d`, "not a JSON object"},
		{`{"ride_id":"b%d","ride":{"PULocationID":74,`, "want a field name"},
	}
	var evs []event
	step := good + 1
	if bad > 0 {
		step = good/bad + 1
	}
	b := 0
	for i := range good {
		if i%step == step/2 && b < bad {
			k := badKinds[b%len(badKinds)]
			evs = append(evs, event{data: fmt.Appendf(nil, k.data, b), reason: k.reason})
			b++
		}
		tr := trip.Trip{
			PULocationID: uint16(1 + i*7%265), DOLocationID: uint16(1 + i*13%265),
			Passengers: int8(i%11) - 1,
		}
		pickup := `null`
		if i%3 == 0 {
			ts := time.Date(2024, 3, 1+i%28, i%24, i%60, 0, 0, time.UTC)
			pickup = `"` + ts.Format("2006-01-02 15:04:05") + `"`
			tr.Pickup = ts // the clock fields are what count
		}
		pc := fmt.Sprint(tr.Passengers)
		if tr.Passengers == trip.NoPassengers {
			pc = "null"
		}
		id := fmt.Sprintf("r%d", i)
		evs = append(evs, event{
			data: fmt.Appendf(nil, `{"ride_id":%q,"ride":{"PULocationID":%d,"DOLocationID":%d,"passenger_count":%s,"pickup_datetime":%s}}`,
				id, tr.PULocationID, tr.DOLocationID, pc, pickup),
			rideID: id, trip: tr,
		})
	}
	for ; b < bad; b++ {
		k := badKinds[b%len(badKinds)]
		evs = append(evs, event{data: fmt.Appendf(nil, k.data, b), reason: k.reason})
	}
	return evs
}

// createInput creates the input stream, as a producer's deployment would.
func createInput(t *testing.T, js jetstream.JetStream, top Topology) {
	t.Helper()
	_, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: top.Stream, Subjects: []string{top.Subject}, Storage: jetstream.FileStorage, Duplicates: top.DedupWindow,
	})
	if err != nil {
		t.Fatalf("create input stream: %v", err)
	}
}

// publish publishes events, each with a message id so that a producer's
// retry could not store it twice, and waits until all are stored.
func publish(t *testing.T, nc *nats.Conn, js jetstream.JetStream, top Topology, evs []event) {
	t.Helper()
	if err := publishAll(t.Context(), nc, js, top.Stream, top.Subject, evs); err != nil {
		t.Fatal(err)
	}
}

// publishAll publishes the events, each with a message id, and waits until
// the stream holds them all. They go out as plain NATS publishes, which cost
// the (race-instrumented) test far less than JetStream's acknowledged ones,
// paced by the stream's message count: a server drops plain publishes that
// arrive faster than it can store them. Should any be dropped all the same,
// they are published again with acknowledgements, and the message ids keep
// the rest from being stored twice.
func publishAll(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, stream, subject string, evs []event) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	before := info.State.Msgs
	// stored waits until the stream holds at least n of the events, or
	// until it stops growing.
	stored := func(n int) (bool, error) {
		last, still := uint64(0), 0
		for {
			info, err := s.Info(ctx)
			if err != nil {
				return false, fmt.Errorf("publish: %w", err)
			}
			got := info.State.Msgs - before
			if got >= uint64(n) {
				return true, nil
			}
			if got == last {
				if still++; still == 40 {
					return false, nil
				}
			} else {
				last, still = got, 0
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	msg := func(i int) *nats.Msg {
		return &nats.Msg{Subject: subject, Data: evs[i].data, Header: nats.Header{jetstream.MsgIDHeader: {fmt.Sprint("in-", i)}}}
	}
	const window = 2000
	for i := range evs {
		if err := nc.PublishMsg(msg(i)); err != nil {
			return fmt.Errorf("publish event %d: %w", i, err)
		}
		if i%window == window-1 && i >= 2*window {
			if _, err := stored(i + 1 - 2*window); err != nil {
				return err
			}
		}
	}
	if err := nc.FlushTimeout(time.Minute); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if ok, err := stored(len(evs)); err != nil || ok {
		return err
	}
	for i := range evs {
		if _, err := js.PublishMsg(ctx, msg(i)); err != nil {
			return fmt.Errorf("publish event %d again: %w", i, err)
		}
	}
	return nil
}

// storedMsgs returns how many messages a stream holds, 0 if it does not
// exist yet.
func storedMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	return info.State.Msgs
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedMsg is one message read back from a stream.
type storedMsg struct {
	subject string
	header  nats.Header
	data    []byte
}

// readStream returns every message a stream holds, in order.
func readStream(t *testing.T, js jetstream.JetStream, stream string) []storedMsg {
	t.Helper()
	n := storedMsgs(t, js, stream)
	cons, err := js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]storedMsg, 0, n)
	for uint64(len(out)) < n {
		batch, err := cons.Fetch(min(int(n)-len(out), 5000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			out = append(out, storedMsg{subject: m.Subject(), header: m.Headers(), data: m.Data()})
			got++
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			t.Fatalf("read %d of %d messages of %s, then nothing", len(out), n, stream)
		}
	}
	return out
}

// estimateJSON is an estimate event as a consumer of it decodes it.
type estimateJSON struct {
	RideID     string `json:"ride_id"`
	Prediction struct {
		Minutes  float64 `json:"trip_duration_prediction"`
		Interval struct {
			Low  float64 `json:"low"`
			High float64 `json:"high"`
		} `json:"interval"`
	} `json:"prediction"`
	Model struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"model"`
}

// checkOutputs checks that the output stream holds exactly one estimate per
// valid event, with the model's numbers and identity, and one dead letter
// per invalid event, with its reason and payload.
func checkOutputs(t *testing.T, js jetstream.JetStream, top Topology, evs []event, mv *serving.ModelVersion) {
	m, modelName, modelVersion := mv.Artifact.Model, mv.Name, mv.Version
	t.Helper()
	msgs := readStream(t, js, top.OutStream)
	estimates := map[string][]byte{}
	var dead []storedMsg
	for i, msg := range msgs {
		switch msg.subject {
		case top.OutSubject:
			// The test's ride ids need no JSON escapes.
			rest, ok := bytes.CutPrefix(msg.data, []byte(`{"ride_id":"`))
			id, _, ok2 := bytes.Cut(rest, []byte(`"`))
			if !ok || !ok2 {
				t.Fatalf("estimate %s does not start with a ride id", msg.data)
			}
			if _, dup := estimates[string(id)]; dup {
				t.Errorf("ride %s has two stored estimates", id)
			}
			estimates[string(id)] = msg.data
			if i%100 == 0 {
				// As a consumer of the estimates reads them.
				var e estimateJSON
				if err := jsonUnmarshalStrict(msg.data, &e); err != nil || e.RideID != string(id) ||
					e.Model.Name != modelName || e.Model.Version != modelVersion {
					t.Errorf("estimate %s: decoded as %+v, %v", msg.data, e, err)
				}
			}
		case top.DeadLetterSubject:
			dead = append(dead, msg)
		default:
			t.Fatalf("unexpected subject %s", msg.subject)
		}
	}
	deadByPayload := map[string]storedMsg{}
	for _, d := range dead {
		if _, dup := deadByPayload[string(d.data)]; dup {
			t.Errorf("event %q has two dead letters", d.data)
		}
		deadByPayload[string(d.data)] = d
	}
	modelJSON := ModelJSON(modelName, modelVersion)
	var good, bad, missing, wrong int
	for _, ev := range evs {
		if ev.rideID == "" {
			bad++
			d, ok := deadByPayload[string(ev.data)]
			if !ok {
				t.Errorf("no dead letter for %q", ev.data)
				continue
			}
			if r := d.header.Get(HeaderError); !strings.Contains(r, ev.reason) {
				t.Errorf("dead letter for %q says %q, want %q", ev.data, r, ev.reason)
			}
			if d.header.Get(HeaderStream) != top.Stream || d.header.Get(HeaderSequence) == "" {
				t.Errorf("dead letter for %q does not say where the event is: %v", ev.data, d.header)
			}
			continue
		}
		good++
		got, ok := estimates[ev.rideID]
		if !ok {
			missing++
			continue
		}
		want, err := AppendEstimate(nil, RideID{text: ev.rideID}, m.Predict(ev.trip), modelJSON)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			if wrong++; wrong <= 10 {
				t.Errorf("ride %s: estimate\n%s\nwant\n%s", ev.rideID, got, want)
			}
		}
	}
	if missing > 0 || wrong > 0 {
		t.Errorf("%d of %d rides have no estimate, %d a wrong one", missing, good, wrong)
	}
	if len(estimates) != good || len(dead) != bad {
		t.Errorf("stored %d estimates and %d dead letters, want %d and %d", len(estimates), len(dead), good, bad)
	}
	t.Logf("output stream: %d estimates for %d rides, %d dead letters for %d bad events", len(estimates), good, len(dead), bad)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
