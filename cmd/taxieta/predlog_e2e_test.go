package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/predlog"
)

// TestPredictionLogSurvivesSignals: SIGTERM loses no logged prediction, and
// SIGKILL mid-logging leaves only complete parquet files (at most a .tmp
// beside them, which readers of *.parquet never see).
func TestPredictionLogSurvivesSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := buildBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			// A new file every second, so that SIGKILL lands between complete files and one in progress.
			cmd, base, logs := startServer(t, bin, "--prediction-log", dir, "--prediction-log-rotate", "1s")
			var mu sync.Mutex
			ok := 0
			stop := make(chan struct{})
			var wg sync.WaitGroup
			client := &http.Client{Timeout: 5 * time.Second}
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						resp, err := client.Post(base+"/predict", "application/json", strings.NewReader(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}`))
						if err != nil {
							return
						}
						resp.Body.Close()
						if resp.StatusCode == 200 {
							mu.Lock()
							ok++
							mu.Unlock()
						}
					}
				})
			}
			time.Sleep(2500 * time.Millisecond)
			if sig == syscall.SIGTERM {
				close(stop)
				wg.Wait()
			}
			_ = cmd.Process.Signal(sig)
			_, _ = cmd.Process.Wait()
			if sig == syscall.SIGKILL {
				close(stop)
				wg.Wait()
			}
			files, err := predlog.Files(dir)
			if err != nil || len(files) == 0 {
				t.Fatalf("no log files (%v)\n%s", err, logs)
			}
			logged := 0
			for _, f := range files {
				recs, err := predlog.ReadFile(f)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				logged += len(recs)
			}
			tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
			entries, _ := os.ReadDir(dir)
			t.Logf("%d requests answered, %d logged in %d complete files, %d .tmp, %d entries", ok, logged, len(files), len(tmp), len(entries))
			if len(entries) != len(files)+len(tmp) {
				t.Errorf("the log directory holds other files: %v", entries)
			}
			switch sig {
			case syscall.SIGTERM:
				if logged != ok || len(tmp) != 0 {
					t.Errorf("SIGTERM: %d predictions logged of %d answered, %d .tmp left; want all, none", logged, ok, len(tmp))
				}
			case syscall.SIGKILL:
				if logged == 0 || logged > ok || len(tmp) > 1 {
					t.Errorf("SIGKILL: %d logged of %d answered, %d .tmp; want some complete files and at most one .tmp", logged, ok, len(tmp))
				}
			}
		})
	}
}
