package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/accuracy"
	"github.com/taxieta/taxieta/internal/testenv"
)

// TestMonitorReproducesPredict: monitor on a batch output of green 2024-03
// reports the RMSE and range share predict printed for the same file.
func TestMonitorReproducesPredict(t *testing.T) {
	data := testenv.DataDir(t)
	tmp := t.TempDir()
	c := cli{t: t, env: map[string]string{"TAXIETA_CACHE_DIR": filepath.Join(tmp, "cache")}}
	out := filepath.Join(tmp, "scored.parquet")
	var sum struct {
		Evaluation struct {
			Metrics struct {
				Rows                     int64    `json:"rows"`
				RMSEWithTime             *float64 `json:"rmse_with_time"`
				IntervalCoverageWithTime *float64 `json:"interval_coverage_with_time"`
			} `json:"metrics"`
		} `json:"evaluation"`
	}
	if err := json.Unmarshal([]byte(c.must("predict", "--in", filepath.Join(data, "green_tripdata_2024-03.parquet"), "--out", out, "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(tmp, "report.html")
	var rep struct {
		Overall struct {
			Metrics struct {
				Rows             int64   `json:"rows"`
				RMSE             float64 `json:"rmse"`
				IntervalCoverage float64 `json:"interval_coverage"`
			} `json:"metrics"`
		} `json:"overall"`
		Days []struct{ Day string } `json:"days"`
	}
	if err := json.Unmarshal([]byte(c.must("monitor", "--estimates", out, "--actuals", "green:2024-03", "--data-dir", data, "--json", "--html", html)), &rep); err != nil {
		t.Fatal(err)
	}
	m, want := rep.Overall.Metrics, sum.Evaluation.Metrics
	if want.RMSEWithTime == nil || m.RMSE != *want.RMSEWithTime || m.IntervalCoverage != *want.IntervalCoverageWithTime || m.Rows != want.Rows {
		t.Errorf("monitor says %+v; predict said RMSE %v, in range %v on %d rows", m, want.RMSEWithTime, want.IntervalCoverageWithTime, want.Rows)
	}
	if len(rep.Days) < 31 {
		t.Errorf("%d days", len(rep.Days))
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "<svg") || strings.Contains(string(page), "<script") || strings.Contains(string(page), "http://") && !strings.Contains(string(page), "http://www.w3.org/2000/svg") {
		t.Errorf("the HTML report is not a self-contained page with charts (%v)", err)
	}

	cut := filepath.Join(tmp, "cut.parquet")
	b, _ := os.ReadFile(out)
	_ = os.WriteFile(cut, b[:len(b)/3], 0o644)
	for _, tt := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"monitor", "--actuals", "green:2024-03"}, "--estimates is required", true},
		{[]string{"monitor", "--estimates", out}, "--actuals is required", true},
		{[]string{"monitor", "--estimates", cut, "--actuals", "green:2024-03", "--data-dir", data}, "cut.parquet is not a complete parquet file", false},
		{[]string{"monitor", "--estimates", out, "--actuals", "green:2024-03", "--data-dir", data, "--html", filepath.Join(tmp, "no", "r.html")}, "its directory does not exist", true},
		{[]string{"monitor", "--estimates", out, "--actuals", "green:2024-03", "--data-dir", data, "--min-minutes", "9", "--max-minutes", "2"}, "want 0 <= min < max", true},
	} {
		_, _, err := c.run(tt.args...)
		var u usageError
		if err == nil || !strings.Contains(err.Error(), tt.want) || errors.As(err, &u) != tt.usage {
			t.Errorf("taxieta %s: %v; want %q (usage %v)", strings.Join(tt.args, " "), err, tt.want, tt.usage)
		}
	}
}

// TestMonitorDrift: the report scores the judged trips against the default
// model's drift profile; --fail-on-drift passes on a month the model was
// trained on (green 2023-02) and exits exitDrift, after writing the report,
// naming pickup_zone, on green 2021-01.
func TestMonitorDrift(t *testing.T) {
	data := testenv.DataDir(t)
	tmp := t.TempDir()
	c := cli{t: t, env: map[string]string{"TAXIETA_CACHE_DIR": filepath.Join(tmp, "cache")}}
	for _, tt := range []struct {
		month       string
		pickupFlag  bool
		wantExit    int
		wantMessage string
	}{
		{"2023-02", false, 0, ""},
		{"2021-01", true, exitDrift, "drift from the model's training data in pickup_zone"},
	} {
		t.Run(tt.month, func(t *testing.T) {
			out := filepath.Join(tmp, tt.month+".parquet")
			c.must("predict", "--in", filepath.Join(data, "green_tripdata_"+tt.month+".parquet"), "--out", out)
			html := filepath.Join(tmp, tt.month+".html")
			stdout, _, err := c.run("monitor", "--estimates", out, "--actuals", "green:"+tt.month, "--data-dir", data, "--json", "--html", html, "--fail-on-drift")
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tt.wantExit || (tt.wantMessage != "" && !strings.Contains(err.Error(), tt.wantMessage)) {
				t.Fatalf("exit %d (%v); want %d %q", code, err, tt.wantExit, tt.wantMessage)
			}
			var rep struct {
				Drift struct {
					Computed bool
					Model    string
					Overall  struct {
						Trips    int64
						Features []struct {
							Feature  string
							Computed bool
							Score    float64
							Flag     bool
						}
						Flagged []string
					}
					Days []struct {
						Day      string
						Trips    int64
						Features []struct{ Computed bool }
						Note     string
					}
				}
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("the report was not written before the exit: %v", err)
			}
			d := rep.Drift
			if !d.Computed || d.Overall.Trips < 50000 || len(d.Overall.Features) != 5 {
				t.Fatalf("drift %+v", d)
			}
			for _, f := range d.Overall.Features {
				t.Logf("%s %-18s %.4f flag %v", tt.month, f.Feature, f.Score, f.Flag)
				if !f.Computed || (f.Flag && !tt.pickupFlag) || (f.Feature == "pickup_zone" && f.Flag != tt.pickupFlag) {
					t.Errorf("%s: computed %v, flag %v", f.Feature, f.Computed, f.Flag)
				}
			}
			// The few trips the file holds from outside the month make
			// days too small to score: "not computed", never NaN.
			small := 0
			for _, day := range d.Days {
				if day.Trips < 200 {
					small++
					if !strings.Contains(day.Note, "not computed") || day.Features[0].Computed {
						t.Errorf("day %s of %d trips: %+v", day.Day, day.Trips, day)
					}
				}
			}
			if small == 0 || len(d.Days) < 28 || strings.Contains(stdout, "NaN") {
				t.Errorf("%d days, %d small", len(d.Days), small)
			}
			page, err := os.ReadFile(html)
			overall := "No feature is flagged."
			if tt.pickupFlag {
				overall = `<strong class="flag">Drift: pickup_zone`
			}
			if err != nil || !strings.Contains(string(page), "Drift from the training data") || !strings.Contains(string(page), "not computed") ||
				!strings.Contains(string(page), overall) || strings.Contains(string(page), "<script") {
				t.Errorf("the HTML report lacks the drift tables or the flags (%v)", err)
			}
		})
	}
}

// TestFailOnDriftOutcome: the exit code of --fail-on-drift for each kind
// of drift report.
func TestFailOnDriftOutcome(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    *accuracy.Drift
		code int
		want string
	}{
		{"no drift", &accuracy.Drift{Computed: true, Overall: &accuracy.DriftScore{Flagged: []string{}}}, 0, ""},
		{"drift", &accuracy.Drift{Computed: true, Overall: &accuracy.DriftScore{Flagged: []string{"pickup_zone", "estimate"}}}, exitDrift, "in pickup_zone, estimate"},
		{"no profile", &accuracy.Drift{Reason: "the model m has no drift profile"}, 1, "drift not computed: the model m has no drift profile"},
		{"not asked", nil, 1, "drift not computed"},
	} {
		err := failOnDriftOutcome(tt.d)
		code := 0
		if err != nil {
			code = exitCode(err)
		}
		if code != tt.code || (tt.want != "" && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: exit %d (%v); want %d %q", tt.name, code, err, tt.code, tt.want)
		}
	}
}
