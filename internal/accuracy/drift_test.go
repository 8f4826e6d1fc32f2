package accuracy

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/batch"
	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/trip"
)

// TestDriftReport: the drift of the judged trips of green 2024-03 is
// scored against the estimating model's profile, overall and per day; a
// profile missing, or one of another model, says why drift is not
// computed; a day with few trips says "not computed" and no score is NaN.
func TestDriftReport(t *testing.T) {
	data := testenv.DataDir(t)
	actuals := filepath.Join(data, "green_tripdata_2024-03.parquet")
	svc, mv := seam(t, nil)
	out := filepath.Join(t.TempDir(), "scored.parquet")
	if _, err := batch.Run(context.Background(), batch.Options{In: actuals, Out: out, Models: svc, Model: mv, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	name := mv.Name + " " + mv.Version
	p := mv.Artifact.Profile
	if p == nil {
		t.Fatal("the default model has no drift profile")
	}
	tests := []struct {
		name     string
		cfg      DriftConfig
		computed bool
		reason   string
	}{
		{"profile", DriftConfig{Model: name, Profile: p}, true, ""},
		{"no profile", DriftConfig{Model: name, NoProfile: "the model m has no drift profile"}, false, "the model m has no drift profile"},
		{"another model", DriftConfig{Model: "other 1", Profile: p}, false, "not by other 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			rep, err := Run(context.Background(), out, actuals, Config{Rules: mv.Artifact.Cleaning.Rules, Drift: &cfg})
			if err != nil {
				t.Fatal(err)
			}
			d := rep.Drift
			if d == nil || d.Computed != tt.computed || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("drift %+v; want computed %v, reason %q", d, tt.computed, tt.reason)
			}
			if b, err := json.Marshal(rep); err != nil || strings.Contains(string(b), "NaN") {
				t.Fatalf("JSON: %v", err)
			}
			if !tt.computed {
				if d.Overall != nil || len(d.Days) > 0 {
					t.Errorf("not computed, yet windows: %+v", d)
				}
				return
			}
			if d.Overall.Trips != rep.Overall.Kept {
				t.Errorf("drift over %d trips; %d judged", d.Overall.Trips, rep.Overall.Kept)
			}
			var days int64
			for _, day := range d.Days {
				days += day.Trips
				hw := day.Features[3]
				if hw.Feature != "hour_of_week" || hw.Computed != (hw.Trips >= 200) || hw.Reference != drift.RefHours {
					t.Errorf("day %s: %+v; a day's hour of week is scored within its 24 hours", day.Day, hw)
				}
				for _, f := range day.Features {
					if f.Computed && f.Reference != drift.RefHours {
						t.Errorf("day %s: %s scored against %q; want the day's hours", day.Day, f.Feature, f.Reference)
					}
				}
				if day.Trips < 200 && (day.Features[0].Computed || !strings.Contains(day.Note, "not computed")) {
					t.Errorf("day %s of %d trips: %+v", day.Day, day.Trips, day)
				}
			}
			// A day with no judged trip has no drift window.
			if days != d.Overall.Trips || len(d.Days) > len(rep.Days) || len(d.Days) < 31 {
				t.Errorf("days add up to %d trips in %d days; overall %d in %d days", days, len(d.Days), d.Overall.Trips, len(rep.Days))
			}
			// Green 2024-03: a year after the training months, scored
			// but not flagged on pickup zones.
			if f := d.Overall.Features[0]; !f.Computed || f.Score <= 0 || f.Flag {
				t.Errorf("pickup_zone %+v", f)
			}
		})
	}
	// Without a DriftConfig the report has no drift.
	rep, err := Evaluate(context.Background(), out, actuals, trip.Rules{})
	if err != nil || rep.Drift != nil {
		t.Errorf("Evaluate: %v, drift %+v", err, rep.Drift)
	}
}

// TestDaysOfTrainingMonths: the report's days of the months the default
// model was trained on are scored against the reference of their own
// hours of week, so weekends and nights are not drift: no day raises a
// flag but the public holidays (a Monday holiday's trips look like a
// Sunday's), and the whole month none; another period (green 2021-01)
// flags the pickup zones on every day.
func TestDaysOfTrainingMonths(t *testing.T) {
	data := testenv.DataDir(t)
	svc, mv := seam(t, nil)
	holidays := []string{"2023-01-01", "2023-01-02", "2023-01-16", "2023-02-20"}
	var days, flagged int
	for _, tt := range []struct {
		file    string
		drifted bool
	}{
		{"green_tripdata_2023-01.parquet", false},
		{"green_tripdata_2023-02.parquet", false},
		{"green_tripdata_2023-03.parquet", false},
		{"green_tripdata_2023-04.parquet", false},
		{"green_tripdata_2021-01.parquet", true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			actuals := filepath.Join(data, tt.file)
			out := filepath.Join(t.TempDir(), "scored.parquet")
			if _, err := batch.Run(context.Background(), batch.Options{In: actuals, Out: out, Models: svc, Model: mv, NoSync: true}); err != nil {
				t.Fatal(err)
			}
			cfg := DriftConfig{Model: mv.Name + " " + mv.Version, Profile: mv.Artifact.Profile}
			rep, err := Run(context.Background(), out, actuals, Config{Rules: mv.Artifact.Cleaning.Rules, Drift: &cfg})
			if err != nil {
				t.Fatal(err)
			}
			d := rep.Drift
			if !d.Computed {
				t.Fatalf("drift not computed: %s", d.Reason)
			}
			if got := len(d.Overall.Flagged) > 0; got != tt.drifted {
				t.Errorf("whole month flagged %v; want %v", d.Overall.Flagged, tt.drifted)
			}
			for _, day := range d.Days {
				if day.Trips < 1000 {
					continue // the few trips a file holds of other months
				}
				if len(day.Flagged) > 0 {
					t.Logf("%s (%d trips): flagged %v", day.Day, day.Trips, day.Flagged)
				}
				if tt.drifted {
					if !slices.Contains(day.Flagged, "pickup_zone") {
						t.Errorf("%s: pickup_zone not flagged: %+v", day.Day, day.Features[0])
					}
					continue
				}
				days++
				if len(day.Flagged) > 0 {
					flagged++
					if !slices.Contains(holidays, day.Day) {
						t.Errorf("%s, not a holiday: flagged %v", day.Day, day.Flagged)
					}
				}
			}
		})
	}
	t.Logf("training months: %d of %d days flagged", flagged, days)
	if days < 115 {
		t.Errorf("%d days of the training months scored", days)
	}
}
