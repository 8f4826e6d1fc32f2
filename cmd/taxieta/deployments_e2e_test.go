package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/taxieta/taxieta/internal/testenv"
)

// TestOneModelEveryDeployment checks that the web service, the stream
// consumer and batch scoring all answer with the version a registry alias
// names, and follow it when it moves, against a local registry and a real
// MLflow server, with the real binary and a real NATS server.
func TestOneModelEveryDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary, NATS and MLflow")
	}
	data := testenv.DataDir(t)
	natsURL := testenv.Service(t, "TAXIETA_NATS_URL")
	bin := buildBinary(t)
	backends := []struct {
		name     string
		registry func(t *testing.T) string
	}{
		{"local", func(t *testing.T) string { return filepath.Join(t.TempDir(), "registry") }},
		{"mlflow", func(t *testing.T) string { url, _, _ := startMLflow(t); return url }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			tmp := t.TempDir()
			reg := b.registry(t)
			env := append(os.Environ(), "TAXIETA_REGISTRY="+reg, "TAXIETA_CACHE_DIR="+filepath.Join(tmp, "cache"), "TAXIETA_DATA_DIR="+data)
			cli := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("taxieta %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			const ref = "models:/taxi-duration@champion"
			cli("train", "--train", "green:2023-01", "--out", filepath.Join(tmp, "v1.taxieta"), "--register", "taxi-duration", "--alias", "champion")

			_, base, serveLogs := startServerEnv(t, bin, env, "--model", ref, "--reload-interval", "300ms")
			topo := newTopology(t)
			stream := startStream(t, bin, env, natsURL, topo, "--model", ref, "--reload-interval", "300ms")
			js := jetStream(t, natsURL)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			waitForStream(ctx, t, js, topo.out, stream)

			// 20 trips, the same for all three deployments.
			trips := make([]e2eTrip, 20)
			for i := range trips {
				trips[i] = e2eTrip{PU: 1 + (i*37)%263, DO: 1 + (i*91)%263, Passengers: i % 5}
			}
			rest := restEstimates(t, base, trips)
			events := make([][]byte, len(trips))
			for i, tr := range trips {
				events[i] = tr.event(fmt.Sprintf("first-%d", i))
			}
			publish(ctx, t, js, topo.subject, events, 0)
			streamed := collect(ctx, t, js, topo.out, len(trips), stream)
			batchOut := predictFile(t, cli, tmp, "first", trips)
			byRide := map[string]streamedEstimate{}
			for _, s := range streamed {
				byRide[s.RideID] = s
			}
			for i := range trips {
				s, ok := byRide[fmt.Sprintf("first-%d", i)]
				if !ok {
					t.Fatalf("no estimate for ride first-%d", i)
				}
				bt := batchOut[i]
				want := rest[i]
				if s.Model.Version != "1" || want.version != "1" || bt.Version != "1" {
					t.Errorf("trip %d: versions serve %s, stream %s, predict %s; want 1 for all", i, want.version, s.Model.Version, bt.Version)
				}
				got := [][3]float64{
					{s.Prediction.Minutes, s.Prediction.Interval.Low, s.Prediction.Interval.High},
					{round2(bt.Minutes), round2(bt.Low), round2(bt.High)},
				}
				for k, g := range got {
					if g != want.minutes {
						t.Errorf("trip %d: %s estimate %v, serve %v", i, []string{"stream", "predict"}[k], g, want.minutes)
					}
				}
			}

			// Version 2, and the alias moves while 20,000 events are published.
			cli("train", "--train", "green:2023-01..2023-02", "--out", filepath.Join(tmp, "v2.taxieta"), "--register", "taxi-duration")
			const n = 20000
			events = make([][]byte, n)
			for i := range events {
				events[i] = trips[i%len(trips)].event(fmt.Sprintf("move-%d", i))
			}
			// Meanwhile the alias moves, and serve is polled until it
			// answers with version 2.
			var wg sync.WaitGroup
			var switchedAfter time.Duration
			wg.Go(func() {
				time.Sleep(time.Second)
				cli("model", "alias", "taxi-duration", "champion", "2")
				moved := time.Now()
				switchedAfter = waitRESTVersion(t, base, trips[0], "2", serveLogs).Sub(moved)
			})
			publish(ctx, t, js, topo.subject, events, 4*time.Second)
			wg.Wait()
			t.Logf("serve answered with version 2 %v after the alias moved (poll interval 300ms)", switchedAfter.Round(time.Millisecond))
			if switchedAfter > 2*time.Second {
				t.Errorf("serve took %v to answer with version 2; want about one poll interval (300ms)", switchedAfter)
			}

			got := collect(ctx, t, js, topo.out, len(trips)+n, stream)[len(trips):]
			seen := make(map[string]bool, n)
			var v1, v2 int
			last := "1"
			for _, e := range got {
				if seen[e.RideID] {
					t.Fatalf("ride %s answered twice", e.RideID)
				}
				seen[e.RideID] = true
				switch v := e.Model.Version; {
				case v == "2":
					v2++
				case v == "1" && last == "1":
					v1++
				default:
					t.Fatalf("ride %s: version %s after version %s; versions must go 1 … 2, never back", e.RideID, v, last)
				}
				last = e.Model.Version
			}
			if len(seen) != n {
				t.Fatalf("%d distinct estimates; want %d", len(seen), n)
			}
			t.Logf("%d estimates: %d by version 1, then %d by version 2", n, v1, v2)
			if v1 == 0 || v2 == 0 {
				t.Errorf("the alias moved during publishing but versions were %d × 1, %d × 2", v1, v2)
			}
			if !strings.Contains(stream.logs.String(), `"msg":"estimating with a new model version"`) {
				t.Errorf("the stream consumer did not log the switch:\n%s", stream.logs)
			}
			if m := scrapeURL(t, "http://"+stream.metrics+"/metrics"); !strings.Contains(m, `taxieta_model_swaps_total{result="swapped"} 1`) {
				t.Errorf("the stream consumer did not count the switch:\n%s", grepLines(m, "taxieta_model"))
			}

			// A new batch job scores with what the alias names now.
			for _, r := range predictFile(t, cli, tmp, "second", trips) {
				if r.Version != "2" {
					t.Fatalf("predict after the move wrote version %s; want 2", r.Version)
				}
			}

			// A reference the registry does not have: exit 1, naming the
			// reference and the registry, and no output file.
			for _, bad := range []string{"models:/taxi-duration@nope", "models:/taxi-duration/9", "models:/no-such-model@champion"} {
				out := filepath.Join(tmp, "bad.jsonl")
				cmd := exec.Command(bin, "predict", "--in", filepath.Join(tmp, "first.jsonl"), "--out", out, "--model", bad)
				cmd.Env = env
				msg, err := cmd.CombinedOutput()
				if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
					t.Errorf("predict --model %s: exit %d; want 1\n%s", bad, code, msg)
				}
				if !strings.Contains(string(msg), bad) || !strings.Contains(string(msg), strings.TrimSuffix(reg, "/")) {
					t.Errorf("predict --model %s said %q; want the reference and the registry %s named", bad, msg, reg)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("predict --model %s left %s behind", bad, out)
				}
			}
		})
	}
}

// e2eTrip is one trip of the test, sent to every deployment.
type e2eTrip struct{ PU, DO, Passengers int }

func (tr e2eTrip) json() string {
	return fmt.Sprintf(`{"PULocationID":%d,"DOLocationID":%d,"passenger_count":%d}`, tr.PU, tr.DO, tr.Passengers)
}

func (tr e2eTrip) event(id string) []byte {
	return []byte(fmt.Sprintf(`{"ride_id":%q,"ride":%s}`, id, tr.json()))
}

type restEstimate struct {
	minutes [3]float64
	version string
}

func restEstimates(t *testing.T, base string, trips []e2eTrip) []restEstimate {
	t.Helper()
	parts := make([]string, len(trips))
	for i, tr := range trips {
		parts[i] = tr.json()
	}
	resp, err := http.Post(base+"/predict/batch", "application/json", strings.NewReader("["+strings.Join(parts, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Model       struct{ Version string }
		Predictions []struct {
			Minutes  float64 `json:"trip_duration_prediction"`
			Interval struct{ Low, High float64 }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || len(body.Predictions) != len(trips) {
		t.Fatalf("POST /predict/batch: %d, %v, %+v", resp.StatusCode, err, body)
	}
	out := make([]restEstimate, len(trips))
	for i, p := range body.Predictions {
		out[i] = restEstimate{[3]float64{p.Minutes, p.Interval.Low, p.Interval.High}, body.Model.Version}
	}
	return out
}

// waitRESTVersion polls POST /predict until it answers with version and
// returns when it did.
func waitRESTVersion(t *testing.T, base string, tr e2eTrip, version string, logs *syncBuffer) time.Time {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Post(base+"/predict", "application/json", strings.NewReader(tr.json()))
		if err != nil {
			continue
		}
		var p struct{ Model struct{ Version string } }
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err == nil && p.Model.Version == version {
			return time.Now()
		}
	}
	t.Errorf("serve never answered with version %s\n%s", version, logs)
	return time.Now()
}

type batchEstimate struct {
	Minutes float64 `json:"predicted_minutes"`
	Low     float64 `json:"low_minutes"`
	High    float64 `json:"high_minutes"`
	Version string  `json:"model_version"`
}

// predictFile scores trips with `taxieta predict` on the alias, checking
// the summary names the same version as every row.
func predictFile(t *testing.T, cli func(...string) string, dir, name string, trips []e2eTrip) []batchEstimate {
	t.Helper()
	in, out := filepath.Join(dir, name+".jsonl"), filepath.Join(dir, name+"-out.jsonl")
	var b strings.Builder
	for _, tr := range trips {
		b.WriteString(tr.json() + "\n")
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		ModelVersion string `json:"model_version"`
		ModelSource  string `json:"model_source"`
	}
	if err := json.Unmarshal([]byte(cli("predict", "--in", in, "--out", out, "--model", "models:/taxi-duration@champion", "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []batchEstimate
	for line := range strings.SplitSeq(strings.TrimSpace(string(f)), "\n") {
		var r batchEstimate
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Version != sum.ModelVersion {
			t.Fatalf("predict: a row names version %s, the summary %s", r.Version, sum.ModelVersion)
		}
		rows = append(rows, r)
	}
	if len(rows) != len(trips) {
		t.Fatalf("predict wrote %d rows; want %d", len(rows), len(trips))
	}
	return rows
}

func round2(v float64) float64 { return math.Round(float64(float32(v))*100) / 100 }

// topology names one test's streams and subjects on the shared NATS server.
type topology struct{ stream, subject, out, outSubject, dead, durable string }

func newTopology(t *testing.T) topology {
	id := fmt.Sprintf("E2E%d", time.Now().UnixNano())
	return topology{stream: id + "_IN", subject: "e2e." + id + ".requests", out: id + "_OUT",
		outSubject: "e2e." + id + ".estimates", dead: "e2e." + id + ".dead", durable: "taxieta"}
}

type streamProc struct {
	cmd     *exec.Cmd
	logs    *syncBuffer
	metrics string
}

// startStream runs `taxieta stream` on the topology, with metrics on a
// free port.
func startStream(t *testing.T, bin string, env []string, natsURL string, topo topology, args ...string) *streamProc {
	t.Helper()
	metrics := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"stream", "--nats", natsURL, "--stream", topo.stream, "--subject", topo.subject,
		"--out-stream", topo.out, "--out-subject", topo.outSubject, "--dead-letter-subject", topo.dead,
		"--durable", topo.durable, "--metrics-addr", metrics, "--fetch-wait", "200ms"}, args...)...)
	cmd.Env = env
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return &streamProc{cmd: cmd, logs: logs, metrics: metrics}
}

func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// waitForStream waits until the consumer has set up its output stream.
func waitForStream(ctx context.Context, t *testing.T, js jetstream.JetStream, name string, p *streamProc) {
	t.Helper()
	for ctx.Err() == nil {
		if _, err := js.Stream(ctx, name); err == nil && strings.Contains(p.logs.String(), `"msg":"consuming"`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the stream consumer did not start:\n%s", p.logs)
}

// publish sends events with JetStream acknowledgements, spread over about
// spread (0: as fast as possible).
func publish(ctx context.Context, t *testing.T, js jetstream.JetStream, subject string, events [][]byte, spread time.Duration) {
	t.Helper()
	start := time.Now()
	const window = 256
	acks := make([]jetstream.PubAckFuture, 0, window)
	flush := func() {
		for _, a := range acks {
			select {
			case <-a.Ok():
			case err := <-a.Err():
				t.Fatalf("publish: %v", err)
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		acks = acks[:0]
	}
	for i, ev := range events {
		f, err := js.PublishAsync(subject, ev)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if acks = append(acks, f); len(acks) == window {
			flush()
		}
		if spread > 0 {
			if ahead := time.Duration(i+1)*spread/time.Duration(len(events)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	flush()
}

type streamedEstimate struct {
	RideID     string `json:"ride_id"`
	Prediction struct {
		Minutes  float64 `json:"trip_duration_prediction"`
		Interval struct{ Low, High float64 }
	}
	Model struct{ Name, Version string }
}

// collect reads the output stream from the start until it holds want
// estimates, failing on more (a duplicate) once the consumer is idle.
func collect(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string, want int, p *streamProc) []streamedEstimate {
	t.Helper()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []streamedEstimate
	for len(out) < want {
		msgs, err := cons.Fetch(min(want-len(out), 1000), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for msg := range msgs.Messages() {
			var e streamedEstimate
			if err := json.Unmarshal(msg.Data(), &e); err != nil {
				t.Fatalf("estimate %s: %v", msg.Data(), err)
			}
			out = append(out, e)
			got++
		}
		if got == 0 && ctx.Err() != nil {
			t.Fatalf("%d of %d estimates arrived\n%s", len(out), want, p.logs)
		}
	}
	// Nothing more may come: no event is answered twice.
	time.Sleep(time.Second)
	info, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	si, err := info.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != uint64(want) {
		t.Fatalf("the output stream holds %d messages; want exactly %d", si.State.Msgs, want)
	}
	return out
}

func scrapeURL(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

func grepLines(s, substr string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}
