package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/testenv"
)

// promtool is the promtool the test script installed (scripts/services/promtool.sh).
func promtool(t *testing.T) string {
	t.Helper()
	return testenv.Service(t, "TAXIETA_PROMTOOL")
}

// runPromtool runs promtool with args in dir, with stdin, failing the test
// with its output when it exits non-zero.
func runPromtool(t *testing.T, dir string, stdin io.Reader, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The alert rules are valid, and their unit tests (every alert firing and
// not firing) pass.
func TestPrometheusAlertRules(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	runPromtool(t, dir, nil, "check", "rules", "alerts.yaml")
	out := runPromtool(t, dir, nil, "test", "rules", "alerts_test.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: no SUCCESS:\n%s", out)
	}
}

// Every alert of alerts.yaml has a unit test.
func TestPrometheusEveryAlertTested(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	rules := readFile(t, filepath.Join(dir, "alerts.yaml"))
	tests := readFile(t, filepath.Join(dir, "alerts_test.yaml"))
	n := 0
	for _, line := range strings.Split(rules, "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "- alert: ")
		if !ok {
			continue
		}
		n++
		if c := strings.Count(tests, "alertname: "+name+"\n"); c < 2 {
			t.Errorf("alert %s: %d evaluations in alerts_test.yaml, want firing and not firing", name, c)
		}
	}
	if n == 0 {
		t.Fatal("alerts.yaml: no alerts found")
	}
	// The runbooks point at the README section that explains them.
	if !strings.Contains(readFile(t, filepath.Join(repoRoot(t), "README.md")), "\n## Is the model still right?\n") ||
		strings.Count(rules, "runbook_url: \"https://github.com/taxieta/taxieta#is-the-model-still-right\"") != n {
		t.Error("every runbook_url must point at the README section \"Is the model still right?\"")
	}
	// Each alert carries a severity, a summary, a description and a runbook.
	for _, key := range []string{"severity: ", "summary: ", "description: ", "runbook_url: "} {
		if c := strings.Count(rules, "\n          "+key); c != n {
			t.Errorf("alerts.yaml: %d alerts with %s, want all %d", c, strings.TrimSpace(key), n)
		}
	}
}

// readFile returns a file's contents, failing the test if it cannot be read.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The exposition of a real `taxieta serve` is lint-clean for promtool.
func TestPrometheusMetricsLint(t *testing.T) {
	tool := promtool(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, taxietaBinary(t), "serve", "--addr="+addr, "--grpc-addr=off")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	var body []byte
	for i := 0; i < 200; i++ {
		// One prediction first, so that the request and prediction series exist.
		resp, err := http.Post("http://"+addr+"/predict", "application/json",
			strings.NewReader(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}`))
		if err == nil {
			resp.Body.Close()
			if m, err := http.Get("http://" + addr + "/metrics"); err == nil {
				body, err = io.ReadAll(m.Body)
				m.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body == nil {
		t.Fatalf("taxieta serve on %s did not answer:\n%s", addr, logs.String())
	}
	for _, name := range []string{"taxieta_http_requests_total", "taxieta_predictions_total", "taxieta_model_loaded"} {
		if !bytes.Contains(body, []byte(name)) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	c := exec.Command(tool, "check", "metrics")
	c.Stdin = bytes.NewReader(body)
	if out, err := c.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// Prometheus and Grafana in compose.yaml: pinned images, the files of
// deploy/ mounted where prometheus.yml and the provisioning expect them, and
// scrape targets that are the app's and the stream consumer's listen ports.
func TestComposeMonitoring(t *testing.T) {
	p := loadCompose(t)
	root := repoRoot(t)
	mounts := func(name string) map[string]string {
		m := map[string]string{}
		for _, v := range service(t, p, name).Volumes {
			m[v.Target] = v.Source
		}
		return m
	}
	tests := []struct {
		service, target, source string
	}{
		{"prometheus", "/etc/prometheus/prometheus.yml", "deploy/prometheus/prometheus.yml"},
		{"prometheus", "/etc/prometheus/alerts.yaml", "deploy/prometheus/alerts.yaml"},
		{"grafana", "/etc/grafana/provisioning", "deploy/grafana/provisioning"},
		{"grafana", "/var/lib/grafana/dashboards/taxieta.json", "deploy/grafana/dashboard.json"},
	}
	for _, tt := range tests {
		if got := mounts(tt.service)[tt.target]; got != filepath.Join(root, tt.source) {
			t.Errorf("%s mounts %q at %s, want %s", tt.service, got, tt.target, tt.source)
		}
	}
	for _, name := range []string{"prometheus", "grafana"} {
		img := service(t, p, name).Image
		if _, tag, ok := strings.Cut(img, ":"); !ok || tag == "" || tag == "latest" {
			t.Errorf("%s image %q: want a pinned tag", name, img)
		}
	}
	conf := readFile(t, filepath.Join(root, "deploy", "prometheus", "prometheus.yml"))
	if !strings.Contains(conf, "/etc/prometheus/alerts.yaml") {
		t.Error("prometheus.yml does not load /etc/prometheus/alerts.yaml")
	}
	app := service(t, p, "app")
	stream := service(t, p, "stream")
	for _, target := range []string{
		fmt.Sprintf("app:%d", addrPort(t, env(app, "TAXIETA_ADDR"))),
		fmt.Sprintf("stream:%d", addrPort(t, env(stream, "TAXIETA_METRICS_ADDR"))),
	} {
		if !strings.Contains(conf, `"`+target+`"`) {
			t.Errorf("prometheus.yml does not scrape %s", target)
		}
	}
	ds := readFile(t, filepath.Join(root, "deploy", "grafana", "provisioning", "datasources", "prometheus.yaml"))
	if !strings.Contains(ds, "url: http://prometheus:9090") || !strings.Contains(ds, "uid: prometheus") {
		t.Error("grafana data source is not http://prometheus:9090 with uid prometheus")
	}
}
