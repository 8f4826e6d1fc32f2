package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
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
