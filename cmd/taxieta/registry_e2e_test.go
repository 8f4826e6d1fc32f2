package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/testenv"
)

// startMLflow starts a private MLflow server (so the test may kill it) from
// the venv scripts/services/mlflow.sh installs. It returns the URL, the
// artifact folder and a kill function.
func startMLflow(t *testing.T) (string, string, func()) {
	t.Helper()
	testenv.Service(t, "TAXIETA_MLFLOW_URI") // the venv exists once the shared server runs
	bin := filepath.Join(testenv.RepoRoot(), ".cache", "venv-mlflow", "bin", "mlflow")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mlflow not installed at %s: %v", bin, err)
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "server", "--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "artifacts"), "--serve-artifacts",
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--workers", "1")
	cmd.Env = append(os.Environ(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, _ := os.Create(filepath.Join(dir, "server.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_, _ = cmd.Process.Wait()
		})
	}
	t.Cleanup(kill)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, filepath.Join(dir, "artifacts"), kill
			}
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	t.Fatalf("mlflow did not start:\n%s", b)
	return "", "", nil
}

func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("taxieta %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestServeFollowsMLflowAlias is the registry story end to end, with real
// processes: train and register in MLflow, serve by alias, move the alias to
// a better version while a load generator runs (zero errors), refuse a
// corrupted version, survive MLflow's death, and restart from the cache.
func TestServeFollowsMLflowAlias(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MLflow and the real binary")
	}
	data := testenv.DataDir(t)
	mlflowURL, artifacts, killMLflow := startMLflow(t)
	bin := buildBinary(t)
	tmp := t.TempDir()
	reg := []string{"--registry", mlflowURL}
	train := func(spec, out string, extra ...string) {
		args := append([]string{"train", "--data-dir", data, "--train", spec, "--out", filepath.Join(tmp, out), "--register", "taxi-duration"}, reg...)
		runCLI(t, bin, append(args, extra...)...)
	}
	train("green:2023-01", "v1.taxieta", "--alias", "champion")

	cache := filepath.Join(tmp, "cache")
	admin := "s3cret"
	cmd, base, logs := startServer(t, bin, "--model", "models:/taxi-duration@champion", "--registry", mlflowURL,
		"--cache-dir", cache, "--reload-interval", "300ms", "--admin-token", admin)

	// The load generator: sequential requests from 4 workers until stopped.
	var sent, failed atomic.Int64
	var lastVersion atomic.Value
	lastVersion.Store("")
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Post(base+"/predict", "application/json", strings.NewReader(`{"PULocationID": 132, "DOLocationID": 230, "passenger_count": 1}`))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				var p struct{ Model struct{ Version string } }
				if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&p) != nil {
					failed.Add(1)
				} else {
					lastVersion.Store(p.Model.Version)
				}
				resp.Body.Close()
			}
		}()
	}
	waitVersion := func(v string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if lastVersion.Load() == v {
				return
			}
		}
		t.Fatalf("the server never served version %s (last %v)\n%s", v, lastVersion.Load(), logs)
	}
	waitVersion("1")

	// A better version (two months of data); moving the alias swaps it in.
	train("green:2023-01..2023-02", "v2.taxieta")
	runCLI(t, bin, append([]string{"model", "alias", "taxi-duration", "champion", "2"}, reg...)...)
	waitVersion("2")

	// A corrupted version 3 is refused; version 2 keeps serving.
	train("green:2023-03", "v3.taxieta")
	newest, newestTime := "", time.Time{}
	_ = filepath.WalkDir(artifacts, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".taxieta") {
			if info, err := d.Info(); err == nil && info.ModTime().After(newestTime) {
				newest, newestTime = p, info.ModTime()
			}
		}
		return nil
	})
	b, err := os.ReadFile(newest)
	if err != nil {
		t.Fatalf("find version 3's artifact in %s: %v", artifacts, err)
	}
	b[len(b)/3] ^= 1
	if err := os.WriteFile(newest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, bin, append([]string{"model", "alias", "taxi-duration", "champion", "3"}, reg...)...)
	req, _ := http.NewRequest("POST", base+"/admin/reload", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("reload to a corrupted version: %d %s; want 502", resp.StatusCode, body)
	}
	time.Sleep(time.Second)
	if v := lastVersion.Load(); v != "2" {
		t.Errorf("serving %v after the corrupted version; want 2", v)
	}

	// MLflow dies: serving goes on, readiness stays true, errors are counted.
	killMLflow()
	time.Sleep(1500 * time.Millisecond)
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("readyz with MLflow down: %v %v", resp, err)
	}
	stop()
	wg.Wait()
	metrics := scrape(t, base)
	t.Logf("load generator: %d requests, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 || sent.Load() < 100 {
		t.Errorf("%d of %d requests failed; want none of at least 100", failed.Load(), sent.Load())
	}
	for _, want := range []string{`taxieta_model_swaps_total{result="swapped"} 1`, `taxieta_model_swaps_total{result="refused"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, "taxieta_registry_errors_total 0\n") {
		t.Error("registry errors were not counted while MLflow was down")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}

	// A restart with MLflow still down serves the cached copy, and says so.
	_, base2, logs2 := startServer(t, bin, "--model", "models:/taxi-duration@champion", "--registry", mlflowURL, "--cache-dir", cache)
	resp, err = http.Post(base2+"/predict", "application/json", strings.NewReader(`{"PULocationID": 1, "DOLocationID": 2}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("predict from the cached copy: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(logs2.String(), "cached copy") {
		t.Errorf("the server did not say it serves a cached copy:\n%s", logs2)
	}
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
