package stream

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIEmbeddedWithMetrics runs `taxieta stream` as a user would on a bare
// machine: no --nats (so an embedded server), settings from a config file,
// metrics on --metrics-addr; then checks the estimates, the metrics and a
// clean exit on SIGTERM.
func TestCLIEmbeddedWithMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds taxieta")
	}
	bin := buildTaxieta(t)
	top := testTopologyNames()
	config := filepath.Join(t.TempDir(), "stream.conf")
	var conf strings.Builder
	conf.WriteString("# taxieta stream settings\n")
	for i, a := range topologyArgs(top) {
		if i%2 == 0 {
			conf.WriteString(strings.TrimPrefix(a, "--") + " = ")
		} else {
			conf.WriteString(a + "\n")
		}
	}
	if err := os.WriteFile(config, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	natsAddr, metricsAddr := freeAddr(t), freeAddr(t)
	p := startProc(t, bin, "embedded", "--config", config, "--nats-listen", natsAddr,
		"--nats-store", t.TempDir(), "--metrics-addr", metricsAddr, "--fetch-wait", "200ms")

	url := "nats://" + natsAddr
	// The metrics are served before the embedded server starts: wait for
	// each.
	waitFor(t, "the metrics server", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	waitForNATS(t, url)
	nc, js := connect(t, url)
	waitFor(t, "the consumer", 30*time.Second, func() bool {
		_, err := js.Consumer(t.Context(), top.Stream, top.Durable)
		return err == nil
	})
	evs := makeEvents(500, 30)
	publish(t, nc, js, top, evs)
	waitFor(t, "every output", time.Minute, func() bool { return storedMsgs(t, js, top.OutStream) == uint64(len(evs)) })
	checkOutputs(t, js, top, evs, testService(t).Current())

	want := map[string]float64{
		"taxieta_stream_events_in_total":                               530,
		"taxieta_stream_events_out_total":                              500,
		`taxieta_stream_events_dead_lettered_total{class="invalid"}`:   20,
		`taxieta_stream_events_dead_lettered_total{class="malformed"}`: 10,
		"taxieta_stream_publish_failures_total":                        0,
		"taxieta_stream_processing_seconds_count":                      530,
		"taxieta_stream_in_flight":                                     0,
		"taxieta_stream_consumer_lag":                                  0,
		"taxieta_stream_consumer_ack_pending":                          0,
	}
	waitFor(t, "the metrics", 30*time.Second, func() bool {
		got := scrape(t, "http://"+metricsAddr+"/metrics")
		for name, v := range want {
			if g, ok := got[name]; !ok || g != v {
				t.Logf("%s = %v (present %v), want %v", name, g, ok, v)
				return false
			}
		}
		return true
	})
	if err := p.signal(t, syscall.SIGTERM); err != nil {
		t.Errorf("after SIGTERM: %v (want exit status 0)", err)
	}
	t.Logf("stopped: %s", p.stopped(t))
}

// scrape reads a Prometheus text exposition into series → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
