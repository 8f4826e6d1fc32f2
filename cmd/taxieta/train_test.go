package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"
)

func TestTrainJSON(t *testing.T) {
	data := testenv.DataDir(t)
	out := filepath.Join(t.TempDir(), "m.taxieta")
	var stdout bytes.Buffer
	env := func(string) string { return "" }
	err := run(context.Background(), []string{"train", "--data-dir", data, "--model", "od", "--train", "green:2023-01", "--valid", "green:2023-02", "--out", out, "--json"}, env, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Train map[string]float64 `json:"train"`
		Valid map[string]float64 `json:"valid"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	for _, k := range []string{"rows", "rmse", "mae", "r2"} {
		if doc.Train[k] == 0 || doc.Valid[k] == 0 {
			t.Errorf("train.%s = %v, valid.%s = %v", k, doc.Train[k], k, doc.Valid[k])
		}
	}
	if doc.Valid["rows"] != 62574 || doc.Valid["interval_coverage"] < 0.78 || doc.Valid["interval_coverage"] > 0.82 || doc.Valid["rmse_with_time"] == 0 {
		t.Errorf("valid = %v", doc.Valid)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("no artifact: %v", err)
	}
}

// Bad input: a clear error naming the file and the cause, a non-zero exit
// code, and no artifact written.
func TestTrainBadInput(t *testing.T) {
	data := testenv.DataDir(t)
	dir := t.TempDir()
	notParquet := filepath.Join(dir, "notes.parquet")
	if err := os.WriteFile(notParquet, []byte("these are not trips"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(data, "green_tripdata_2021-01.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "cut.parquet")
	if err := os.WriteFile(truncated, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		inErr string
	}{
		{"missing file", []string{"--train", filepath.Join(dir, "absent.parquet")}, "absent.parquet"},
		{"not parquet", []string{"--train", notParquet}, "notes.parquet"},
		{"truncated", []string{"--train", truncated}, "cut.parquet"},
		{"missing columns", []string{"--train", filepath.Join(data, "taxi_zone_lookup.csv")}, "no pickup time column"},
		{"empty after cleaning", []string{"--train", "green:2021-01", "--min-minutes", "5000", "--max-minutes", "6000"}, "no trips left after cleaning"},
		{"unknown model", []string{"--train", "green:2021-01", "--model", "forest"}, "forest"},
		{"no --out", []string{"--train", "green:2021-01", "--out", ""}, "--out is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.taxieta")
			args := append([]string{"train", "--data-dir", data, "--out", out}, tt.args...)
			err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || exitCode(err) == 0 {
				t.Fatalf("err = %v (exit %d); want a failure", err, exitCode(err))
			}
			if !strings.Contains(err.Error(), tt.inErr) {
				t.Errorf("error %q does not say %q", err, tt.inErr)
			}
			if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
				t.Errorf("an artifact was written: %v", statErr)
			}
		})
	}
}
