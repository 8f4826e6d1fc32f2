package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc/tlctest"
	"github.com/taxieta/taxieta/internal/trip"
)

// driftCases are the acceptance months: one inside the default model's
// training months, one a year later, one three years earlier and a
// yellow-taxi sample.
var driftCases = []struct {
	file       string
	pickupFlag bool // and no flag on any feature when false
}{
	{"green_tripdata_2023-02.parquet", false},
	{"green_tripdata_2024-03.parquet", false},
	{"green_tripdata_2021-01.parquet", true},
	{"yellow_tripdata_sample_2019-03.csv", true},
}

// TestDriftThroughMonitoring sends 20,000 trips of each month (evenly
// spread through it) to a real `taxieta serve` with the default model and
// reads the drift from GET /monitoring; then scores the whole file with
// `taxieta predict --json` and reads the drift it reports.
func TestDriftThroughMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	dir := testenv.DataDir(t)
	bin := buildBinary(t)
	pickup := map[string]float64{}
	for _, tt := range driftCases {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			trips := tlctest.Spread(tlctest.CleanTrips(t, path), 20000)
			_, base, _ := startServer(t, bin)
			for i := 0; i < len(trips); i += 5000 {
				postBatch(t, base, trips[i:min(i+5000, len(trips))])
			}
			resp, err := http.Get(base + "/monitoring")
			if err != nil {
				t.Fatal(err)
			}
			var snap live.Snapshot
			err = json.NewDecoder(resp.Body).Decode(&snap)
			resp.Body.Close()
			if err != nil || !snap.Enabled || len(snap.Windows) != 2 {
				t.Fatalf("/monitoring: %v, %+v", err, snap)
			}
			for _, w := range snap.Windows {
				if w.Trips != int64(len(trips)) {
					t.Errorf("window %s counted %d trips; sent %d", w.Window, w.Trips, len(trips))
				}
				checkDrift(t, "/monitoring "+w.Window, w, tt.pickupFlag)
			}
			pickup[tt.file] = snap.Windows[0].Features[0].Score

			out := filepath.Join(t.TempDir(), "out.parquet")
			b, err := exec.Command(bin, "predict", "--in", path, "--out", out, "--json").Output()
			if err != nil {
				t.Fatalf("predict: %v", err)
			}
			var sum struct {
				Drift *live.WindowSnapshot `json:"drift"`
			}
			if err := json.Unmarshal(b, &sum); err != nil || sum.Drift == nil {
				t.Fatalf("predict --json: %v, drift %v", err, sum.Drift)
			}
			checkDrift(t, "predict", *sum.Drift, tt.pickupFlag)
		})
	}
	t.Logf("pickup_zone scores of 20,000 trips through /monitoring: %v", pickup)
	if s := pickup["green_tripdata_2024-03.parquet"]; s <= pickup["green_tripdata_2023-02.parquet"] || s >= pickup["green_tripdata_2021-01.parquet"] {
		t.Errorf("want the 2024-03 pickup_zone score between 2023-02's and 2021-01's: %v", pickup)
	}
}

func checkDrift(t *testing.T, where string, w live.WindowSnapshot, pickupFlag bool) {
	t.Helper()
	for _, f := range w.Features {
		t.Logf("%s: %-18s %.4f (threshold %.4f, against the %s) flag %v", where, f.Feature, f.Score, f.Threshold, f.Reference, f.Flag)
		if f.NotScored != "" {
			// A sliding window's hour of week is not scored; a batch
			// run's file is.
			if f.Feature != "hour_of_week" || w.Seconds == 0 || f.Computed || f.Flag {
				t.Errorf("%s: %s not scored (%s): %+v", where, f.Feature, f.NotScored, f)
			}
			continue
		}
		if !f.Computed {
			t.Errorf("%s: %s not computed on %d trips", where, f.Feature, f.Trips)
		}
		if !pickupFlag && f.Flag {
			t.Errorf("%s: %s flagged (%.4f > %.4f)", where, f.Feature, f.Score, f.Threshold)
		}
	}
	if got := w.Features[0].Flag; got != pickupFlag {
		t.Errorf("%s: pickup_zone flag %v; want %v (score %.4f, threshold %.4f)", where, got, pickupFlag, w.Features[0].Score, w.Features[0].Threshold)
	}
}

// postBatch sends trips to /predict/batch and wants 200.
func postBatch(t *testing.T, base string, trips []trip.Trip) {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte('[')
	for i, tr := range trips {
		if i > 0 {
			b.WriteByte(',')
		}
		pass := "null"
		if tr.Passengers != trip.NoPassengers {
			pass = fmt.Sprint(tr.Passengers)
		}
		fmt.Fprintf(&b, `{"PULocationID":%d,"DOLocationID":%d,"passenger_count":%s,"pickup_datetime":%q}`,
			tr.PULocationID, tr.DOLocationID, pass, tr.Pickup.Format("2006-01-02T15:04:05"))
	}
	b.WriteByte(']')
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(base+"/predict/batch", "application/json", &b)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/predict/batch: status %d", resp.StatusCode)
	}
}
