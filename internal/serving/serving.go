// Package serving is the one way taxieta predicts, whatever the deployment:
// the web service, batch scoring and the stream consumer all ask a Service
// for the model version to use and predict through it. A Service keeps the
// models it answers with (the default and, for registries, other versions on
// request), counts predictions by model version and caller, and is the one
// place an Observer of every prediction is attached. Swapping the default
// is atomic, so requests in flight finish on the version they started with.
package serving

import (
	"context"
	"errors"

	"github.com/taxieta/taxieta/internal/model"
)

// ModelVersion is a model loaded for serving and the identity it is served
// under. model.Model is the learnt function; a ModelVersion is one artifact
// of it as a registry or file named it.
type ModelVersion struct {
	Artifact *model.Artifact
	// Name and Version identify the model in responses, logs and metrics;
	// the version is a string, as registries give it (a file's version is
	// the first 12 hex digits of its checksum).
	Name    string
	Version string
	// Source says where it came from: "embedded", a file or a registry reference.
	Source string
	// FromCache says a registry reference was served from the local cache
	// because the registry could not be reached.
	FromCache bool
}

// ErrUnknownVersion is returned for a version the source does not have.
var ErrUnknownVersion = errors.New("unknown model version")

// Info describes a model version for listings.
type Info struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Aliases []string `json:"aliases,omitempty"`
	Source  string   `json:"source,omitempty"`
	Loaded  bool     `json:"loaded"`
	Default bool     `json:"default"`
}

// Static serves one model, for ever (a Manager follows a moving reference).
type Static struct {
	m *ModelVersion
}

// NewStatic serves m.
func NewStatic(m *ModelVersion) *Static { return &Static{m: m} }

// Default returns the served model.
func (s *Static) Default() *ModelVersion { return s.m }

// Version returns the served model if v is its version (or empty).
func (s *Static) Version(_ context.Context, v string) (*ModelVersion, error) {
	m := s.m
	if m != nil && (v == "" || v == m.Version) {
		return m, nil
	}
	return nil, ErrUnknownVersion
}

// List describes the served model.
func (s *Static) List(context.Context) ([]Info, error) {
	m := s.m
	if m == nil {
		return nil, nil
	}
	return []Info{{Name: m.Name, Version: m.Version, Source: m.Source, Loaded: true, Default: true}}, nil
}
