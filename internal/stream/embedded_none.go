//go:build nonatsserver

package stream

import (
	"context"
	"errors"
)

// Embedded stands in for the embedded NATS server in builds without it
// (-tags nonatsserver): the container image leaves it out to stay small,
// since deployments run NATS as its own service.
type Embedded struct{}

// StartEmbedded fails: this build has no embedded NATS server.
func StartEmbedded(context.Context, EmbeddedConfig) (*Embedded, error) {
	return nil, errors.New("this taxieta was built without the embedded NATS server (-tags nonatsserver, as the container image is); pass --nats nats://HOST:4222")
}

// URL is empty: there is no server.
func (e *Embedded) URL() string { return "" }

// Shutdown does nothing.
func (e *Embedded) Shutdown() {}
