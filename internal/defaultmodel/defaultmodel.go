// Package defaultmodel embeds the model every taxieta binary can serve with
// no data and no registry: the od model trained on green taxi trips of
// January to April 2023 and measured on March 2024. `make default-model`
// regenerates it byte for byte from the TLC files.
package defaultmodel

import (
	_ "embed"
	"fmt"

	"github.com/taxieta/taxieta/internal/model"
)

// FileName is the embedded artifact's file name in this directory.
const FileName = "taxi-duration.taxieta"

//go:embed taxi-duration.taxieta
var artifact []byte

// Bytes returns the embedded artifact file.
func Bytes() []byte { return artifact }

// Load decodes and verifies the embedded artifact.
func Load() (*model.Artifact, error) {
	a, err := model.Decode(artifact)
	if err != nil {
		return nil, fmt.Errorf("load embedded default model: %w", err)
	}
	return a, nil
}
