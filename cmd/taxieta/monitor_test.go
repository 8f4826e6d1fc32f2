package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
