package stream

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
)

// buildTaxieta builds the taxieta command into a temporary directory.
func buildTaxieta(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "taxieta")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/taxieta")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/taxieta: %v\n%s", err, out)
	}
	return bin
}

// proc is a `taxieta stream` process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startProc starts `taxieta stream args...`, its stderr to a log file.
func startProc(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, append([]string{"stream"}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	// Only the flags given here count: no TAXIETA_ settings from the test's
	// environment.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TAXIETA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("log of %s:\n%s", name, b)
		}
	})
	return p
}

// signal sends sig and waits for the process to exit, returning its error.
func (p *proc) signal(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit within 30s of %v", p.name, sig)
		return nil
	}
}

// stopped returns the counts a process logged when it stopped.
func (p *proc) stopped(t *testing.T) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`msg=stopped (.*)`).FindSubmatch(b)
	if m == nil {
		return "(no stop line)"
	}
	return string(m[1])
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestKillAndRestart is the streaming acceptance test: 100,000 trip requests
// and 1,000 bad events go through two `taxieta stream` processes sharing one
// durable consumer. One is killed with SIGKILL midway and restarted, one is
// stopped with SIGTERM (it must drain and exit 0) and restarted. In the end
// every ride has exactly one stored estimate, with the model's numbers,
// every bad event exactly one dead letter, and the consumer has nothing
// pending. It runs against the real nats-server, and against the embedded
// server of a third `taxieta stream` process.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds taxieta and sends 101,000 events")
	}
	bin := buildTaxieta(t)
	mv := testService(t).Current()
	evs := makeEvents(100_000, 1_000)

	for _, variant := range []string{"real", "embedded"} {
		t.Run(variant, func(t *testing.T) {
			top := testTopologyNames()
			settings := []string{"--ack-wait", "5s", "--dedup-window", "1m", "--fetch-wait", "200ms"}
			var url string
			var host *proc
			if variant == "real" {
				url = testenv.Service(t, "TAXIETA_NATS_URL")
			} else {
				// A third process hosts the embedded server; it consumes too.
				addr := freeAddr(t)
				url = "nats://" + addr
				host = startProc(t, bin, "host", slices.Concat(topologyArgs(top), settings,
					[]string{"--nats-listen", addr, "--nats-store", t.TempDir()})...)
			}
			args := slices.Concat(topologyArgs(top), settings, []string{"--nats", url})
			runKillTest(t, bin, url, top, args, host, evs, mv)
		})
	}
}

func topologyArgs(top Topology) []string {
	return []string{
		"--stream", top.Stream, "--subject", top.Subject, "--durable", top.Durable,
		"--out-stream", top.OutStream, "--out-subject", top.OutSubject, "--dead-letter-subject", top.DeadLetterSubject,
	}
}

// waitForNATS waits until the NATS server at url accepts connections.
func waitForNATS(t *testing.T, url string) {
	t.Helper()
	waitFor(t, "the NATS server", 30*time.Second, func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "nats://"))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// runKillTest runs the acceptance test's story with processes started with
// args; host, if not nil, is the process of the embedded server.
func runKillTest(t *testing.T, bin, url string, top Topology, args []string, host *proc, evs []event, mv *serving.ModelVersion) {
	waitForNATS(t, url)
	nc, js := connect(t, url)
	deleteStreamsAtCleanup(t, js, top)

	// Two consumers (with the embedded server, the host is the first).
	first := host
	if first == nil {
		first = startProc(t, bin, "a", args...)
	}
	second := startProc(t, bin, "b", args...)
	procs := []*proc{first, second}
	waitFor(t, "the consumers to set up the streams", 60*time.Second, func() bool {
		_, err := js.Consumer(t.Context(), top.Stream, top.Durable)
		return err == nil
	})

	start := time.Now()
	published := make(chan struct{})
	var publishErr error
	go func() {
		defer close(published)
		publishErr = publishAll(t.Context(), nc, js, top.Stream, top.Subject, evs)
		t.Logf("%d events published in %s", len(evs), time.Since(start).Round(time.Millisecond))
	}()
	total := uint64(len(evs))
	outputs := func() uint64 {
		select {
		case <-published:
			if publishErr != nil {
				t.Fatal(publishErr)
			}
		default:
		}
		return storedMsgs(t, js, top.OutStream)
	}

	// SIGKILL a consumer midway, and restart it.
	victim := 1
	if host == nil {
		victim = 0
	}
	waitFor(t, "30% of the outputs", 2*time.Minute, func() bool { return outputs() >= total*3/10 })
	killedAt := outputs()
	if err := procs[victim].signal(t, syscall.SIGKILL); err == nil {
		t.Fatalf("%s survived SIGKILL", procs[victim].name)
	}
	t.Logf("SIGKILL %s with %d of %d outputs stored", procs[victim].name, killedAt, total)
	procs[victim] = startProc(t, bin, procs[victim].name+"2", args...)

	// SIGTERM the second consumer midway: it drains and exits 0; restart it.
	waitFor(t, "60% of the outputs", 2*time.Minute, func() bool { return outputs() >= total*6/10 })
	if err := procs[1].signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("%s after SIGTERM: %v (want exit status 0)", procs[1].name, err)
	}
	t.Logf("SIGTERM %s: drained and exited 0 (%s)", procs[1].name, procs[1].stopped(t))
	procs[1] = startProc(t, bin, procs[1].name+"3", args...)

	<-published
	if publishErr != nil {
		t.Fatal(publishErr)
	}
	waitFor(t, "every output", 2*time.Minute, func() bool { return outputs() >= total })
	cons, err := js.Consumer(t.Context(), top.Stream, top.Durable)
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.ConsumerInfo
	waitFor(t, "the consumer to have nothing pending", time.Minute, func() bool {
		info, err = cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	t.Logf("all %d events processed in %s; the consumer made %d deliveries (%d redeliveries)",
		total, time.Since(start).Round(time.Millisecond), info.Delivered.Consumer, info.Delivered.Consumer-total)

	// Stop the consumers; the embedded host last, as it is the server.
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i] == host {
			continue
		}
		if err := procs[i].signal(t, syscall.SIGTERM); err != nil {
			t.Errorf("%s after SIGTERM: %v (want exit status 0)", procs[i].name, err)
		}
		t.Logf("SIGTERM %s: %s", procs[i].name, procs[i].stopped(t))
	}
	checkStart := time.Now()
	checkOutputs(t, js, top, evs, mv)
	t.Logf("outputs read and checked in %s", time.Since(checkStart).Round(time.Millisecond))
	if host != nil {
		if err := host.signal(t, syscall.SIGTERM); err != nil {
			t.Errorf("%s after SIGTERM: %v (want exit status 0)", host.name, err)
		}
		t.Logf("SIGTERM %s: %s", host.name, host.stopped(t))
	}
}
