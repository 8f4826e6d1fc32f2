package serving

import (
	"context"
	"errors"
	"fmt"

	"github.com/taxieta/taxieta/internal/registry"
)

// RegistrySource serves a registry reference (models:/NAME@ALIAS or
// models:/NAME/VERSION) through a registry.Loader, which verifies checksums
// and keeps a local cache.
type RegistrySource struct {
	Loader *registry.Loader
	Ref    registry.Ref
}

// Resolve returns the version the reference names now.
func (s *RegistrySource) Resolve(ctx context.Context) (string, error) {
	v, err := s.Loader.Registry.Resolve(ctx, s.Ref)
	if err != nil {
		return "", err
	}
	return v.Version, nil
}

// Load returns a verified version of the reference's model.
func (s *RegistrySource) Load(ctx context.Context, version string) (*ModelVersion, error) {
	if registry.CheckVersion(version) != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownVersion, version)
	}
	ref := registry.Ref{Name: s.Ref.Name, Version: version}
	v, err := s.Loader.Registry.Resolve(ctx, ref)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownVersion, ref)
	}
	if err != nil {
		return nil, err
	}
	l, err := s.Loader.LoadVersion(ctx, v)
	if err != nil {
		return nil, err
	}
	return FromLoaded(l), nil
}

// First loads what the reference names at start, falling back on the
// cache when the registry is down (the Loader logs that it did).
func (s *RegistrySource) First(ctx context.Context) (*ModelVersion, error) {
	l, err := s.Loader.Load(ctx, s.Ref)
	if err != nil {
		return nil, err
	}
	return FromLoaded(l), nil
}

// List describes the versions of the reference's model.
func (s *RegistrySource) List(ctx context.Context) ([]Info, error) {
	vs, err := s.Loader.Registry.List(ctx, s.Ref.Name)
	if err != nil {
		return nil, err
	}
	out := make([]Info, len(vs))
	for i, v := range vs {
		out[i] = Info{Name: v.Name, Version: v.Version, Aliases: v.Aliases, Source: v.Source}
	}
	return out, nil
}

// FromLoaded wraps a loaded registry version as a served model.
func FromLoaded(l *registry.Loaded) *ModelVersion {
	src := l.Ref.String()
	if l.FromCache {
		src += " (cached copy: registry unavailable)"
	}
	return &ModelVersion{Artifact: l.Artifact, Name: l.Version.Name, Version: l.Version.Version, Source: src, FromCache: l.FromCache}
}

// Now loads what the reference names now, with no fallback on the cache
// when the registry is down: for a one-off job, such as scoring a file,
// that must use the version the reference names, not the one it last named.
func (s *RegistrySource) Now(ctx context.Context) (*ModelVersion, error) {
	v, err := s.Loader.Registry.Resolve(ctx, s.Ref)
	if err != nil {
		return nil, err
	}
	l, err := s.Loader.LoadVersion(ctx, v)
	if err != nil {
		return nil, err
	}
	l.Ref = s.Ref
	return FromLoaded(l), nil
}
