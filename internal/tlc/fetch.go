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

	"github.com/taxieta/taxieta/internal/progress"
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
	var (
		w   io.Writer = tmp
		bar *byteProgress
	)
	if f.Progress != nil {
		bar = &byteProgress{bar: progress.New(f.Progress, filepath.Base(dst), progress.Bytes), total: resp.ContentLength}
		w = io.MultiWriter(tmp, bar)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if bar != nil {
		bar.bar.Finish(bar.n, bar.fraction(), err == nil)
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

// byteProgress is an io.Writer that counts the bytes written through it
// on a progress bar.
type byteProgress struct {
	bar   *progress.Bar
	n     int64
	total int64 // -1 when unknown
}

func (p *byteProgress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	p.bar.Update(p.n, p.fraction())
	return len(b), nil
}

// fraction is the share of the file written, or -1 when its size is unknown.
func (p *byteProgress) fraction() float64 {
	if p.total <= 0 {
		return -1
	}
	return float64(p.n) / float64(p.total)
}

// IsTerminal reports whether f is a terminal, where a progress bar belongs.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
