//go:build race

package live_test

// raceEnabled reports whether the race detector is on: it slows the
// atomic counters a hundredfold, too much for replaying whole months.
const raceEnabled = true
