// Package backoff is an exponential delay between retries: the stream's
// fetch loop and the serving model's reference follower both wait longer
// after each failure, up to a ceiling, and start over after a success.
package backoff

import (
	"context"
	"time"
)

// Backoff is a delay that starts at initial, doubles at each Advance up to
// max, and goes back to initial at Reset. It is not safe for concurrent
// use.
type Backoff struct {
	initial, max, d time.Duration
	// sleep waits d or until ctx is done; Sleep, except in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

// New is a backoff from initial (more than 0) to max (at least initial).
func New(initial, max time.Duration) *Backoff {
	return &Backoff{initial: initial, max: max, d: initial, sleep: Sleep}
}

// Delay is the current delay.
func (b *Backoff) Delay() time.Duration { return b.d }

// Advance doubles the delay, up to the ceiling, and returns it.
func (b *Backoff) Advance() time.Duration {
	if b.d > b.max/2 {
		b.d = b.max
	} else {
		b.d *= 2
	}
	return b.d
}

// Reset goes back to the initial delay, after a success.
func (b *Backoff) Reset() { b.d = b.initial }

// Wait sleeps the current delay, or until ctx is done, then advances it. It
// returns ctx's error if ctx ended the wait.
func (b *Backoff) Wait(ctx context.Context) error {
	err := b.sleep(ctx, b.d)
	b.Advance()
	return err
}

// Sleep waits d, or until ctx is done, and returns ctx's error in that case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
