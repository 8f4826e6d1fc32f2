//go:build race

package httpapi

// raceEnabled reports whether the race detector is on: under it sync.Pool
// drops items at random, so allocation counts are measured without it.
const raceEnabled = true
