// Package serving keeps the models a server answers with: the one it serves
// by default and, for registries, other versions on request. The web
// service, batch and streaming modes read models through it; swapping the
// default is atomic, so requests in flight finish on the model they started with.
package serving

import (
	"context"
	"errors"
	"time"

	"github.com/taxieta/taxieta/internal/model"
)

// Model is a loaded model and the identity it is served under.
type Model struct {
	Artifact *model.Artifact
	// Name and Version identify the model in responses, logs and metrics;
	// the version is a string, as registries give it.
	Name    string
	Version string
	// Source says where it came from: "embedded", a file or a registry reference.
	Source   string
	LoadedAt time.Time
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
	m *Model
}

// NewStatic serves m.
func NewStatic(m *Model) *Static { return &Static{m: m} }

// Default returns the served model.
func (s *Static) Default() *Model { return s.m }

// Version returns the served model if v is its version (or empty).
func (s *Static) Version(_ context.Context, v string) (*Model, error) {
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
