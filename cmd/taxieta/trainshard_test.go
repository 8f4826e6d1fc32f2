package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/training"
)

// reproducible is the environment of the map/merge tests: a fixed
// creation time, as the default model is built with.
func reproducible(k string) string {
	if k == "SOURCE_DATE_EPOCH" {
		return "1700000000"
	}
	return ""
}

// runOK runs the program with args and fails the test on an error.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout bytes.Buffer
	if err := run(context.Background(), args, reproducible, &stdout, io.Discard); err != nil {
		t.Fatalf("taxieta %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String()
}

// shardFiles are the statistics files in dir, by name.
func shardFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	return files
}

// Map each month in a run of its own (one twice), merge in another order:
// the same model bytes as one train over the same months.
func TestTrainMapMergeSameModel(t *testing.T) {
	data := testenv.DataDir(t)
	tmp := t.TempDir()
	const months = "green:2021-01..2021-03"
	whole := filepath.Join(tmp, "whole.taxieta")
	runOK(t, "train", "--data-dir", data, "--train", months, "--valid", "green:2021-04", "--out", whole)

	stats := filepath.Join(tmp, "stats")
	var first map[string][]byte
	for n, index := range []string{"2", "0", "1", "0"} {
		out := runOK(t, "train", "map", "--data-dir", data, "--train", months, "--index", index, "--out", stats)
		if !strings.Contains(out, "file "+index+" of 3: green_tripdata_2021-0") {
			t.Errorf("map --index %s said %q", index, out)
		}
		if n == 2 {
			first = shardFiles(t, stats)
		}
	}
	again := shardFiles(t, stats)
	if len(again) != 3 {
		t.Fatalf("after 4 map runs of 3 files, %d files in %s: %v", len(again), stats, slices.Collect(mapKeys(again)))
	}
	for name, b := range first {
		if !bytes.Equal(again[name], b) {
			t.Errorf("mapping file 0 again changed %s", name)
		}
	}

	var paths []string
	for name := range again {
		paths = append(paths, filepath.Join(stats, name))
	}
	slices.Sort(paths)
	slices.Reverse(paths) // by hash: not the files' order
	want, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	for _, stats := range [][]string{paths, {stats}} {
		merged := filepath.Join(tmp, "merged.taxieta")
		args := []string{"train", "merge", "--data-dir", data, "--valid", "green:2021-04", "--expect", "3", "--out", merged}
		for _, p := range stats {
			args = append(args, "--stats", p)
		}
		runOK(t, args...)
		got, err := os.ReadFile(merged)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("merge of %v: %d bytes differing from one train's %d", stats, len(got), len(want))
		}
	}
}

func mapKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Bad statistics files: a clear error naming the file and what differs,
// and no model written.
func TestTrainMergeBadInput(t *testing.T) {
	data := testenv.DataDir(t)
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good")
	runOK(t, "train", "map", "--data-dir", data, "--train", "green:2021-01..2021-02", "--out", good)
	paths, err := training.ShardPaths([]string{good})
	if err != nil {
		t.Fatal(err)
	}
	shards := map[int]string{}
	for _, p := range paths {
		s, err := training.ReadShard(p)
		if err != nil {
			t.Fatal(err)
		}
		shards[s.Header.Ordinal] = p
	}
	if len(shards) != 2 {
		t.Fatalf("map of 2 months wrote %v", paths)
	}

	// Another trainer version: the same statistics, another header.
	s, err := training.ReadShard(shards[1])
	if err != nil {
		t.Fatal(err)
	}
	s.Header.Trainer = "taxieta v0.0.1-elsewhere"
	otherVersion, err := training.WriteShard(filepath.Join(tmp, "version"), s)
	if err != nil {
		t.Fatal(err)
	}
	// Other cleaning rules.
	rulesDir := filepath.Join(tmp, "rules")
	runOK(t, "train", "map", "--data-dir", data, "--train", "green:2021-01..2021-02", "--index", "1", "--min-minutes", "2", "--out", rulesDir)
	// Truncated, foreign bytes, another format version.
	b, err := os.ReadFile(shards[1])
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
	truncated := write("cut.stats", b[:len(b)/2])
	foreign := write("foreign.stats", []byte("PAR1 these are not statistics"))
	future := write("future.stats", append([]byte("taxieta-shard v9\n"), b[len("taxieta-shard v1\n"):]...))
	// The same file of the same sources, with other content in between.
	link := filepath.Join(tmp, "month.parquet")
	linked := func(month, dir string) string {
		os.Remove(link)
		if err := os.Symlink(filepath.Join(data, "green_tripdata_"+month+".parquet"), link); err != nil {
			t.Fatal(err)
		}
		runOK(t, "train", "map", "--train", link, "--out", filepath.Join(tmp, dir))
		return filepath.Join(tmp, dir)
	}
	jan, feb := linked("2021-01", "jan"), linked("2021-02", "feb")

	tests := []struct {
		name  string
		args  []string
		inErr []string
	}{
		{"other trainer version", []string{"--stats", shards[0], "--stats", otherVersion}, []string{otherVersion, `"taxieta v0.0.1-elsewhere"`}},
		{"other cleaning rules", []string{"--stats", shards[0], "--stats", rulesDir}, []string{rulesDir, "cleaning rules", "MinMinutes:2"}},
		{"truncated", []string{"--stats", shards[0], "--stats", truncated}, []string{truncated, "checksum mismatch"}},
		{"foreign bytes", []string{"--stats", foreign}, []string{foreign, "not a valid statistics file"}},
		{"other format version", []string{"--stats", future}, []string{future, `"taxieta-shard v9"`}},
		{"missing shard", []string{"--stats", shards[1]}, []string{"missing shards: file 0 of the 2 files"}},
		{"expect more", []string{"--stats", good, "--expect", "3"}, []string{"expected 3 shards", "has 2 files"}},
		{"same file, other content", []string{"--stats", jan, "--stats", feb}, []string{"file 0 is month.parquet", "feb", "jan"}},
		{"no such stats", []string{"--stats", filepath.Join(tmp, "absent")}, []string{"absent"}},
		{"unknown model", []string{"--stats", good, "--model", "forest"}, []string{"forest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.taxieta")
			args := append([]string{"train", "merge", "--data-dir", data, "--out", out}, tt.args...)
			err := run(context.Background(), args, reproducible, io.Discard, io.Discard)
			if err == nil || exitCode(err) == 0 {
				t.Fatalf("err = %v (exit %d); want a failure", err, exitCode(err))
			}
			for _, s := range tt.inErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
				t.Errorf("a model was written: %v", statErr)
			}
		})
	}
	// The good shards do merge.
	runOK(t, "train", "merge", "--data-dir", data, "--stats", good, "--expect", "2", "--out", filepath.Join(tmp, "m.taxieta"))
}

func TestTrainMapMergeHelp(t *testing.T) {
	for _, sub := range []string{"map", "merge"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"train", sub, "--help"}, reproducible, &stdout, &stderr)
		if err != nil && !errors.Is(err, flag.ErrHelp) { // main exits 0 on flag.ErrHelp
			t.Fatalf("train %s --help: %v", sub, err)
		}
		if !strings.Contains(stdout.String()+stderr.String(), "taxieta train "+sub) {
			t.Errorf("train %s --help says %q", sub, stdout.String()+stderr.String())
		}
	}
}
