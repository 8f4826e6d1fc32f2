package accuracy

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/batch"
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
				if hw.Feature != "hour_of_week" || hw.Computed || hw.Flag {
					t.Errorf("day %s: %+v; a day's hour of week is never scored", day.Day, hw)
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
