package stream

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRun measures the events per second one consumer (one Run)
// processes end to end: fetch, decode, estimate, publish the estimate, wait
// for JetStream to store it, acknowledge. The events are published before
// the timer starts. It runs against the real server when TAXIETA_NATS_URL
// is set, else against an embedded one in this process:
//
//	go test ./internal/stream -run '^$' -bench Run -benchtime 200000x
//
// It also reports the CPU time used per event by this process and, given
// its pid in TAXIETA_BENCH_SERVER_PID, by the nats-server process: on a
// shared machine the rate depends on the other load, the CPU cost hardly.
func BenchmarkRun(b *testing.B) {
	url := os.Getenv("TAXIETA_NATS_URL")
	where := "real"
	if url == "" {
		srv, err := StartEmbedded(b.Context(), EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown()
		url, where = srv.URL(), "embedded"
	}
	b.Logf("server: %s", where)
	benchRun(b, url)
}

func benchRun(b *testing.B, url string) {
	nc, js := connect(b, url)
	top := testTopologyNames()
	defer func() {
		_ = js.DeleteStream(b.Context(), top.Stream)
		_ = js.DeleteStream(b.Context(), top.OutStream)
	}()
	if _, err := Ensure(b.Context(), js, top); err != nil {
		b.Fatal(err)
	}
	evs := makeEvents(b.N, 0)
	if err := publishAll(b.Context(), nc, js, top.Stream, top.Subject, evs); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Topology = top
	cfg.Models = testService(b)

	in, _ := connect(b, url)
	out, _ := connect(b, url)
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan Stats, 1)
	b.ReportAllocs() // of this whole process: the consumer, its connections and the polling below
	b.ResetTimer()
	cpu0, sw0 := cpuTime()
	srv0 := serverTicks()
	start := time.Now()
	go func() {
		s, err := Run(ctx, in, out, cfg)
		if err != nil {
			b.Error(err)
		}
		done <- s
	}()
	cons, err := js.Consumer(b.Context(), top.Stream, top.Durable)
	if err != nil {
		b.Fatal(err)
	}
	for {
		info, err := cons.Info(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if info.AckFloor.Stream >= uint64(b.N) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu, sw := cpuTime()
	cpu -= cpu0
	sw -= sw0
	if srv0 >= 0 {
		b.ReportMetric(float64(serverTicks()-srv0)*1e6/clockTicks/float64(b.N), "server-cpu-µs/event")
	}
	b.StopTimer()
	cancel()
	s := <-done
	if s.Out != uint64(b.N) {
		b.Errorf("stats %+v, want %d out", s, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	// The payload sizes, for comparing with nats bench at the same sizes
	// (scripts/bench/stream.sh).
	inBytes := 0
	for _, ev := range evs {
		inBytes += len(ev.data)
	}
	b.ReportMetric(float64(inBytes)/float64(len(evs)), "in-B/event")
	if st, err := js.Stream(b.Context(), top.OutStream); err == nil {
		if last, err := st.GetLastMsgForSubject(b.Context(), top.OutSubject); err == nil {
			b.ReportMetric(float64(len(last.Data)), "out-B/event")
		}
	}
	// CPU time of this process (with an embedded server, the server's too)
	// per event: unlike the rate, it hardly depends on what else the
	// machine runs.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
	// Context switches of this process per event: each is a goroutine's
	// thread going to sleep or being preempted, which costs more than its
	// CPU time on a loaded machine.
	b.ReportMetric(float64(sw)/float64(b.N), "ctxsw/event")
}

// cpuTime is the CPU time this process used so far, and its context
// switches (voluntary and not).
func cpuTime() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw + ru.Nivcsw
}

// clockTicks is Linux's unit of CPU time in /proc/PID/stat (USER_HZ).
const clockTicks = 100

// serverTicks is the CPU time, in clock ticks, that the nats-server process
// named by TAXIETA_BENCH_SERVER_PID used so far; -1 without it.
func serverTicks() int {
	pid := os.Getenv("TAXIETA_BENCH_SERVER_PID")
	if pid == "" {
		return -1
	}
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold spaces: count after it.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return u + st
}
