package tlc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Fetcher downloads monthly TLC files. Downloads are atomic: a file appears
// in the cache under its final name only once it is complete.
type Fetcher struct {
	// BaseURL is where files live as <BaseURL>/<name>.parquet; DefaultBaseURL when empty.
	BaseURL string
	Client  *http.Client
	// Progress, when not nil, receives a progress bar (meant for a terminal).
	Progress io.Writer
}

// Fetch downloads month m into dir unless it is already there, and returns its path.
func (f *Fetcher) Fetch(ctx context.Context, m Month, dir string) (string, error) {
	dst := filepath.Join(dir, m.Name()+".parquet")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	base := f.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimRight(base, "/") + "/" + m.Name() + ".parquet"
	if err := f.download(ctx, u, dst); err != nil {
		return "", fmt.Errorf("download %s: %w", u, err)
	}
	return dst, nil
}

func (f *Fetcher) download(ctx context.Context, u, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		var dnsErr *net.DNSError
		var opErr *net.OpError
		var urlErr *url.Error
		if errors.As(err, &dnsErr) || errors.As(err, &opErr) || (errors.As(err, &urlErr) && urlErr.Timeout()) {
			return fmt.Errorf("%w: %v", errOffline, err)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s (does the TLC publish this month?)", resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	var w io.Writer = tmp
	if f.Progress != nil {
		bar := &progress{out: f.Progress, name: filepath.Base(dst), total: resp.ContentLength, start: time.Now()}
		w = io.MultiWriter(tmp, bar)
		defer bar.done()
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// progress draws a one-line progress bar, redrawn at most ten times a second.
type progress struct {
	out   io.Writer
	name  string
	total int64
	n     int64
	start time.Time
	last  time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	const width = 30
	if p.total > 0 {
		filled := int(float64(width) * float64(p.n) / float64(p.total))
		fmt.Fprintf(p.out, "\r%s [%s%s] %5.1f%% %.1f MB", p.name, strings.Repeat("=", filled),
			strings.Repeat(" ", width-filled), 100*float64(p.n)/float64(p.total), float64(p.n)/1e6)
		return
	}
	fmt.Fprintf(p.out, "\r%s %.1f MB", p.name, float64(p.n)/1e6)
}

func (p *progress) done() {
	p.draw()
	fmt.Fprintf(p.out, " in %s\n", time.Since(p.start).Round(time.Millisecond))
}

// IsTerminal reports whether f is a terminal, where a progress bar belongs.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
