package training

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// A shard's encoding round-trips to the same bytes, a rewrite leaves one
// file, and merged shards are the statistics Aggregate folds.
func TestShardRoundTripAndMerge(t *testing.T) {
	dir := testenv.DataDir(t)
	ctx := context.Background()
	r := &tlc.Resolver{DataDir: dir}
	sources := []string{"green:2021-01..2021-02"}
	out := t.TempDir()
	var paths []string
	for _, i := range []int{1, 0, 1} {
		s, err := MapShard(ctx, r, trip.DefaultRules(), "taxieta test", sources, i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Shard
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		b2, err := back.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Errorf("file %d: decoding and encoding again changed the bytes", i)
		}
		p, err := WriteShard(out, s)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if paths[0] != paths[2] {
		t.Errorf("the same file mapped twice: %s and %s", paths[0], paths[2])
	}
	if ents, _ := os.ReadDir(out); len(ents) != 2 {
		t.Errorf("%d files in %s, want 2", len(ents), out)
	}
	st, set, rules, err := MergeShards(paths, "taxieta test", 2)
	if err != nil {
		t.Fatal(err)
	}
	want, wantSet, err := Aggregate(ctx, r, trip.DefaultRules(), sources)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.MarshalBinary()
	wantB, _ := want.MarshalBinary()
	if !bytes.Equal(got, wantB) || rules != trip.DefaultRules() {
		t.Error("merged shards are not Aggregate's statistics")
	}
	if set.Stats != wantSet.Stats || len(set.Files) != 2 || set.Files[0] != wantSet.Files[0] || set.Files[1] != wantSet.Files[1] {
		t.Errorf("dataset %+v, want %+v", set, wantSet)
	}
	if _, _, _, err := MergeShards(paths, "taxieta other", 0); err == nil || !strings.Contains(err.Error(), `"taxieta other"`) {
		t.Errorf("another trainer: %v", err)
	}
	if _, err := MapShard(ctx, r, trip.DefaultRules(), "taxieta test", sources, 2); err == nil || !strings.Contains(err.Error(), "indexes 0..1") {
		t.Errorf("index out of range: %v", err)
	}
	// Every cut of a shard fails to decode.
	b, err := os.ReadFile(filepath.Clean(paths[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10, len(b) / 2, len(b) - 1} {
		var s Shard
		if err := s.UnmarshalBinary(b[:n]); err == nil {
			t.Errorf("the first %d of %d bytes decoded", n, len(b))
		}
	}
}
