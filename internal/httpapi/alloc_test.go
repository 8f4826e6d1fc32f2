package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so that measuring
// a handler measures the handler alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// rewindable is a request body read again on each run.
type rewindable struct{ *bytes.Reader }

func (rewindable) Close() error { return nil }

// TestPredictAllocations keeps POST /predict as cheap as it is: the
// handler behind the (data, error) wrapper allocates nothing for a valid
// trip, and the whole server (mux and middleware, whose request id header
// and status recorder escape) no more than the 3 allocations it took
// before the route table and the wrapper.
func TestPredictAllocations(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	body := []byte(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}`)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest("POST", "/predict", nil)
	r.Body = rewindable{rd}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Request-ID", "fixed-id")
	r.ContentLength = int64(len(body))
	w := &discardWriter{h: http.Header{"X-Request-Id": {"fixed-id"}}}
	for _, c := range []struct {
		name string
		h    http.Handler
		max  float64
	}{
		{"handler", s.api(s.handlePredict()), 0},
		{"server", s, 3},
	} {
		n := testing.AllocsPerRun(200, func() {
			rd.Reset(body)
			c.h.ServeHTTP(w, r)
		})
		if n > c.max {
			t.Errorf("%s: %v allocations per POST /predict; want at most %v", c.name, n, c.max)
		}
	}
}

// TestPredictKeepsItsBuffer: over many requests the handler allocates
// nothing at all, not even now and then. (Pooling the buffer from the end
// of each answer once moved its start on until a new one was needed every
// few dozen requests, which AllocsPerRun's whole-number average hid.)
func TestPredictKeepsItsBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random; make test runs this without it")
	}
	s := newTestServer(t, defaultModels(t), nil)
	body := []byte(`{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1}`)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest("POST", "/predict", nil)
	r.Body = rewindable{rd}
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(body))
	w := &discardWriter{h: http.Header{}}
	h := s.api(s.handlePredict())
	const runs = 2000
	// The pool may be emptied by a collection; run with collection off.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	rd.Reset(body)
	h.ServeHTTP(w, r) // fills the pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		rd.Reset(body)
		h.ServeHTTP(w, r)
	}
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n > 5 {
		t.Fatalf("%d allocations in %d requests; want none", n, runs)
	}
}
