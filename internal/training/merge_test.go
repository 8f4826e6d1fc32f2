package training

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// Statistics of files aggregated apart, merged in any order and grouping,
// give the same model bytes as one pass over every file. The files are
// three months and the first again (a repeated file must not collide with
// itself): about 286,000 trips, more than the sample holds, so that the
// bottom-k merge is what decides the calibration trips.
func TestMergeAnyOrderSameModel(t *testing.T) {
	dir := testenv.DataDir(t)
	ctx := context.Background()
	r := &tlc.Resolver{DataDir: dir}
	sources := []string{"green:2021-01..2021-03", "green:2021-01"}
	rules := trip.DefaultRules()
	whole, set, err := Aggregate(ctx, r, rules, sources)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Trips() <= model.SampleSize {
		t.Fatalf("%d trips; want more than the sample's %d", whole.Trips(), model.SampleSize)
	}
	files, err := r.Resolve(ctx, sources...)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]*model.Stats, len(files))
	for i, path := range files {
		parts[i] = model.NewStats()
		if _, _, err := AggregateFile(ctx, path, i, rules, parts[i]); err != nil {
			t.Fatal(err)
		}
	}
	merge := func(t *testing.T, group ...*model.Stats) *model.Stats {
		t.Helper()
		m := model.NewStats()
		for _, g := range group {
			if err := m.Merge(g); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	lookup, shapes := DefaultZoneFiles(dir)
	zt, err := LoadZones(lookup, shapes)
	if err != nil {
		t.Fatal(err)
	}
	// A cheap drift calibration: the profile's counts are what merging
	// could change, its bootstrap is the same code whatever the counts.
	ds := drift.DefaultSettings()
	ds.Replicates, ds.Sizes = 10, []int{100}
	artifact := func(t *testing.T, kind string, st *model.Stats) []byte {
		t.Helper()
		cfg := Config{Kind: kind, Train: sources, Rules: rules, Trainer: "test", Created: time.Unix(0, 0), Drift: ds}
		a, err := FromStats(ctx, cfg, r, zt, st, set)
		if err != nil {
			t.Fatal(err)
		}
		b, err := a.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p := parts
	merges := []struct {
		name  string
		stats func(t *testing.T) *model.Stats
	}{
		{"reversed", func(t *testing.T) *model.Stats { return merge(t, p[3], p[2], p[1], p[0]) }},
		{"grouped", func(t *testing.T) *model.Stats { return merge(t, merge(t, p[3], p[1]), merge(t, p[0], merge(t, p[2]))) }},
	}
	for _, kind := range model.Kinds {
		want := artifact(t, kind, whole)
		for i, m := range merges {
			if (kind != model.KindOD || raceEnabled) && i > 0 {
				// The linear fit reads the same statistics, and the race
				// detector's slowdown is spent on one merge: one is enough.
				break
			}
			t.Run(kind+"/"+m.name, func(t *testing.T) {
				if got := artifact(t, kind, m.stats(t)); !bytes.Equal(got, want) {
					t.Errorf("merged statistics give a different %s model (%d bytes) than one pass (%d bytes)", kind, len(got), len(want))
				}
			})
		}
	}
	if err := merge(t, p[0]).Merge(p[0]); err == nil {
		t.Error("merging a file's statistics twice: no error")
	}
}
