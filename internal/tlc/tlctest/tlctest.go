// Package tlctest reads real TLC files for tests: the trips the default
// cleaning keeps, and evenly spaced samples of them. Only tests import it.
package tlctest

import (
	"context"
	"testing"

	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// CleanTrips reads the trips of the TLC file at path that the default
// cleaning rules keep, failing t when the file cannot be read.
func CleanTrips(t testing.TB, path string) []trip.Trip {
	t.Helper()
	var out []trip.Trip
	var st trip.Stats
	rules := trip.DefaultRules()
	err := tlc.ReadFile(context.Background(), path, func(rows []trip.Raw) error {
		for _, r := range rows {
			if ex, ok := rules.Clean(r, &st); ok {
				out = append(out, ex.Trip)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Spread returns n trips evenly spaced through trips (all of them when
// there are no more than n), so that a sample covers the whole file.
func Spread(trips []trip.Trip, n int) []trip.Trip {
	if n >= len(trips) {
		return trips
	}
	out := make([]trip.Trip, n)
	for i := range out {
		out[i] = trips[i*len(trips)/n]
	}
	return out
}
