package progress

import (
	"strings"
	"testing"
	"time"
)

// clock is a test clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newTestBar is a bar on a test clock, drawing into out.
func newTestBar(out *strings.Builder, name string, unit Unit) (*Bar, *clock) {
	c := &clock{t: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
	b := New(out, name, unit)
	b.now = c.now
	b.start = c.t
	return b, c
}

func TestDraw(t *testing.T) {
	tests := []struct {
		name     string
		unit     Unit
		count    int64
		fraction float64
		elapsed  time.Duration
		want     string
	}{
		{"rows, share known", Rows, 5000, 0.5, 2 * time.Second,
			"\rin.parquet [===============               ]  50.0% 5000 rows 2500 rows/s"},
		{"rows, share unknown", Rows, 12, -1, time.Second, "\rin.parquet 12 rows 12 rows/s"},
		{"rows, no time yet", Rows, 0, 0, 0, "\rin.parquet [                              ]   0.0% 0 rows"},
		{"rows, all", Rows, 7, 1, time.Second, "\rin.parquet [==============================] 100.0% 7 rows 7 rows/s"},
		// A share past the whole fills the bar and no more.
		{"rows, past the whole", Rows, 7, 1.5, time.Second, "\rin.parquet [==============================] 150.0% 7 rows 7 rows/s"},
		{"bytes, share known", Bytes, 2_500_000, 0.25, 500 * time.Millisecond,
			"\rin.parquet [=======                       ]  25.0% 2.5 MB 5.0 MB/s"},
		{"bytes, share unknown", Bytes, 1_234_567, -1, time.Second, "\rin.parquet 1.2 MB 1.2 MB/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			b, c := newTestBar(&out, "in.parquet", tt.unit)
			c.t = c.t.Add(tt.elapsed)
			b.Update(tt.count, tt.fraction)
			if got := out.String(); got != tt.want {
				t.Errorf("drew\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestUpdateRedrawsTenTimesASecond: updates less than a tenth of a second
// after the last draw draw nothing.
func TestUpdateRedrawsTenTimesASecond(t *testing.T) {
	var out strings.Builder
	b, c := newTestBar(&out, "f", Rows)
	steps := []struct {
		after time.Duration
		draws bool
	}{
		{0, true}, // the first update draws
		{50 * time.Millisecond, false},
		{49 * time.Millisecond, false},
		{time.Millisecond, true}, // 100 ms after the last draw
		{99 * time.Millisecond, false},
		{time.Second, true},
	}
	for i, st := range steps {
		c.t = c.t.Add(st.after)
		before := out.Len()
		b.Update(int64(i), -1)
		if drew := out.Len() > before; drew != st.draws {
			t.Errorf("update %d (+%v): drew %v; want %v", i, st.after, drew, st.draws)
		}
	}
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		want string
	}{
		{"done", true, "\rf [==============================] 100.0% 300 rows 200 rows/s done in 1.5s\n"},
		{"failed", false, "\rf [==============================] 100.0% 300 rows 200 rows/s failed in 1.5s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			b, c := newTestBar(&out, "f", Rows)
			c.t = c.t.Add(1500*time.Millisecond + 300*time.Microsecond)
			b.Update(300, 1) // drawn, then drawn again by Finish
			out.Reset()
			b.Finish(300, 1, tt.ok)
			if got := out.String(); got != tt.want {
				t.Errorf("Finish drew %q; want %q", got, tt.want)
			}
		})
	}
}

func TestNewUsesTheWallClock(t *testing.T) {
	before := time.Now()
	b := New(&strings.Builder{}, "f", Bytes)
	if b.start.Before(before) || b.now == nil {
		t.Errorf("New started at %v, before it was called (%v)", b.start, before)
	}
}
