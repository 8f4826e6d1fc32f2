package stream

import (
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc/tlctest"
	"github.com/taxieta/taxieta/internal/trip"
)

// realEvents are ride events of n trips spread through a real TLC file,
// ids prefixed with prefix.
func realEvents(t *testing.T, file, prefix string, n int) []event {
	t.Helper()
	trips := tlctest.Spread(tlctest.CleanTrips(t, filepath.Join(testenv.DataDir(t), file)), n)
	evs := make([]event, len(trips))
	for i, tr := range trips {
		pc := fmt.Sprint(tr.Passengers)
		if tr.Passengers == trip.NoPassengers {
			pc = "null"
		}
		id := fmt.Sprintf("%s%d", prefix, i)
		evs[i] = event{
			data: fmt.Appendf(nil, `{"ride_id":%q,"ride":{"PULocationID":%d,"DOLocationID":%d,"passenger_count":%s,"pickup_datetime":"%s"}}`,
				id, tr.PULocationID, tr.DOLocationID, pc, tr.Pickup.Format(time.DateTime)),
			rideID: id, trip: tr,
		}
	}
	return evs
}

// TestCLIDriftMetrics runs `taxieta stream` against the real nats-server
// and reads its drift metrics on --metrics-addr, as Prometheus would: with
// 2,000 trips of a month the default model was trained on (green 2023-02)
// every feature of both windows is scored (but a sliding window's hour of
// week) and none is flagged; 3,000 yellow-taxi trips later every scored
// feature is flagged in both windows.
func TestCLIDriftMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds taxieta")
	}
	url := testenv.Service(t, "TAXIETA_NATS_URL")
	green := realEvents(t, "green_tripdata_2023-02.parquet", "g", 2000)
	yellow := realEvents(t, "yellow_tripdata_sample_2019-03.csv", "y", 3000)
	bin := buildTaxieta(t)
	nc, js := connect(t, url)
	top := testTopologyNames()
	deleteStreamsAtCleanup(t, js, top)
	metricsAddr := freeAddr(t)
	p := startProc(t, bin, "drift", append(topologyArgs(top), "--nats", url, "--metrics-addr", metricsAddr, "--fetch-wait", "200ms")...)
	waitFor(t, "the consumer", 30*time.Second, func() bool {
		_, err := js.Consumer(t.Context(), top.Stream, top.Durable)
		return err == nil
	})
	metrics := "http://" + metricsAddr + "/metrics"
	features := []string{"pickup_zone", "dropoff_zone", "passenger_category", "hour_of_week", "estimate"}
	check := func(trips float64, flagged map[string][]string) {
		t.Helper()
		waitFor(t, "every estimate", time.Minute, func() bool { return storedMsgs(t, js, top.OutStream) == uint64(trips) })
		got := scrape(t, metrics)
		if v := got["taxieta_monitoring_enabled"]; v != 1 {
			t.Errorf("taxieta_monitoring_enabled = %v; want 1", v)
		}
		for _, w := range []string{"1h", "24h"} {
			if v := got[fmt.Sprintf(`taxieta_drift_window_trips{window=%q}`, w)]; v != trips {
				t.Errorf("%s window: %v trips; want %v", w, v, trips)
			}
			for _, f := range features {
				l := fmt.Sprintf(`{feature=%q,window=%q}`, f, w)
				score, scored := got["taxieta_drift_score"+l]
				threshold := got["taxieta_drift_threshold"+l]
				flag, ok := got["taxieta_drift_flag"+l]
				t.Logf("%d trips, %s %s: score %.4f (scored %v) threshold %.4f flag %v", int(trips), w, f, score, scored, threshold, flag)
				if _, ok := got["taxieta_drift_unknown_share"+l]; !ok {
					t.Errorf("no taxieta_drift_unknown_share%s", l)
				}
				if f == "hour_of_week" {
					if scored || flag != 0 || !ok {
						t.Errorf("%s %s: scored %v, flag %v (present %v); a sliding window's hour of week is not scored", w, f, scored, flag, ok)
					}
					continue
				}
				if !scored || !(threshold > 0) || !ok {
					t.Errorf("%s %s: score present %v, threshold %v, flag present %v", w, f, scored, threshold, ok)
				}
				if want := slices.Contains(flagged[w], f); (flag == 1) != want || (score > threshold) != want {
					t.Errorf("%s %s: score %.4f, threshold %.4f, flag %v; want flagged %v", w, f, score, threshold, flag, want)
				}
			}
		}
	}
	publish(t, nc, js, top, green)
	check(2000, nil)
	// Message ids are by position: the green events are not stored twice.
	publish(t, nc, js, top, append(green, yellow...))
	// The trips are spread over a month's hours, so both windows are held
	// to the thresholds of windows spread as widely.
	all := []string{"pickup_zone", "dropoff_zone", "passenger_category", "estimate"}
	check(5000, map[string][]string{"1h": all, "24h": all})
	if err := p.signal(t, syscall.SIGTERM); err != nil {
		t.Errorf("after SIGTERM: %v (want exit status 0)", err)
	}
}
