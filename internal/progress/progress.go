// Package progress draws a one-line progress bar for a terminal: what is
// being worked on, the share done when it is known, how much so far and at
// what rate. Scoring a file (rows) and downloading one (bytes) both use it.
package progress

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Unit is what a bar counts, and how it shows a count and a rate.
type Unit int

const (
	// Rows counts rows: "1234 rows 5678 rows/s".
	Rows Unit = iota
	// Bytes counts bytes, shown in megabytes: "1.2 MB 3.4 MB/s".
	Bytes
)

// width is the number of cells of the bar.
const width = 30

// redraw is the least time between two draws: a bar is redrawn at most
// ten times a second.
const redraw = 100 * time.Millisecond

// Bar is a one-line progress bar, redrawn in place with a carriage return.
// It is not safe for concurrent use.
type Bar struct {
	out   io.Writer
	name  string
	unit  Unit
	now   func() time.Time // the clock; tests set their own
	start time.Time
	last  time.Time
}

// New starts a bar named name (a file's base name) that counts in unit
// and draws to out.
func New(out io.Writer, name string, unit Unit) *Bar {
	b := &Bar{out: out, name: name, unit: unit, now: time.Now}
	b.start = b.now()
	return b
}

// Update redraws the bar with count done, a share fraction (0..1) of the
// whole, or a negative fraction when the whole is unknown; it draws only
// if the last draw is a tenth of a second old.
func (b *Bar) Update(count int64, fraction float64) {
	if now := b.now(); now.Sub(b.last) >= redraw {
		b.last = now
		b.draw(count, fraction, now)
	}
}

// Finish draws the last state, says "done" (ok) or "failed" and how long
// it took, and ends the line.
func (b *Bar) Finish(count int64, fraction float64, ok bool) {
	now := b.now()
	b.draw(count, fraction, now)
	status := "done"
	if !ok {
		status = "failed"
	}
	fmt.Fprintf(b.out, " %s in %s\n", status, now.Sub(b.start).Round(time.Millisecond))
}

func (b *Bar) draw(count int64, fraction float64, now time.Time) {
	var line strings.Builder
	line.WriteString("\r")
	line.WriteString(b.name)
	if fraction >= 0 {
		filled := int(min(fraction, 1) * width)
		fmt.Fprintf(&line, " [%s%s] %5.1f%%", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*fraction)
	}
	line.WriteString(" ")
	line.WriteString(b.unit.count(count))
	if s := now.Sub(b.start).Seconds(); s > 0 {
		line.WriteString(" ")
		line.WriteString(b.unit.rate(float64(count) / s))
	}
	io.WriteString(b.out, line.String())
}

func (u Unit) count(n int64) string {
	if u == Bytes {
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%d rows", n)
}

func (u Unit) rate(perSecond float64) string {
	if u == Bytes {
		return fmt.Sprintf("%.1f MB/s", perSecond/1e6)
	}
	return fmt.Sprintf("%.0f rows/s", perSecond)
}
