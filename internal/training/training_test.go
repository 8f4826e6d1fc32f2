package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

func train(t testing.TB, kind, tr, va string) *model.Artifact {
	t.Helper()
	dir := testenv.DataDir(t)
	lookup, shapes := DefaultZoneFiles(dir)
	a, err := Run(context.Background(), Config{
		Kind: kind, Train: []string{tr}, Valid: []string{va}, Rules: trip.DefaultRules(),
		ZoneLookup: lookup, ZoneShapes: shapes, Trainer: "test", Created: time.Unix(0, 0),
	}, &tlc.Resolver{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Anchors are the figures, measured with scikit-learn 1.2 on the
// same files: the lab's model as written, one-hot LinearRegression on the
// lab's features, and one-hot PU_DO pairs plus trip distance.
var splits = []struct {
	train, valid           string
	labModel, middle, best float64
	// middleFactor is the share of the middle anchor the od model must
	// stay under: the target is 25% under it.
	middleFactor float64
}{
	{"green:2021-01", "green:2021-02", 11.76, 10.45, 7.48, 0.75},
	{"green:2022-01", "green:2022-02", 9.84, 8.17, 6.77, 0.75},
	{"green:2023-01", "green:2023-02", 9.19, 7.31, 6.03, 0.75},
}

func TestODTargets(t *testing.T) {
	for _, sp := range splits {
		t.Run(sp.train, func(t *testing.T) {
			a := train(t, "od", sp.train, sp.valid)
			v := a.Metrics.Valid
			if v.RMSEWithTime == nil {
				t.Fatal("no RMSE with pickup time for the od model")
			}
			t.Logf("valid RMSE %.4f (best anchor %.2f, middle %.2f), coverage %.4f, with time %.4f", v.RMSE, sp.best, sp.middle, v.IntervalCoverage, *v.RMSEWithTime)
			if v.RMSE > 0.97*sp.best {
				t.Errorf("valid RMSE %.4f; want at least 3%% under %.2f", v.RMSE, sp.best)
			}
			if v.RMSE > sp.middleFactor*sp.middle {
				t.Errorf("valid RMSE %.4f; want under %.2f × %.2f", v.RMSE, sp.middleFactor, sp.middle)
			}
			if v.IntervalCoverage < 0.78 || v.IntervalCoverage > 0.82 {
				t.Errorf("interval coverage %.4f; want 0.78..0.82", v.IntervalCoverage)
			}
			if *v.RMSEWithTime >= v.RMSE {
				t.Errorf("RMSE with pickup time %.4f; want below %.4f", *v.RMSEWithTime, v.RMSE)
			}
		})
	}
}

// sklearnReference is testdata/sklearn_reference.json, written by
// scripts/sklearn_reference.py.
type sklearnReference struct {
	SklearnVersion string `json:"sklearn_version"`
	Splits         []struct {
		Train     string `json:"train"`
		Valid     string `json:"valid"`
		TrainRows int64  `json:"train_rows"`
		ValidRows int64  `json:"valid_rows"`
		Linear    struct {
			ValidRMSE float64 `json:"valid_rmse"`
		} `json:"linear"`
	} `json:"splits"`
}

func TestLinearMatchesScikitLearn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sklearn_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref sklearnReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Splits) != 3 {
		t.Fatalf("reference has %d splits; want 3", len(ref.Splits))
	}
	for _, sp := range ref.Splits {
		t.Run(sp.Train, func(t *testing.T) {
			a := train(t, "linear", sp.Train, sp.Valid)
			v := a.Metrics.Valid
			if a.Metrics.Train.Rows != sp.TrainRows || v.Rows != sp.ValidRows {
				t.Errorf("rows %d/%d; scikit-learn had %d/%d", a.Metrics.Train.Rows, v.Rows, sp.TrainRows, sp.ValidRows)
			}
			if rel := math.Abs(v.RMSE/sp.Linear.ValidRMSE - 1); rel > 0.005 {
				t.Errorf("valid RMSE %.6f; scikit-learn %s %.6f (%.3f%% apart, want within 0.5%%)", v.RMSE, ref.SklearnVersion, sp.Linear.ValidRMSE, 100*rel)
			} else {
				t.Logf("valid RMSE %.6f; scikit-learn %.6f (%.5f%% apart)", v.RMSE, sp.Linear.ValidRMSE, 100*rel)
			}
		})
	}
}

func TestTrainingIsReproducible(t *testing.T) {
	a1, err := train(t, "od", "green:2022-01", "green:2022-02").Encode()
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := train(t, "od", "green:2022-01", "green:2022-02").Encode()
	if !bytes.Equal(a1, a2) {
		t.Error("the same inputs gave different artifacts")
	}
}

func TestTrainingBadInput(t *testing.T) {
	dir := testenv.DataDir(t)
	tmp := t.TempDir()
	notParquet := filepath.Join(tmp, "x.parquet")
	if err := os.WriteFile(notParquet, []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sources []string
		rules   trip.Rules
		want    error
	}{
		{"missing file", []string{filepath.Join(tmp, "nope.parquet")}, trip.DefaultRules(), os.ErrNotExist},
		{"not parquet", []string{notParquet}, trip.DefaultRules(), tlc.ErrFormat},
		{"missing columns", []string{filepath.Join(dir, "taxi_zone_lookup.csv")}, trip.DefaultRules(), tlc.ErrFormat},
		{"empty after cleaning", []string{"green:2021-01"}, trip.Rules{MinMinutes: 1e7, MaxMinutes: 2e7}, ErrNoData},
		{"month not in data dir", []string{"green:2019-01"}, trip.DefaultRules(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), Config{Kind: "od", Train: tt.sources, Rules: tt.rules}, &tlc.Resolver{DataDir: dir})
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}
