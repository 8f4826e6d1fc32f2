package trip

import (
	"testing"
	"time"
)

// hourOfWeekByCalendar is HourOfWeek's definition: the weekday (Monday
// first) and hour of t's own clock.
func hourOfWeekByCalendar(t time.Time) int {
	return (int(t.Weekday())+6)%7*24 + t.Hour()
}

func TestHourOfWeek(t *testing.T) {
	nyc, err := NYC()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		t    time.Time
		want int
	}{
		{"Monday midnight", time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC), 0},
		{"Monday 00:59:59.999", time.Date(2024, 3, 4, 0, 59, 59, 999e6, time.UTC), 0},
		{"Sunday 23:59", time.Date(2024, 3, 10, 23, 59, 0, 0, time.UTC), 167},
		{"the epoch, a Thursday", time.Unix(0, 0).UTC(), 3 * 24},
		{"before the epoch", time.Date(1969, 12, 31, 23, 30, 0, 0, time.UTC), 2*24 + 23},
		{"a TLC outlier year", time.Date(2009, 1, 1, 0, 3, 25, 0, time.UTC), 3 * 24},
		{"another zone's clock", time.Date(2024, 3, 4, 8, 30, 0, 0, nyc), 8},
		{"the zero time", time.Time{}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HourOfWeek(tt.t); got != tt.want {
				t.Errorf("HourOfWeek(%v) = %d, want %d", tt.t, got, tt.want)
			}
		})
	}
	// Every hour, at a few odd minutes and seconds, over two years
	// across the epoch and two years around the data's months agrees
	// with the calendar.
	for _, start := range []time.Time{
		time.Date(1968, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2020, 12, 1, 0, 0, 0, 0, time.UTC),
	} {
		for h := range 2 * 365 * 24 {
			for _, s := range []time.Duration{0, 59*time.Minute + 59*time.Second, 17 * time.Minute} {
				tm := start.Add(time.Duration(h)*time.Hour + s)
				if got, want := HourOfWeek(tm), hourOfWeekByCalendar(tm); got != want {
					t.Fatalf("HourOfWeek(%v) = %d, want %d", tm, got, want)
				}
			}
		}
	}
}

func BenchmarkHourOfWeek(b *testing.B) {
	t := time.Date(2024, 3, 4, 8, 30, 0, 0, time.UTC)
	n := 0
	for b.Loop() {
		n += HourOfWeek(t)
	}
	_ = n
}

// NYC is New York's zone with its daylight saving time, the same location
// on every call.
func TestNYC(t *testing.T) {
	nyc, err := NYC()
	if err != nil {
		t.Fatal(err)
	}
	again, err := NYC()
	if err != nil || again != nyc {
		t.Errorf("second call: %p, %v; want the first location %p", again, err, nyc)
	}
	if nyc.String() != "America/New_York" {
		t.Errorf("name %q", nyc.String())
	}
	for _, tt := range []struct {
		utc  time.Time
		name string
		off  int
	}{
		{time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC), "EST", -5 * 3600},
		{time.Date(2024, 7, 15, 12, 0, 0, 0, time.UTC), "EDT", -4 * 3600},
		// Daylight saving time began at 2024-03-10 07:00 UTC (02:00 EST).
		{time.Date(2024, 3, 10, 6, 59, 59, 0, time.UTC), "EST", -5 * 3600},
		{time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC), "EDT", -4 * 3600},
	} {
		if name, off := tt.utc.In(nyc).Zone(); name != tt.name || off != tt.off {
			t.Errorf("%v in New York: %s %d; want %s %d", tt.utc, name, off, tt.name, tt.off)
		}
	}
}
