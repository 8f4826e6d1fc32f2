package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc/tlctest"
)

// Yellow taxis train and score like green ones: `data fetch yellow:YYYY-MM`
// downloads the TLC's <base>/yellow_tripdata_YYYY-MM.parquet (a real HTTP
// server on loopback serves the files), `train` fits a model on yellow
// months in both of the TLC's type layouts, and `predict` scores a yellow
// month with it, ride ids and evaluation included. The yellow months are
// the shared 10,000-trip samples written as TLC parquet in a temporary
// folder (tlctest.YellowParquet); nothing is added to the data folder.
func TestYellowFetchTrainPredict(t *testing.T) {
	data := testenv.DataDir(t)
	tmp := t.TempDir()
	served := filepath.Join(tmp, "served")
	if err := os.Mkdir(served, 0o755); err != nil {
		t.Fatal(err)
	}
	layouts := map[string]tlctest.YellowLayout{"2019-03": tlctest.Yellow2019, "2019-04": tlctest.Yellow2023, "2019-05": tlctest.Yellow2019}
	for month, layout := range layouts {
		tlctest.YellowParquet(t, filepath.Join(data, "yellow_tripdata_sample_"+month+".csv"),
			filepath.Join(served, "yellow_tripdata_"+month+".parquet"), layout)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.StripPrefix("/trip-data/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeFile(w, r, filepath.Join(served, filepath.Base(r.URL.Path)))
	})))
	defer srv.Close()
	env := func(string) string { return "" }
	cache := filepath.Join(tmp, "cache")
	common := []string{"--data-dir", filepath.Join(tmp, "empty"), "--cache-dir", cache, "--tlc-base-url", srv.URL + "/trip-data"}
	if err := os.Mkdir(filepath.Join(tmp, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	var stdout bytes.Buffer
	if err := run(context.Background(), append([]string{"data", "fetch"}, append(common, "yellow:2019-03..2019-05")...), env, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	paths := strings.Fields(stdout.String())
	if len(paths) != 3 {
		t.Fatalf("data fetch printed %q; want three paths", stdout.String())
	}
	for i, month := range []string{"2019-03", "2019-04", "2019-05"} {
		want, _ := os.ReadFile(filepath.Join(served, "yellow_tripdata_"+month+".parquet"))
		got, err := os.ReadFile(paths[i])
		if err != nil || !bytes.Equal(got, want) || filepath.Base(paths[i]) != "yellow_tripdata_"+month+".parquet" {
			t.Fatalf("fetched %s: %d bytes (%v); want the served %d-byte yellow_tripdata_%s.parquet", paths[i], len(got), err, len(want), month)
		}
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d downloads; want 3", n)
	}

	// Training reads the months from the cache, the zones from the data folder.
	model := filepath.Join(tmp, "yellow.taxieta")
	stdout.Reset()
	train := append([]string{"train"}, common...)
	train = append(train, "--zones", filepath.Join(data, "taxi_zone_lookup.csv"), "--zone-shapes", filepath.Join(data, "taxi_zones.geojson"),
		"--train", "yellow:2019-03..2019-04", "--valid", "yellow:2019-05", "--out", model, "--json")
	if err := run(context.Background(), train, env, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Train map[string]float64 `json:"train"`
		Valid map[string]float64 `json:"valid"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	t.Logf("yellow model: train %v; valid %v", doc.Train, doc.Valid)
	if doc.Train["rows"] < 15000 || doc.Valid["rows"] < 7500 || doc.Valid["rmse"] <= 0 || doc.Valid["rmse"] > 15 ||
		doc.Valid["interval_coverage"] < 0.6 {
		t.Errorf("train %v, valid %v: want most of 20,000 and 10,000 trips kept, an RMSE in minutes and a working range", doc.Train, doc.Valid)
	}
	if requests.Load() != 3 {
		t.Errorf("training downloaded again (%d requests); want the cache used", requests.Load())
	}

	stdout.Reset()
	scored := filepath.Join(tmp, "scored.csv")
	if err := run(context.Background(), []string{"predict", "--model", model, "--in", paths[2], "--out", scored, "--json"}, env, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Rows       int64 `json:"rows"`
		Written    int64 `json:"written"`
		Evaluation *struct {
			Metrics map[string]float64 `json:"metrics"`
		} `json:"evaluation"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if sum.Rows != 10000 || sum.Written != 10000 || sum.Evaluation == nil || sum.Evaluation.Metrics["rows"] != doc.Valid["rows"] {
		t.Errorf("predict summary %s; want 10,000 rows scored and the validation's %v rows evaluated", stdout.String(), doc.Valid["rows"])
	}
	out, err := os.ReadFile(scored)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 10001 || !strings.HasPrefix(lines[1], "2019/05_0,") || !strings.HasPrefix(lines[10000], "2019/05_9999,") {
		t.Errorf("scored CSV: %d lines, first row %q, last %q; want ride ids 2019/05_0..2019/05_9999", len(lines), lines[1], lines[len(lines)-1])
	}
}
