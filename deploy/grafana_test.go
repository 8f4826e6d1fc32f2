package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// taxietaMetrics are the metric families taxieta exposes: those the code
// registers (cross-checked against a real scrape of `taxieta serve` and the
// stream consumer's registration in TestGrafanaMetricNamesExist) and the
// drift metrics of the monitoring package.
var taxietaMetrics = []string{
	"taxieta_build_info",
	"taxieta_http_requests_total",
	"taxieta_http_request_duration_seconds",
	"taxieta_predictions_total",
	"taxieta_model_info",
	"taxieta_model_loaded",
	"taxieta_model_swaps_total",
	"taxieta_registry_errors_total",
	"taxieta_prediction_log_records_total",
	"taxieta_prediction_log_dropped_total",
	"taxieta_prediction_log_write_errors_total",
	"taxieta_stream_events_in_total",
	"taxieta_stream_events_out_total",
	"taxieta_stream_events_dead_lettered_total",
	"taxieta_stream_publish_failures_total",
	"taxieta_stream_duplicates_total",
	"taxieta_stream_events_redelivered_total",
	"taxieta_stream_processing_seconds",
	"taxieta_stream_in_flight",
	"taxieta_stream_consumer_lag",
	"taxieta_stream_consumer_ack_pending",
	// Drift (issue 13 item 3).
	"taxieta_drift_score",
	"taxieta_drift_threshold",
	"taxieta_drift_flag",
	"taxieta_drift_window_trips",
	"taxieta_drift_unknown_share",
	"taxieta_monitoring_enabled",
}

// dashboard is the part of Grafana's dashboard JSON model the test reads.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// metricName matches the metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\btaxieta_[a-z0-9_]+\b`)

// knownMetric reports whether name is a taxieta metric or a series of one
// (a histogram's _bucket, _sum, _count).
func knownMetric(name string) bool {
	for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(taxietaMetrics, base) {
			return true
		}
	}
	return false
}

// Every panel queries the Prometheus data source with expressions over
// taxieta's metrics only, and every expression is valid PromQL (promtool
// parses them as recording rules).
func TestGrafanaDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q title %q with %d panels: want all", d.UID, d.Title, len(d.Panels))
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, p := range d.Panels {
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want the provisioned prometheus", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no targets", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s: no expr", p.Title, tg.RefID)
				continue
			}
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: %q uses no taxieta metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !knownMetric(n) {
					t.Errorf("panel %q: %s is no taxieta metric", p.Title, n)
				}
			}
			q, _ := json.Marshal(tg.Expr)
			fmt.Fprintf(&rules, "      - record: dashboard:panel%d_%s\n        expr: %s\n", i, tg.RefID, q)
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard_rules.yaml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, filepath.Dir(file), nil, "check", "rules", file)
}

// The metric list above is what the code registers: each name appears in a
// registration in internal/ (or is a drift metric not yet in this tree), and
// every taxieta_ metric registered there is in the list.
func TestGrafanaMetricNamesExist(t *testing.T) {
	root := repoRoot(t)
	registered := map[string]bool{}
	re := regexp.MustCompile(`"(taxieta_[a-z0-9_]+)"`)
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			registered[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range taxietaMetrics {
		if !registered[n] && !strings.HasPrefix(n, "taxieta_drift_") && n != "taxieta_monitoring_enabled" {
			t.Errorf("%s: not registered anywhere in internal/", n)
		}
	}
	for n := range registered {
		if !slices.Contains(taxietaMetrics, n) {
			t.Errorf("%s is registered in internal/ but missing from the dashboard test's list", n)
		}
	}
}
