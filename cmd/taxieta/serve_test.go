package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/taxieta/taxieta/internal/oip/oippb"
)

// syncBuffer collects a process's log lines for the test to read while they come.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteString(x string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(x)
}

// Write makes a syncBuffer a process's stdout or stderr.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// built is the binary buildBinary builds, in a directory TestMain removes.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBinary builds taxieta once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "taxieta-test-bin"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "taxieta")
		cmd := exec.Command("go", "build", "-o", built.bin, ".")
		cmd.Stderr = os.Stderr
		built.err = cmd.Run()
	})
	if built.err != nil {
		t.Fatalf("go build: %v", built.err)
	}
	return built.bin
}

// startServer runs the real binary and returns its base URL once it logs
// where it listens.
func startServer(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	return startServerEnv(t, bin, os.Environ(), args...)
}

// startServerEnv is startServer with the process environment env.
func startServerEnv(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(env, "TAXIETA_LOG_REQUESTS=false")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	logs := &syncBuffer{}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" {
				addr <- rec.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		base := "http://" + a
		for time.Since(start) < 10*time.Second {
			if resp, err := http.Get(base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					t.Logf("ready %s after process start", time.Since(start).Round(time.Millisecond))
					return cmd, base, logs
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("not ready: %s", logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("server did not start: %s", logs)
	}
	return nil, "", nil
}

func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	cmd, base, logs := startServer(t, bin, "--drain-delay", "300ms", "--grace-period", "5s")

	resp, err := http.Post(base+"/predict", "application/json", strings.NewReader(`{"PULocationID": 132, "DOLocationID": 230, "passenger_count": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	var pred struct {
		Minutes  float64 `json:"trip_duration_prediction"`
		Interval struct{ Low, High float64 }
		Model    struct{ Name, Version string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&pred); err != nil || resp.StatusCode != 200 {
		t.Fatalf("predict: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if pred.Minutes < 10 || pred.Interval.Low >= pred.Minutes || pred.Model.Name != "taxi-duration" {
		t.Errorf("JFK → Times Sq: %+v", pred)
	}

	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`taxieta_http_requests_total{code="200",method="POST",route="/predict"} 1`, `taxieta_predictions_total{model="taxi-duration"`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The OIP v2 gRPC listener beside HTTP: ready, and it predicts.
	cc, err := grpc.NewClient(servingGRPCAddr(t, logs.String()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	health := healthpb.NewHealthClient(cc)
	if h, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health: %v, %v", h, err)
	}
	in := func(name string, v int64) *oippb.ModelInferRequest_InferInputTensor {
		return &oippb.ModelInferRequest_InferInputTensor{Name: name, Datatype: "INT64", Shape: []int64{1}, Contents: &oippb.InferTensorContents{Int64Contents: []int64{v}}}
	}
	if r, err := oippb.NewGRPCInferenceServiceClient(cc).ModelInfer(context.Background(), &oippb.ModelInferRequest{ModelName: "taxi-duration",
		Inputs: []*oippb.ModelInferRequest_InferInputTensor{in("PULocationID", 132), in("DOLocationID", 230)}}); err != nil || len(r.RawOutputContents) != 3 {
		t.Fatalf("gRPC ModelInfer: %v, %v", r, err)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`taxieta_predictions_total\{model="taxi-duration",protocol="v2-grpc",version="[^"]+"\} 1\n`).Match(metrics) {
		t.Error("metrics do not count the gRPC prediction under protocol v2-grpc")
	}

	// A health Watch stream, as gRPC clients and load balancers hold one:
	// SERVING now, NOT_SERVING on SIGTERM, and it must not hold shutdown.
	watch, err := health.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := watch.Recv(); err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health Watch: %v, %v; want SERVING", h, err)
	}

	// A slow request: headers and half the body now, the rest after SIGTERM.
	body := `{"PULocationID": 74, "DOLocationID": 75}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(100 * time.Millisecond) // the server is now reading the body
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if resp, err := http.Get(base + "/readyz"); err == nil {
		if resp.StatusCode != 503 {
			t.Errorf("readyz during drain: %d; want 503", resp.StatusCode)
		}
		resp.Body.Close()
	} else {
		t.Errorf("readyz during drain: %v", err)
	}
	if h, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || h.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health during drain: %v, %v; want NOT_SERVING", h, err)
	}
	if h, err := watch.Recv(); err != nil || h.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health Watch during drain: %v, %v; want NOT_SERVING", h, err)
	}
	time.Sleep(400 * time.Millisecond) // past the drain delay: shutdown is waiting for us
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	slow, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow request: %v\n%s", err, logs)
	}
	if slow.StatusCode != 200 {
		t.Errorf("slow request finished with %d", slow.StatusCode)
	}
	slow.Body.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("did not exit within the grace period\n%s", logs)
	}
}

// freeAddr returns a free loopback host:port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
