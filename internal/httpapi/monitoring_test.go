package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc/tlctest"
	"github.com/taxieta/taxieta/internal/trip"
)

// newMonitoredServer is a server whose Service feeds a live drift monitor,
// as `taxieta serve` wires them.
func newMonitoredServer(t testing.TB, models serving.Models) *Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	mon, err := live.New(models.Default, live.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serving.New(models, serving.Options{Registerer: reg, Observer: mon})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Version, cfg.LogRequests, cfg.Monitor = "test", false, mon
	s, err := NewServer(cfg, svc, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bareModels serves the default model with its drift profile removed, as
// an artifact trained before taxieta kept one.
func bareModels(t testing.TB) *serving.Static {
	t.Helper()
	mv := defaultModels(t).Default()
	a := *mv.Artifact
	a.Profile = nil
	return serving.NewStatic(&serving.ModelVersion{Artifact: &a, Name: mv.Name, Version: mv.Version, Source: mv.Source})
}

// externalURL finds a reference to anything outside the server.
var externalURL = regexp.MustCompile(`(?i)https?://|(?:src|href|action)\s*=\s*"//`)

// TestMonitoringPage checks the page's answer with monitoring on, with no
// monitor in the process, and with a model that has no drift profile: 200,
// HTML, nothing fetched from outside the server (page, script and styles),
// and "monitoring is off" said in the page itself when it is.
func TestMonitoringPage(t *testing.T) {
	tests := []struct {
		name    string
		srv     *Server
		enabled bool
		want    string
	}{
		{"monitored", newMonitoredServer(t, defaultModels(t)), true, "Monitoring <strong>taxi-duration</strong> version <strong>3</strong>"},
		{"no monitor", newTestServer(t, defaultModels(t), nil), false, "Monitoring is off:</strong> drift monitoring is not running in this process"},
		{"no profile", newMonitoredServer(t, bareModels(t)), false, "Monitoring is off:</strong> the model has no drift profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(tt.srv, "GET", PathMonitoringPage, "", "")
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", PathMonitoringPage, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			body := w.Body.String()
			if !strings.Contains(body, tt.want) {
				t.Errorf("the page does not say %q:\n%s", tt.want, body)
			}
			if strings.Contains(body, `id="panels" hidden`) == tt.enabled {
				t.Errorf("charts hidden %v with monitoring enabled %v", !tt.enabled, tt.enabled)
			}
			if m := externalURL.FindString(body); m != "" {
				t.Errorf("the page refers outside the server: %q", m)
			}
			if i := strings.Index(body, "%!"); i >= 0 {
				t.Errorf("formatting error: %q", body[i:min(i+60, len(body))])
			}
			refs := regexp.MustCompile(`(?:src|href)="\.\./(ui/[^"]+)"`).FindAllStringSubmatch(body, -1)
			if len(refs) != 4 {
				t.Fatalf("the page links %d ui assets, want the icon, two style sheets and the script", len(refs))
			}
			for _, ref := range refs {
				a := do(tt.srv, "GET", "/"+ref[1], "", "")
				if a.Code != http.StatusOK {
					t.Fatalf("GET /%s: %d", ref[1], a.Code)
				}
				// The script names the SVG namespace, which is no fetch.
				text := strings.ReplaceAll(a.Body.String(), "http://www.w3.org/2000/svg", "")
				if m := externalURL.FindString(text); m != "" {
					t.Errorf("/%s refers outside the server: %q", ref[1], m)
				}
			}
		})
	}
	home := do(tests[0].srv, "GET", "/", "", "", "Accept", "text/html")
	if !strings.Contains(home.Body.String(), `href="monitoring/page"`) {
		t.Errorf("the home page does not link the monitoring page")
	}
}

// TestMonitoringDistributions: the window counts of every feature add up
// to the trips predicted, next to the reference's.
func TestMonitoringDistributions(t *testing.T) {
	s := newMonitoredServer(t, defaultModels(t))
	trips := make([]trip.Trip, 250)
	for i := range trips {
		trips[i] = trip.Trip{PULocationID: uint16(1 + i%263), DOLocationID: 132, Passengers: 1, Pickup: time.Date(2024, 3, 4, i%24, 0, 0, 0, time.UTC)}
	}
	s.svc.PredictBatch(serving.Call{Protocol: serving.REST}, s.svc.Current(), trips, make([]trip.Prediction, len(trips)))
	w := do(s, "GET", PathMonitoringDistributions, "", "")
	var d live.Distributions
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", PathMonitoringDistributions, w.Code, err, w.Body)
	}
	if !d.Enabled || len(d.Reference) != 5 || len(d.Windows) != 2 {
		t.Fatalf("distributions: enabled %v, %d reference features, %d windows", d.Enabled, len(d.Reference), len(d.Windows))
	}
	for _, win := range d.Windows {
		if win.Trips != int64(len(trips)) || len(win.Features) != len(d.Reference) {
			t.Fatalf("window %s: %d trips, %d features", win.Window, win.Trips, len(win.Features))
		}
		for i, f := range win.Features {
			ref := d.Reference[i]
			var n int64
			for _, c := range f.Counts {
				n += c
			}
			if f.Feature != ref.Feature || len(f.Counts) != len(ref.Counts) || n != win.Trips {
				t.Errorf("window %s %s: %d bins summing to %d; reference %s has %d bins", win.Window, f.Feature, len(f.Counts), n, ref.Feature, len(ref.Counts))
			}
		}
	}
	if d := decode[live.Distributions](t, do(newTestServer(t, defaultModels(t), nil), "GET", PathMonitoringDistributions, "", "")); d.Enabled || d.Reason == "" {
		t.Errorf("without a monitor: %+v", d)
	}
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return v
}

// TestMonitoringPageInChromium loads the monitoring page in a real
// headless Chromium after 400 real trips of green 2021-01 (a period the
// default model did not learn from) went through the prediction seam, and
// checks that it shows the pickup-zone drift flagged and draws its charts
// from non-zero counts; then that a model without a drift profile gets a
// page saying monitoring is off.
func TestMonitoringPageInChromium(t *testing.T) {
	chromium := testenv.Service(t, "TAXIETA_CHROMIUM")
	dir := testenv.DataDir(t)
	artifacts := os.Getenv("TAXIETA_ARTIFACTS_DIR")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	s := newMonitoredServer(t, defaultModels(t))
	trips := tlctest.Spread(tlctest.CleanTrips(t, filepath.Join(dir, "green_tripdata_2021-01.parquet")), 400)
	for i := 0; i < len(trips); i += 100 {
		batch := trips[i:min(i+100, len(trips))]
		s.svc.PredictBatch(serving.Call{Protocol: serving.REST}, s.svc.Current(), batch, make([]trip.Prediction, len(batch)))
	}
	snap := s.cfg.Monitor.Snapshot()
	if len(snap.Windows) == 0 || !snap.Windows[0].Features[0].Flag {
		t.Fatalf("400 trips of green 2021-01 do not flag pickup_zone through /monitoring: %+v", snap)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	bare := httptest.NewServer(newMonitoredServer(t, bareModels(t)))
	defer bare.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var chromiumLog lockedBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&chromiumLog),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v\n%s", chromium, err, chromiumLog.String())
	}

	t.Run("drifted", func(t *testing.T) {
		p := &pageTest{srv: srv, browser: browserCtx, artifacts: artifacts}
		tb := p.openPage(t, PathMonitoringPage)
		tb.waitJS(`document.getElementById('monitoring').dataset.ready === 'true'`)
		type row struct{ Flag, Computed, Text string }
		pickup := js[row](tb, `(() => { const r = document.querySelector('#scores tr[data-window="1h"][data-feature="pickup_zone"]');
			return r ? {Flag: r.dataset.flag, Computed: r.dataset.computed, Text: r.textContent + ' class=' + r.className} : {}; })()`)
		if pickup.Flag != "true" || !strings.Contains(pickup.Text, "FLAGGED") || !strings.Contains(pickup.Text, "class=flagged") {
			t.Errorf("the page does not show pickup_zone flagged in the last hour: %+v", pickup)
		}
		if got := js[int](tb, `document.querySelectorAll('#scores tbody tr').length`); got != 10 {
			t.Errorf("%d score rows, want 5 features × 2 windows", got)
		}
		if got := tb.text("dist-trips"); !strings.HasPrefix(got, "400 trips in the last 1h") {
			t.Errorf("trips shown: %q", got)
		}
		for _, chart := range []string{"pickup_zone", "dropoff_zone", "estimate", "passenger_category"} {
			type bars struct{ Ref, Now, Tall int }
			b := js[bars](tb, `(() => { const c = document.getElementById('chart-`+chart+`');
				const h = sel => Array.from(c.querySelectorAll(sel)).filter(r => Number(r.getAttribute('height')) > 0).length;
				return {Ref: c.querySelectorAll('svg rect.ref').length, Now: c.querySelectorAll('svg rect.now').length, Tall: h('svg rect.now')}; })()`)
			if b.Ref == 0 || b.Ref != b.Now || b.Tall == 0 {
				t.Errorf("chart %s: %d reference bars, %d now bars, %d of them non-zero", chart, b.Ref, b.Now, b.Tall)
			}
		}
		if got := js[int](tb, `document.querySelectorAll('#chart-pickup_zone svg rect.now').length`); got < 5 {
			t.Errorf("pickup zones grouped into %d boroughs", got)
		}
		if got := js[int](tb, `document.querySelectorAll('#chart-hour_of_week svg polyline').length`); got != 2 {
			t.Errorf("hour of week: %d lines, want the reference and now", got)
		}
		// The hour of week is never scored in a sliding window (its first and
		// last hours are partial; see drift.ScoreSpan), so it has no series.
		if got := js[int](tb, `document.querySelectorAll('#history svg polyline.series').length`); got != 4 {
			t.Errorf("scores over time: %d series, want one per scored feature (4: all but the hour of week)", got)
		}
		tb.screenshot("monitoring-drifted.png")
	})
	t.Run("no profile", func(t *testing.T) {
		p := &pageTest{srv: bare, browser: browserCtx, artifacts: artifacts}
		tb := p.openPage(t, PathMonitoringPage)
		if got := tb.text("monitoring-off"); !strings.Contains(got, "Monitoring is off") || !strings.Contains(got, "no drift profile") {
			t.Errorf("the page says %q", got)
		}
		if !js[bool](tb, `document.getElementById('panels').hidden`) {
			t.Errorf("charts shown with monitoring off")
		}
		tb.screenshot("monitoring-off.png")
	})
}
