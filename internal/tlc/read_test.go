package tlc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"

	"github.com/taxieta/taxieta/internal/trip"
)

func dataDir(t testing.TB) string { return testenv.DataDir(t) }

func cleanFile(t testing.TB, path string) trip.Stats {
	t.Helper()
	var st trip.Stats
	rules := trip.DefaultRules()
	err := ReadFile(context.Background(), path, func(rows []trip.Raw) error {
		for _, r := range rows {
			rules.Clean(r, &st)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The row counts are PROVENANCE.md's: rows in the footer and rows with a
// duration of 1..60 minutes; both parquet type variants are covered.
func TestReadRealMonths(t *testing.T) {
	dir := dataDir(t)
	tests := []struct {
		file       string
		rows, kept int64
		unknownPax int64 // kept rows with empty passenger_count (lower bound)
	}{
		{"green_tripdata_2021-01.parquet", 76518, 73908, 1},
		{"green_tripdata_2022-01.parquet", 62495, 59603, 1},
		{"green_tripdata_2023-02.parquet", 64809, 62574, 1}, // variant B: int32 ids, int64 passenger_count
		{"green_tripdata_2024-03.parquet", 57457, 55139, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st := cleanFile(t, filepath.Join(dir, tt.file))
			if st.Read != tt.rows || st.Kept != tt.kept {
				t.Errorf("read %d kept %d; want %d and %d", st.Read, st.Kept, tt.rows, tt.kept)
			}
			if st.PassengersUnknown < tt.unknownPax {
				t.Errorf("passengers unknown = %d; want some", st.PassengersUnknown)
			}
			if st.Read != st.Kept+st.Dropped() {
				t.Errorf("stats do not add up: %+v", st)
			}
		})
	}
}

func TestReadCSVSample(t *testing.T) {
	dir := dataDir(t)
	st := cleanFile(t, filepath.Join(dir, "yellow_tripdata_sample_2019-03.csv"))
	if st.Read != 10000 || st.Kept == 0 || st.Kept == st.Read {
		t.Errorf("stats %+v: want 10000 read, some kept, some dropped", st)
	}
}

func TestReadBadFiles(t *testing.T) {
	dir := dataDir(t)
	tmp := t.TempDir()
	good, err := os.ReadFile(filepath.Join(dir, "green_tripdata_2021-01.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
	}{
		{"not parquet", write("text.parquet", []byte("hello, this is not parquet at all"))},
		{"truncated", write("trunc.parquet", good[:len(good)/2])},
		{"empty", write("empty.parquet", nil)},
		{"missing columns", filepath.Join(dir, "taxi_zone_lookup.csv")},
		{"csv wrong types", write("bad.csv", []byte("lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,passenger_count\n2021-01-01 00:00:00,2021-01-01 00:10:00,abc,1,1\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadFile(context.Background(), tt.path, func([]trip.Raw) error { return nil })
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v; want ErrFormat", err)
			}
		})
	}
	if err := ReadFile(context.Background(), filepath.Join(tmp, "missing.parquet"), func([]trip.Raw) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v; want ErrNotExist", err)
	}
}
