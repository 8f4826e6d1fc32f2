package batch

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// progressBar draws a one-line progress bar, redrawn at most ten times a
// second: the share of the input read when known, rows and rows per second.
type progressBar struct {
	out   io.Writer
	src   source
	start time.Time
	last  time.Time
}

func newProgressBar(out io.Writer, src source) *progressBar {
	return &progressBar{out: out, src: src, start: time.Now()}
}

func (p *progressBar) update(rows int64) {
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw(rows, now)
	}
}

func (p *progressBar) draw(rows int64, now time.Time) {
	const width = 30
	rate := ""
	if s := now.Sub(p.start).Seconds(); s > 0 {
		rate = fmt.Sprintf(" %.0f rows/s", float64(rows)/s)
	}
	if f := p.src.fraction(); f >= 0 {
		filled := min(width, int(f*width))
		fmt.Fprintf(p.out, "\r%s [%s%s] %5.1f%% %d rows%s", filepath.Base(p.src.name()), strings.Repeat("=", filled),
			strings.Repeat(" ", width-filled), 100*f, rows, rate)
		return
	}
	fmt.Fprintf(p.out, "\r%s %d rows%s", filepath.Base(p.src.name()), rows, rate)
}

// finish draws the last state and ends the line.
func (p *progressBar) finish(rows int64, ok bool) {
	p.draw(rows, time.Now())
	status := "done"
	if !ok {
		status = "failed"
	}
	fmt.Fprintf(p.out, " %s in %s\n", status, time.Since(p.start).Round(time.Millisecond))
}
