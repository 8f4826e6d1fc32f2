package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/taxieta/taxieta/internal/testenv"
)

// TestUIAssets checks that every asset the home page links is served from
// the binary with its type and cache headers, revalidates to a 304, and that
// an unknown name is a 404 problem.
func TestUIAssets(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	home := do(s, "GET", "/", "", "", "Accept", "text/html")
	if i := strings.Index(home.Body.String(), "%!"); i >= 0 {
		t.Errorf("the home page has a formatting error: %q", home.Body.String()[i:min(i+60, home.Body.Len())])
	}
	refs := regexp.MustCompile(`(?:src|href)="/?(ui/[^"]+)"`).FindAllStringSubmatch(home.Body.String(), -1)
	if len(refs) < 3 {
		t.Fatalf("home page links %d ui assets, want the script, the styles and the icon", len(refs))
	}
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, ref := range refs {
		name := ref[1]
		w := do(s, "GET", "/"+name, "", "")
		if w.Code != http.StatusOK {
			t.Fatalf("GET /%s: %d %s", name, w.Code, w.Body)
		}
		embedded, err := uiFS.ReadFile("assets/" + name)
		if err != nil || !bytes.Equal(embedded, w.Body.Bytes()) {
			t.Errorf("GET /%s does not serve the embedded file (%v)", name, err)
		}
		h := w.Header()
		if got, want := h.Get("Content-Type"), wantType[filepath.Ext(name)]; got != want {
			t.Errorf("GET /%s: Content-Type %q, want %q", name, got, want)
		}
		if h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /%s: cache headers %q, ETag %q, nosniff %q", name, h.Get("Cache-Control"), h.Get("ETag"), h.Get("X-Content-Type-Options"))
		}
		again := do(s, "GET", "/"+name, "", "", "If-None-Match", h.Get("ETag"))
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET /%s with its ETag: %d with %d bytes, want 304 and no body", name, again.Code, again.Body.Len())
		}
	}
	for _, path := range []string{"/ui/nope.js", "/ui/..%2Fui.go", "/ui/ui", "/ui/"} {
		w := do(s, "GET", path, "", "")
		if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %s %s, want a 404 problem", path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

// TestCallCentrePageInChromium drives the call-centre page at GET / in a real
// headless Chromium: with the mouse on a desktop, with the keyboard alone, and
// with touch on a phone-sized screen. Each estimate the page shows is checked
// against POST /predict for the same trip. Screenshots go to
// $TAXIETA_ARTIFACTS_DIR (default: a temporary folder).
func TestCallCentrePageInChromium(t *testing.T) {
	chromium := testenv.Service(t, "TAXIETA_CHROMIUM")
	artifacts := os.Getenv("TAXIETA_ARTIFACTS_DIR")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newTestServer(t, defaultModels(t), nil))
	defer srv.Close()
	profile := t.TempDir()

	// One browser for the whole test; the timeout bounds all of it.
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
		// Nothing but loopback resolves, so a page that reached out would fail
		// loudly (and the request log below would name it).
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&chromiumLog), // shown when Chromium does not start
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v\n%s", chromium, err, chromiumLog.String())
	}

	p := &pageTest{srv: srv, browser: browserCtx, artifacts: artifacts}
	p.loadZones(t)
	t.Run("mouse", p.mouse)
	t.Run("keyboard", p.keyboard)
	t.Run("phone", p.phone)
}

// lockedBuffer collects Chromium's output, written by chromedp's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pageTest holds what the browser subtests share.
type pageTest struct {
	srv       *httptest.Server
	browser   context.Context
	artifacts string
	queens    int // zones in Queens, from GET /zones
}

func (p *pageTest) loadZones(t *testing.T) {
	resp, err := http.Get(p.srv.URL + "/zones")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var zr ZonesResponse
	if err := json.NewDecoder(resp.Body).Decode(&zr); err != nil {
		t.Fatal(err)
	}
	for _, z := range zr.Zones {
		if z.Borough == "Queens" {
			p.queens++
		}
	}
	if p.queens < 10 {
		t.Fatalf("only %d zones in Queens", p.queens)
	}
}

// tab is one browser tab with what it saw: every request it sent and every
// error the page logged or threw.
type tab struct {
	t   *testing.T
	ctx context.Context
	p   *pageTest

	mu       sync.Mutex
	requests []string
	problems []string
}

// newTab opens a tab, applies setup (viewport, time zone), and fails the
// test at its end if the page threw, logged an error, or sent a request
// anywhere but the test server.
func (p *pageTest) newTab(t *testing.T, setup ...chromedp.Action[chromedp.Void]) *tab {
	tb := &tab{t: t, p: p}
	ctx, cancel := chromedp.NewContext(p.browser, chromedp.WithListener(func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			tb.requests = append(tb.requests, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			tb.problems = append(tb.problems, fmt.Sprintf("exception: %s %s", ev.ExceptionDetails.Text, describe(ev.ExceptionDetails.Exception)))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				tb.problems = append(tb.problems, fmt.Sprintf("console.%s: %v", ev.Type, describeAll(ev.Args)))
			}
		case *log.EventEntryAdded:
			// The page's 422s are expected answers, not failures.
			if ev.Entry.Level == log.EntryLevelError && !strings.Contains(ev.Entry.Text, "422") {
				tb.problems = append(tb.problems, fmt.Sprintf("log: %s %s", ev.Entry.Text, ev.Entry.URL))
			}
		}
	}))
	tb.ctx = ctx
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, u := range tb.requests {
			// data: URLs are Chromium's own icons (the date and time pickers').
			if !strings.HasPrefix(u, p.srv.URL+"/") && !strings.HasPrefix(u, "data:") {
				t.Errorf("the page fetched %s, outside the server", u)
			}
		}
		for _, pr := range tb.problems {
			t.Errorf("page: %s", pr)
		}
		cancel()
	})
	tb.do(setup...)
	return tb
}

// openTab opens the call-centre page in a new tab (see newTab) and waits
// until its form is ready.
func (p *pageTest) openTab(t *testing.T, setup ...chromedp.Action[chromedp.Void]) *tab {
	tb := p.openPage(t, "/", setup...)
	tb.waitJS(`document.getElementById('trip-form').dataset.ready === 'true'`)
	return tb
}

// openPage opens the page at path in a new tab (see newTab).
func (p *pageTest) openPage(t *testing.T, path string, setup ...chromedp.Action[chromedp.Void]) *tab {
	tb := p.newTab(t, setup...)
	tb.do(chromedp.Navigate(p.srv.URL + path))
	return tb
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Value)
}

func describeAll(objs []*runtime.RemoteObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, describe(o))
	}
	return out
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatal(err)
	}
}

// js evaluates an expression in the page and decodes its value.
func js[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is truthy in the page (the test's context bounds the wait).
func (tb *tab) waitJS(expr string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		tb.t.Fatalf("waiting for %s: %v", expr, err)
	}
}

// press presses keys, with modifiers, on whatever has the focus, as a real
// keyboard does: Chrome sends a raw key down, then the character, and Blink
// drops the character when the page handled the key down (so Enter that
// chooses a zone does not also submit the form). chromedp.KeyEvent sends a
// plain "keyDown" instead, which Blink never pairs that way. (The tests do
// not use chromedp.SendKeys either: v0.23.0 reads the node's attributes
// without its lock, a data race under -race while the page changes ARIA
// attributes.)
func press(keys string, mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
	var mask int64
	for _, m := range mods {
		mask |= int64(m)
	}
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, r := range keys {
			for _, k := range kb.Encode(r) {
				k.Modifiers |= mask
				switch {
				case k.Type == kb.KeyDown:
					k.Type = input.DispatchKeyEventTypeRawKeyDown
				case k.Type == kb.KeyChar && mask&^int64(chromedp.ModifierShift) != 0:
					continue // Ctrl+A selects; it types no "a"
				}
				if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, *k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// keys presses keys on whatever has the focus.
func (tb *tab) keys(keys string, mods ...chromedp.Modifier) {
	tb.t.Helper()
	tb.do(press(keys, mods...))
}

func (tb *tab) focused() string {
	tb.t.Helper()
	return js[string](tb, `document.activeElement ? document.activeElement.id : ''`)
}

func (tb *tab) wantFocus(id string) {
	tb.t.Helper()
	if got := tb.focused(); got != id {
		tb.t.Fatalf("focus is on %q, want %q", got, id)
	}
}

func (tb *tab) value(id string) string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Value(chromedp.ID(id)))
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

func (tb *tab) text(id string) string {
	tb.t.Helper()
	return js[string](tb, `document.getElementById(`+strconv.Quote(id)+`).textContent`)
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	path := filepath.Join(tb.p.artifacts, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", path)
}

// noHorizontalScroll fails when the page is wider than the viewport.
func (tb *tab) noHorizontalScroll(when string) {
	tb.t.Helper()
	type widths struct{ Scroll, Client, Body int }
	w := js[widths](tb, `({Scroll: document.documentElement.scrollWidth, Client: document.documentElement.clientWidth, Body: document.body.scrollWidth})`)
	if w.Client == 0 || w.Scroll > w.Client || w.Body > w.Client {
		tb.t.Errorf("%s: the page scrolls sideways: scrollWidth %d (body %d) > clientWidth %d", when, w.Scroll, w.Body, w.Client)
	}
}

// options lists the ids of the options a zone list shows, in order.
func (tb *tab) options(list string) []int {
	tb.t.Helper()
	return js[[]int](tb, `Array.from(document.querySelectorAll('#`+list+` [role=option]')).map(li => Number(li.dataset.id))`)
}

// estimate is what the page shows for a trip.
type estimate struct {
	Request  TripRequest
	Minutes  float64
	Low      float64
	High     float64
	Version  string
	Headline string
	Range    string
	Model    string
	Trip     string
}

// waitEstimate waits for a fresh estimate of a trip from pickup to dropoff
// and reads it.
func (tb *tab) waitEstimate(pickup, dropoff int) estimate {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf(`(() => { const r = document.getElementById('result');
		if (r.hidden || r.hasAttribute('aria-busy') || r.classList.contains('stale') || !r.dataset.request) return false;
		const q = JSON.parse(r.dataset.request); return q.PULocationID === %d && q.DOLocationID === %d; })()`, pickup, dropoff))
	type raw struct{ Request, Minutes, Low, High, Version, Headline, Range, Model, Trip string }
	r := js[raw](tb, `(() => { const r = document.getElementById('result'), d = r.dataset, tx = id => document.getElementById(id).textContent;
		return {Request: d.request, Minutes: d.minutes, Low: d.low, High: d.high, Version: d.version,
			Headline: r.querySelector('.headline').textContent, Range: tx('result-range'), Model: tx('result-model'), Trip: tx('result-trip')}; })()`)
	var e estimate
	if err := json.Unmarshal([]byte(r.Request), &e.Request); err != nil {
		tb.t.Fatalf("the page's request %q: %v", r.Request, err)
	}
	for _, f := range []struct {
		s string
		v *float64
	}{{r.Minutes, &e.Minutes}, {r.Low, &e.Low}, {r.High, &e.High}} {
		v, err := strconv.ParseFloat(f.s, 64)
		if err != nil {
			tb.t.Fatalf("the page shows %q: %v", f.s, err)
		}
		*f.v = v
	}
	e.Version, e.Headline, e.Range, e.Model, e.Trip = r.Version, strings.Join(strings.Fields(r.Headline), " "), r.Range, r.Model, r.Trip
	return e
}

// checkAgainstAPI posts want to /predict and checks that the page sent the
// same trip and shows the same estimate, rounded as people read it.
func (tb *tab) checkAgainstAPI(e estimate, want TripRequest) PredictionResponse {
	tb.t.Helper()
	gotReq, _ := json.Marshal(e.Request)
	wantReq, _ := json.Marshal(want)
	if !bytes.Equal(gotReq, wantReq) {
		tb.t.Errorf("the page sent %s, want %s", gotReq, wantReq)
	}
	resp, err := http.Post(tb.p.srv.URL+"/predict", "application/json", bytes.NewReader(wantReq))
	if err != nil {
		tb.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var api PredictionResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &api) != nil {
		tb.t.Fatalf("POST /predict %s: %d %s", wantReq, resp.StatusCode, body)
	}
	if e.Minutes != api.TripDurationPrediction || e.Low != api.Interval.Low || e.High != api.Interval.High || e.Version != api.Model.Version {
		tb.t.Errorf("the page shows %v (%v–%v) from version %q; /predict says %+v", e.Minutes, e.Low, e.High, e.Version, api)
	}
	if want := fmt.Sprintf("about %d min", int(math.Round(api.TripDurationPrediction))); e.Headline != want {
		tb.t.Errorf("headline %q, want %q", e.Headline, want)
	}
	if want := fmt.Sprintf("usually %d–%d min", int(math.Round(api.Interval.Low)), int(math.Round(api.Interval.High))); e.Range != want {
		tb.t.Errorf("range %q, want %q", e.Range, want)
	}
	if want := "Model " + api.Model.Name + ", version " + api.Model.Version; e.Model != want {
		tb.t.Errorf("model line %q, want %q", e.Model, want)
	}
	return api
}

// apiFieldMessage is the message /predict gives for the one bad field of req.
func (p *pageTest) apiFieldMessage(t *testing.T, req string) string {
	t.Helper()
	resp, err := http.Post(p.srv.URL+"/predict", "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var prob Problem
	if err := json.NewDecoder(resp.Body).Decode(&prob); err != nil || resp.StatusCode != http.StatusUnprocessableEntity || len(prob.Errors) != 1 {
		t.Fatalf("POST /predict %s: %d %+v (%v)", req, resp.StatusCode, prob, err)
	}
	return prob.Errors[0].Message
}

// mouse: a desktop browser whose own time zone is Tokyo; zones typed and
// clicked, a fixed pickup time, swap, and both kinds of inline error.
func (p *pageTest) mouse(t *testing.T) {
	ny := nyc(t)
	before := time.Now().Truncate(time.Minute)
	tb := p.openTab(t,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
			return err
		}),
	)
	after := time.Now()
	if tz := js[string](tb, `Intl.DateTimeFormat().resolvedOptions().timeZone`); tz != "Asia/Tokyo" {
		t.Fatalf("browser time zone %q, want the Asia/Tokyo override", tz)
	}
	// The default pickup time is now in New York, whatever the browser's zone.
	shown, err := time.ParseInLocation("2006-01-02T15:04", tb.value("pickup-date")+"T"+tb.value("pickup-time"), ny)
	if err != nil {
		t.Fatal(err)
	}
	if shown.Before(before) || shown.After(after) {
		t.Errorf("default pickup time %s, want New York's now (%s..%s)", shown, before.In(ny), after.In(ny))
	}
	tb.wantFocus("pickup") // autofocus: an operator can type at once

	// Pickup: type "JFK", click JFK Airport; its id shows.
	tb.do(chromedp.Click(chromedp.ID("pickup")), press("JFK"),
		chromedp.WaitVisible(chromedp.ID("pickup-opt-132")))
	if got := tb.options("pickup-list"); len(got) == 0 || got[0] != 132 {
		t.Errorf(`"JFK" lists zones %v, want JFK Airport (132) first`, got)
	}
	if meta := js[string](tb, `document.querySelector('#pickup-opt-132 .opt-meta').textContent`); meta != "Queens · 132" {
		t.Errorf("JFK Airport's option says %q, want its borough and id", meta)
	}
	tb.do(chromedp.Click(chromedp.ID("pickup-opt-132")), chromedp.WaitNotVisible(chromedp.ID("pickup-list")))
	if v := tb.value("pickup"); v != "JFK Airport (Queens)" {
		t.Errorf("pickup shows %q", v)
	}
	if h := tb.text("pickup-hint"); !strings.Contains(h, "Zone 132") {
		t.Errorf("pickup hint %q does not show the zone id", h)
	}

	// Dropoff: a borough finds its zones; Escape closes, then clears.
	tb.do(chromedp.Click(chromedp.ID("dropoff")), press("Queens"),
		chromedp.WaitVisible(chromedp.ID("dropoff-list")))
	metas := js[[]string](tb, `Array.from(document.querySelectorAll('#dropoff-list .opt-meta')).map(m => m.textContent)`)
	if len(metas) != p.queens {
		t.Errorf(`"Queens" lists %d zones, want the %d zones of Queens`, len(metas), p.queens)
	}
	for _, m := range metas {
		if !strings.HasPrefix(m, "Queens · ") {
			t.Errorf(`"Queens" lists a zone in %q`, m)
		}
	}
	tb.keys(kb.Escape)
	tb.do(chromedp.WaitNotVisible(chromedp.ID("dropoff-list")))
	tb.keys(kb.Escape)
	if v := tb.value("dropoff"); v != "" {
		t.Errorf("the second Escape left %q", v)
	}
	tb.do(press("Astoria"), chromedp.WaitVisible(chromedp.ID("dropoff-opt-7")))
	if got := tb.options("dropoff-list"); len(got) != 3 || got[0] != 7 {
		t.Errorf(`"Astoria" lists %v, want Astoria (7) first, then Astoria Park and Old Astoria`, got)
	}
	tb.do(chromedp.Click(chromedp.ID("dropoff-opt-7")))

	// Two passengers, a fixed pickup time, one click.
	tb.do(chromedp.Focus(chromedp.ID("passengers")))
	tb.keys("a", chromedp.ModifierCtrl)
	tb.keys("2")
	tb.do(chromedp.SetValue(chromedp.ID("pickup-date"), "2024-03-04"), chromedp.SetValue(chromedp.ID("pickup-time"), "08:15"))
	tb.do(chromedp.Click(chromedp.ID("submit")))
	two, when := 2, "2024-03-04T08:15"
	e := tb.waitEstimate(132, 7)
	tb.checkAgainstAPI(e, TripRequest{PULocationID: 132, DOLocationID: 7, PassengerCount: &two, PickupDatetime: &when})
	if want := "JFK Airport (Queens) → Astoria (Queens) · 2 passengers · pickup Mon, Mar 4, 08:15"; e.Trip != want {
		t.Errorf("trip line %q, want %q", e.Trip, want)
	}
	tb.screenshot("desktop-estimate.png")

	// Swap in one click: the page estimates the reverse trip.
	tb.do(chromedp.Click(chromedp.ID("swap")))
	e = tb.waitEstimate(7, 132)
	tb.checkAgainstAPI(e, TripRequest{PULocationID: 7, DOLocationID: 132, PassengerCount: &two, PickupDatetime: &when})
	if a, b := tb.value("pickup"), tb.value("dropoff"); a != "Astoria (Queens)" || b != "JFK Airport (Queens)" {
		t.Errorf("after the swap: pickup %q, dropoff %q", a, b)
	}

	// No dropoff: explained next to the field, which gets the focus.
	tb.do(chromedp.Focus(chromedp.ID("dropoff")))
	tb.keys("a", chromedp.ModifierCtrl)
	tb.keys(kb.Backspace)
	if !js[bool](tb, `document.getElementById('result').classList.contains('stale')`) {
		t.Error("the estimate is not marked stale after the trip changed")
	}
	tb.do(chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("dropoff-error")))
	if msg := tb.text("dropoff-error"); msg != "Choose a dropoff zone." {
		t.Errorf("dropoff error %q", msg)
	}
	if js[string](tb, `document.getElementById('dropoff').getAttribute('aria-invalid')`) != "true" {
		t.Error("the dropoff field is not marked invalid")
	}
	tb.wantFocus("dropoff")
	tb.screenshot("desktop-no-dropoff.png")

	// A name that matches nothing is explained as you type and on submit.
	tb.keys("Atlantis")
	if h := tb.text("dropoff-hint"); !strings.Contains(h, "No zone matches “Atlantis”") {
		t.Errorf("dropoff hint %q", h)
	}
	tb.do(chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("dropoff-error")))
	if msg := tb.text("dropoff-error"); !strings.Contains(msg, "“Atlantis” matches no zones") {
		t.Errorf("dropoff error %q", msg)
	}

	// The API's own 422 message shows next to the passenger field.
	tb.do(chromedp.Focus(chromedp.ID("dropoff")))
	tb.keys("a", chromedp.ModifierCtrl)
	tb.keys("JFK" + kb.Enter)
	if tb.value("dropoff") != "JFK Airport (Queens)" {
		t.Fatalf("dropoff %q after JFK and Enter", tb.value("dropoff"))
	}
	tb.do(chromedp.Focus(chromedp.ID("passengers")))
	tb.keys("a", chromedp.ModifierCtrl)
	tb.keys("12")
	tb.do(chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("passengers-error")))
	apiMsg := p.apiFieldMessage(t, `{"PULocationID": 7, "DOLocationID": 132, "passenger_count": 12}`)
	if msg := tb.text("passengers-error"); !strings.Contains(msg, apiMsg) {
		t.Errorf("passenger error %q, want the API's %q", msg, apiMsg)
	}
	if tb.visible("result") {
		t.Error("a stale estimate stays shown beside a rejected trip")
	}
	tb.wantFocus("passengers")
	tb.screenshot("desktop-errors.png")
}

func (tb *tab) visible(id string) bool {
	tb.t.Helper()
	return js[bool](tb, `(() => { const e = document.getElementById(`+strconv.Quote(id)+`); return !!e && !e.hidden && e.offsetParent !== null; })()`)
}

// keyboard: no mouse at all. Type, arrow keys, Enter to choose, Enter to
// estimate, Shift+Tab and Enter to swap.
func (p *pageTest) keyboard(t *testing.T) {
	ny := nyc(t)
	before := time.Now().Truncate(time.Minute)
	tb := p.openTab(t, chromedp.EmulateViewport(1024, 768))
	tb.wantFocus("pickup")
	tb.keys("JFK")
	tb.waitJS(`document.getElementById('pickup').getAttribute('aria-activedescendant') === 'pickup-opt-132'`)
	if js[string](tb, `document.getElementById('pickup').getAttribute('aria-expanded')`) != "true" {
		t.Error("the pickup combobox is not expanded")
	}
	tb.keys(kb.Enter)
	if v := tb.value("pickup"); v != "JFK Airport (Queens)" {
		t.Fatalf("Enter chose %q", v)
	}
	tb.keys(kb.Tab)
	tb.wantFocus("swap")
	tb.keys(kb.Tab)
	tb.wantFocus("dropoff")
	tb.keys("Astoria")
	tb.waitJS(`document.getElementById('dropoff').getAttribute('aria-activedescendant') === 'dropoff-opt-7'`)
	tb.keys(kb.ArrowDown)
	if got := js[string](tb, `document.getElementById('dropoff').getAttribute('aria-activedescendant')`); got != "dropoff-opt-8" {
		t.Errorf("ArrowDown made %q active, want Astoria Park (dropoff-opt-8)", got)
	}
	if js[string](tb, `document.getElementById('dropoff-opt-8').getAttribute('aria-selected')`) != "true" {
		t.Error("the active option is not aria-selected")
	}
	tb.keys(kb.ArrowUp)
	tb.keys(kb.Enter)
	if v := tb.value("dropoff"); v != "Astoria (Queens)" {
		t.Fatalf("ArrowDown, ArrowUp, Enter chose %q", v)
	}
	tb.wantFocus("dropoff")
	tb.keys(kb.Enter) // the list is closed: Enter estimates
	e := tb.waitEstimate(132, 7)
	after := time.Now()
	one := 1
	if e.Request.PickupDatetime == nil {
		t.Fatal("the page sent no pickup time; it defaults to now")
	}
	sent, err := time.ParseInLocation("2006-01-02T15:04", *e.Request.PickupDatetime, ny)
	if err != nil || sent.Before(before) || sent.After(after) {
		t.Errorf("the page sent pickup time %q, want New York's now (%v)", *e.Request.PickupDatetime, err)
	}
	tb.checkAgainstAPI(e, TripRequest{PULocationID: 132, DOLocationID: 7, PassengerCount: &one, PickupDatetime: e.Request.PickupDatetime})
	tb.screenshot("keyboard-estimate.png")

	tb.keys(kb.Tab, chromedp.ModifierShift)
	tb.wantFocus("swap")
	tb.keys(kb.Enter)
	e = tb.waitEstimate(7, 132)
	tb.checkAgainstAPI(e, TripRequest{PULocationID: 7, DOLocationID: 132, PassengerCount: &one, PickupDatetime: e.Request.PickupDatetime})
}

// phone: a 375×667 touch screen; nothing scrolls sideways, with the zone
// list open, with an estimate, or with the model details open.
func (p *pageTest) phone(t *testing.T) {
	tb := p.openTab(t, chromedp.EmulateViewport(375, 667, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
	if w := js[int](tb, `window.innerWidth`); w != 375 {
		t.Fatalf("viewport is %d px wide, want 375", w)
	}
	tb.noHorizontalScroll("empty form")
	tb.do(chromedp.Tap(chromedp.ID("pickup")), press("Astoria"),
		chromedp.WaitVisible(chromedp.ID("pickup-opt-7")))
	tb.noHorizontalScroll("zone list open")
	tb.screenshot("phone-list-open.png")
	tb.do(chromedp.Tap(chromedp.ID("pickup-opt-7")))
	tb.do(chromedp.Tap(chromedp.ID("dropoff")), press("JFK"),
		chromedp.WaitVisible(chromedp.ID("dropoff-opt-132")), chromedp.Tap(chromedp.ID("dropoff-opt-132")))
	tb.do(chromedp.Tap(chromedp.ID("submit")))
	e := tb.waitEstimate(7, 132)
	one := 1
	tb.checkAgainstAPI(e, TripRequest{PULocationID: 7, DOLocationID: 132, PassengerCount: &one, PickupDatetime: e.Request.PickupDatetime})
	if !js[bool](tb, `(() => { const r = document.getElementById('result').getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })()`) {
		t.Error("the estimate is not in view after Estimate")
	}
	tb.noHorizontalScroll("estimate shown")
	tb.screenshot("phone-estimate.png")
	tb.do(chromedp.Tap(chromedp.CSS("#about summary")), chromedp.WaitVisible(chromedp.ID("model")))
	about := tb.text("model")
	for _, re := range []string{`Validation RMSE\s*\d+\.\d\d min`, `RMSE with pickup time\s*\d+\.\d\d min`, `Version\s*3`} {
		if !regexp.MustCompile(re).MatchString(about) {
			t.Errorf("the about panel does not match %s: %q", re, about)
		}
	}
	tb.noHorizontalScroll("about panel open")
	tb.screenshot("phone-about.png")
}
