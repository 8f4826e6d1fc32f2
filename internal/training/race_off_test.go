//go:build !race

package training

// raceEnabled reports whether the race detector is on: it slows the code
// tenfold and adds shadow memory, so memory bounds are measured without it.
const raceEnabled = false
