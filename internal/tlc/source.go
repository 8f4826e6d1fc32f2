package tlc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// DefaultBaseURL is where the TLC publishes its monthly trip files, as
// <base>/<color>_tripdata_<YYYY-MM>.parquet.
const DefaultBaseURL = "https://d37ci6vzurychx.cloudfront.net/trip-data"

// Colors are the TLC services with monthly files this reader understands.
var Colors = []string{"green", "yellow"}

// Month is one monthly TLC file: a service and a year-month.
type Month struct {
	Color string
	Year  int
	Month time.Month
}

// Name is the TLC's file name for m without extension, e.g. green_tripdata_2021-01.
func (m Month) Name() string {
	return fmt.Sprintf("%s_tripdata_%04d-%02d", m.Color, m.Year, int(m.Month))
}

// String is m's spec, e.g. green:2021-01.
func (m Month) String() string { return fmt.Sprintf("%s:%04d-%02d", m.Color, m.Year, int(m.Month)) }

var specRE = regexp.MustCompile(`^(green|yellow):(\d{4})-(\d{2})(?:\.\.(\d{4})-(\d{2}))?$`)

// IsSpec reports whether s looks like a month spec rather than a file path.
func IsSpec(s string) bool {
	for _, c := range Colors {
		if strings.HasPrefix(s, c+":") {
			return true
		}
	}
	return false
}

// ParseSpec parses a month spec: COLOR:YYYY-MM or a range COLOR:YYYY-MM..YYYY-MM
// (inclusive, at most 240 months).
func ParseSpec(s string) ([]Month, error) {
	m := specRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("month spec %q: want COLOR:YYYY-MM or COLOR:YYYY-MM..YYYY-MM with COLOR one of %s", s, strings.Join(Colors, ", "))
	}
	from, err := time.Parse("2006-01", m[2]+"-"+m[3])
	if err != nil {
		return nil, fmt.Errorf("month spec %q: %w", s, err)
	}
	to := from
	if m[4] != "" {
		if to, err = time.Parse("2006-01", m[4]+"-"+m[5]); err != nil {
			return nil, fmt.Errorf("month spec %q: %w", s, err)
		}
	}
	if to.Before(from) {
		return nil, fmt.Errorf("month spec %q: range ends before it starts", s)
	}
	var out []Month
	for t := from; !t.After(to); t = t.AddDate(0, 1, 0) {
		out = append(out, Month{Color: m[1], Year: t.Year(), Month: t.Month()})
		if len(out) > 240 {
			return nil, fmt.Errorf("month spec %q: more than 240 months", s)
		}
	}
	return out, nil
}

// Resolver turns trip sources (file paths and month specs) into local files:
// a month is looked up in DataDir, then in CacheDir, and otherwise downloaded
// into CacheDir.
type Resolver struct {
	DataDir  string
	CacheDir string
	Fetcher  *Fetcher
}

// Resolve returns the local files for each source, in order.
func (r *Resolver) Resolve(ctx context.Context, sources ...string) ([]string, error) {
	var files []string
	for _, src := range sources {
		if !IsSpec(src) {
			if _, err := os.Stat(src); err != nil {
				return nil, fmt.Errorf("trip source %s: %w", src, err)
			}
			files = append(files, src)
			continue
		}
		months, err := ParseSpec(src)
		if err != nil {
			return nil, err
		}
		for _, m := range months {
			p, err := r.month(ctx, m)
			if err != nil {
				return nil, err
			}
			files = append(files, p)
		}
	}
	return files, nil
}

func (r *Resolver) month(ctx context.Context, m Month) (string, error) {
	for _, dir := range []string{r.DataDir, r.CacheDir} {
		if dir == "" {
			continue
		}
		for _, ext := range []string{".parquet", ".csv"} {
			p := filepath.Join(dir, m.Name()+ext)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	if r.Fetcher == nil || r.CacheDir == "" {
		return "", fmt.Errorf("trip source %s: %s.parquet is not in the data directory %q and downloading is off", m, m.Name(), r.DataDir)
	}
	p, err := r.Fetcher.Fetch(ctx, m, r.CacheDir)
	if err != nil {
		return "", fmt.Errorf("trip source %s: not in data directory %q: %w", m, r.DataDir, err)
	}
	return p, nil
}

// Fingerprint hashes a file so a model can say exactly what it learnt from.
func Fingerprint(path string) (trip.DataFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return trip.DataFile{}, fmt.Errorf("fingerprint %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return trip.DataFile{}, fmt.Errorf("fingerprint %s: %w", path, err)
	}
	return trip.DataFile{Name: filepath.Base(path), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// errOffline is wrapped into download errors that look like a missing network.
var errOffline = errors.New("cannot reach the TLC download server (offline?); put the file in the data directory (--data-dir, TAXIETA_DATA_DIR) or point --tlc-base-url at a mirror")
