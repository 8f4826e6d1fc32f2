package serving

import (
	"errors"
	"time"
)

// ProtocolOptions are what every standard protocol served over the seam
// (MLflow's scoring protocol, the Open Inference Protocol) is told alike, so
// that each binding of the same service keeps the same limits.
type ProtocolOptions struct {
	// MaxRows is the most trips one request may hold (default 10,000).
	MaxRows int
	// MaxBodyBytes bounds a request body (default 8 MiB).
	MaxBodyBytes int64
	// Version is the taxieta build's version, which each protocol's
	// metadata or version call answers.
	Version string
	// Location is the time zone of pickup times without an offset (New York).
	Location *time.Location
}

// Check returns o with its defaults filled in, or an error naming what is
// missing.
func (o ProtocolOptions) Check() (ProtocolOptions, error) {
	if o.Location == nil {
		return o, errors.New("no time zone for pickup times")
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 10000
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 8 << 20
	}
	return o, nil
}
