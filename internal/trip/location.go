package trip

import (
	"fmt"
	"sync"
	"time"
	_ "time/tzdata" // the zone database is linked in, so NYC works in a container without one
)

// NYC returns the America/New_York location, in which trip times are
// stated: a pickup time with a UTC offset is converted to it (ParseTime).
// It is loaded once per process, from the system's zone database or else
// the copy linked into the binary, so the error means the name itself is
// unknown to both and does not happen in practice; callers still pass it
// on rather than guess a zone.
func NYC() (*time.Location, error) { return loadNYC() }

// loadNYC loads the location on first use and keeps the result.
var loadNYC = sync.OnceValues(func() (*time.Location, error) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return nil, fmt.Errorf("load the America/New_York time zone: %w", err)
	}
	return loc, nil
})
