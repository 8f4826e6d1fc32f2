package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/model"
)

// Loader resolves references in a registry and loads verified artifacts,
// keeping a copy of each in a cache directory. When the registry is
// unavailable it serves the copy it last resolved the reference to, and says
// so. It is safe for concurrent use.
//
// The cache, under Dir:
//
//	KEY/NAME/VERSION.taxieta      a downloaded, verified artifact
//	KEY/NAME/refs/REF.json        what a reference last resolved to
//
// KEY names the registry (its location, made safe, and a hash of it), so two
// registries never share versions.
type Loader struct {
	Registry Registry
	// Dir is the cache directory; empty means no cache (and no fallback).
	Dir string
	// Logger receives a warning when a cached copy stands in for the registry (nil: slog.Default()).
	Logger *slog.Logger
}

// Loaded is a model version ready to serve.
type Loaded struct {
	Ref      Ref
	Version  Version
	Artifact *model.Artifact
	// Bytes are the artifact's encoded form.
	Bytes []byte
	// FromCache says the registry could not be reached and this is the
	// copy the cache holds; RegistryErr is why.
	FromCache   bool
	RegistryErr error
}

// refRecord is a refs/REF.json.
type refRecord struct {
	Ref        string    `json:"ref"`
	Version    Version   `json:"version"`
	ResolvedAt time.Time `json:"resolved_at"`
}

// Load resolves ref, then returns the artifact from the cache if it holds
// the right one, else downloads it (verified) and caches it. If the registry
// is unavailable (ErrUnavailable) and the cache knows what ref last resolved
// to, it returns that copy with FromCache set and logs a warning; otherwise
// the error says that neither worked.
func (l *Loader) Load(ctx context.Context, ref Ref) (*Loaded, error) {
	v, err := l.Registry.Resolve(ctx, ref)
	if errors.Is(err, ErrUnavailable) {
		return l.fallback(ref, err)
	}
	if err != nil {
		return nil, err
	}
	out, err := l.LoadVersion(ctx, v)
	if errors.Is(err, ErrUnavailable) {
		return l.fallback(ref, err)
	}
	if err != nil {
		return nil, err
	}
	out.Ref = ref
	l.remember(ref, v)
	return out, nil
}

// LoadIfChanged is Load for a server that already serves the version with
// checksum current: it resolves ref and returns nil (and no error) when ref
// still names that artifact, else the new version, loaded and verified. It
// does not fall back on the cache: when the registry is unavailable it says
// so (ErrUnavailable), and the server keeps what it serves.
func (l *Loader) LoadIfChanged(ctx context.Context, ref Ref, current string) (*Loaded, error) {
	v, err := l.Registry.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if v.Checksum != "" && v.Checksum == current {
		return nil, nil
	}
	out, err := l.LoadVersion(ctx, v)
	if err != nil {
		return nil, err
	}
	out.Ref = ref
	l.remember(ref, v)
	return out, nil
}

// LoadVersion returns the artifact of a resolved version: the cached copy
// when it has v.Checksum, else a verified download, which it caches.
func (l *Loader) LoadVersion(ctx context.Context, v Version) (*Loaded, error) {
	if b, a, ok := l.cached(v); ok {
		return &Loaded{Ref: v.Ref(), Version: v, Artifact: a, Bytes: b}, nil
	}
	b, err := l.Registry.Download(ctx, v)
	if err != nil {
		return nil, err
	}
	a, err := Verify(b, v.Checksum)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Ref(), err)
	}
	if p := l.artifactPath(v); p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			l.logger().Warn("could not cache the model", "ref", v.Ref().String(), "err", err)
		} else if err := model.WriteFileAtomic(p, b); err != nil {
			l.logger().Warn("could not cache the model", "ref", v.Ref().String(), "err", err)
		}
	}
	return &Loaded{Ref: v.Ref(), Version: v, Artifact: a, Bytes: b}, nil
}

func (l *Loader) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

// fallback serves what ref last resolved to from the cache.
func (l *Loader) fallback(ref Ref, cause error) (*Loaded, error) {
	if l.Dir == "" {
		return nil, fmt.Errorf("%w (no cache directory to fall back on)", cause)
	}
	p := l.refPath(ref)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w; and the cache %s holds no copy of %s", cause, l.Dir, ref)
	}
	var rec refRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%w; and the cache record %s is unreadable: %v", cause, p, err)
	}
	ab, a, ok := l.cached(rec.Version)
	if !ok {
		return nil, fmt.Errorf("%w; and the cache %s holds no valid copy of %s version %s", cause, l.Dir, ref.Name, rec.Version.Version)
	}
	l.logger().Warn("model registry unavailable: serving the cached copy",
		"ref", ref.String(), "version", rec.Version.Version, "sha256", rec.Version.Checksum,
		"resolved_at", rec.ResolvedAt, "registry", l.Registry.Location(), "err", cause)
	return &Loaded{Ref: ref, Version: rec.Version, Artifact: a, Bytes: ab, FromCache: true, RegistryErr: cause}, nil
}

// cached returns the cached artifact of v, if it is there and has v's checksum.
func (l *Loader) cached(v Version) ([]byte, *model.Artifact, bool) {
	p := l.artifactPath(v)
	if p == "" || v.Checksum == "" {
		return nil, nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, false
	}
	a, err := Verify(b, v.Checksum)
	if err != nil {
		l.logger().Warn("ignoring a bad cached model", "path", p, "err", err)
		return nil, nil, false
	}
	return b, a, true
}

// remember records what ref resolved to.
func (l *Loader) remember(ref Ref, v Version) {
	p := l.refPath(ref)
	if p == "" {
		return
	}
	b, err := json.MarshalIndent(refRecord{Ref: ref.String(), Version: v, ResolvedAt: time.Now().UTC()}, "", "  ")
	if err == nil {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
			err = model.WriteFileAtomic(p, b)
		}
	}
	if err != nil {
		l.logger().Warn("could not record the resolved reference in the cache", "ref", ref.String(), "err", err)
	}
}

func (l *Loader) modelDir(name string) string {
	if l.Dir == "" || CheckName(name) != nil {
		return ""
	}
	return filepath.Join(l.Dir, CacheKey(l.Registry.Location()), name)
}

func (l *Loader) artifactPath(v Version) string {
	d := l.modelDir(v.Name)
	if d == "" || CheckVersion(v.Version) != nil {
		return ""
	}
	return filepath.Join(d, v.Version+".taxieta")
}

func (l *Loader) refPath(ref Ref) string {
	d := l.modelDir(ref.Name)
	if d == "" {
		return ""
	}
	name := "v" + ref.Version
	if ref.Alias != "" {
		name = "alias-" + ref.Alias
	}
	return filepath.Join(d, "refs", name+".json")
}

// CacheKey names a registry location in the cache: the location with every
// character but letters, digits, '.', '-' and '_' replaced, cut to 48
// characters, and 12 hex digits of its sha256.
func CacheKey(location string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, location)
	safe = strings.Trim(safe, "_.")
	if len(safe) > 48 {
		safe = safe[len(safe)-48:]
	}
	sum := sha256.Sum256([]byte(location))
	return safe + "-" + hex.EncodeToString(sum[:6])
}
