package backoff

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestDelays(t *testing.T) {
	// op is "a" (Advance) or "r" (Reset); want is the delay after it.
	tests := []struct {
		name         string
		initial, max time.Duration
		ops          string
		want         []time.Duration
	}{
		{"the stream's fetches", 50 * ms, 5 * time.Second, "aaaaaaaaa",
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"the model follower", time.Minute, 10 * time.Minute, "aaaara",
			[]time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, time.Minute, 2 * time.Minute}},
		{"reset at the start", 7 * ms, 100 * ms, "rar", []time.Duration{7 * ms, 14 * ms, 7 * ms}},
		{"no room to grow", time.Second, time.Second, "aa", []time.Duration{time.Second, time.Second}},
		// Doubling a delay near the largest Duration would overflow.
		{"huge", time.Duration(1 << 61), time.Duration(1<<63 - 1), "aa", []time.Duration{1 << 62, 1<<63 - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.initial, tt.max)
			if b.Delay() != tt.initial {
				t.Fatalf("first delay %v; want %v", b.Delay(), tt.initial)
			}
			var got []time.Duration
			for _, op := range tt.ops {
				switch op {
				case 'a':
					if d := b.Advance(); d != b.Delay() {
						t.Fatalf("Advance returned %v, Delay is %v", d, b.Delay())
					}
				case 'r':
					b.Reset()
				}
				got = append(got, b.Delay())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("delays %v; want %v", got, tt.want)
			}
		})
	}
}

// TestWait: Wait sleeps the current delay, then advances it, and passes
// on the end of its context.
func TestWait(t *testing.T) {
	var slept []time.Duration
	b := New(50*ms, 300*ms)
	cancelled := errors.New("cancelled")
	b.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		if len(slept) == 4 {
			return cancelled
		}
		return nil
	}
	ctx := context.Background()
	for i := range 3 {
		if err := b.Wait(ctx); err != nil {
			t.Fatalf("wait %d: %v", i, err)
		}
	}
	if err := b.Wait(ctx); !errors.Is(err, cancelled) {
		t.Errorf("wait 3: %v; want the sleep's error", err)
	}
	b.Reset()
	_ = b.Wait(ctx)
	if want := []time.Duration{50 * ms, 100 * ms, 200 * ms, 300 * ms, 50 * ms}; !slices.Equal(slept, want) {
		t.Errorf("slept %v; want %v", slept, want)
	}
	if b.Delay() != 100*ms {
		t.Errorf("delay after the waits %v; want 100ms", b.Delay())
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A done context ends even a long sleep (the test would hang otherwise).
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context: %v; want context.Canceled", err)
	}
	if err := Sleep(context.Background(), time.Nanosecond); err != nil {
		t.Errorf("Sleep(1ns): %v", err)
	}
	if err := New(time.Hour, time.Hour).Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context: %v; want context.Canceled", err)
	}
}
