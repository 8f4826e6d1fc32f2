package main

import (
	"context"
	"fmt"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/model"
)

// loadedModel is a model ready to serve and the identity it is served under.
type loadedModel struct {
	Artifact *model.Artifact
	// Name and Version identify the model in responses, logs and metrics.
	// A file's version is the first 12 hex digits of its checksum; a
	// registry's versions are its own.
	Name    string
	Version string
	// Source says where it came from: "embedded", a file path or a registry reference.
	Source string
}

// loadModel loads the model named by ref: empty for the embedded default,
// else a file path.
func loadModel(ctx context.Context, ref string) (*loadedModel, error) {
	if ref == "" {
		a, err := defaultmodel.Load()
		if err != nil {
			return nil, err
		}
		return &loadedModel{Artifact: a, Name: a.Name, Version: a.Checksum[:12], Source: "embedded"}, nil
	}
	a, err := model.ReadFile(ref)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load model %s: %w", ref, err)
	}
	return &loadedModel{Artifact: a, Name: a.Name, Version: a.Checksum[:12], Source: ref}, nil
}
