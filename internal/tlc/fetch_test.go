package tlc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A real HTTP server stands in for the TLC's download host, serving a real
// monthly file; resolving a month not in the data directory downloads it
// into the cache, atomically, once.
func TestResolveDownloadsIntoCache(t *testing.T) {
	dir := dataDir(t)
	want, err := os.ReadFile(filepath.Join(dir, "green_tripdata_2021-02.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path != "/trip-data/green_tripdata_2021-02.parquet" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "f.parquet", time.Time{}, bytes.NewReader(want))
	}))
	defer srv.Close()
	cache := t.TempDir()
	var progress strings.Builder
	r := &Resolver{DataDir: t.TempDir(), CacheDir: cache, Fetcher: &Fetcher{BaseURL: srv.URL + "/trip-data", Progress: &progress}}
	for range 2 {
		files, err := r.Resolve(context.Background(), "green:2021-02")
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(files[0])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("downloaded %d bytes (%v); want the %d-byte file", len(got), err, len(want))
		}
	}
	if hits != 1 {
		t.Errorf("%d downloads; want 1 (the second resolve uses the cache)", hits)
	}
	// The bar ends full, with the outcome.
	if p := progress.String(); !strings.Contains(p, "green_tripdata_2021-02.parquet [") || !strings.Contains(p, "100.0%") ||
		!strings.HasSuffix(p, "\n") || !strings.Contains(p, " done in ") {
		t.Errorf("progress shown: %q; want the file's bar, ending full and done", p)
	}
	if _, err := r.Resolve(context.Background(), "green:2020-07"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a month the server lacks: err = %v; want the 404", err)
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".part") {
			t.Errorf("a partial download was left: %s", e.Name())
		}
	}
}

func TestFetchOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r := &Resolver{CacheDir: t.TempDir(), Fetcher: &Fetcher{BaseURL: "http://" + addr}}
	_, err = r.Resolve(context.Background(), "green:2021-01")
	if !errors.Is(err, errOffline) || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("err = %v; want the offline explanation", err)
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec string
		want []string
		bad  bool
	}{
		{"green:2021-01", []string{"green:2021-01"}, false},
		{"green:2021-11..2022-02", []string{"green:2021-11", "green:2021-12", "green:2022-01", "green:2022-02"}, false},
		{"yellow:2019-03", []string{"yellow:2019-03"}, false},
		{"green:2021-13", nil, true},
		{"green:2021-03..2021-01", nil, true},
		{"fhv:2021-01", nil, true},
		{"green:2000-01..2030-01", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.spec)
		if (err != nil) != tt.bad {
			t.Errorf("%s: err = %v", tt.spec, err)
			continue
		}
		var names []string
		for _, m := range got {
			names = append(names, m.String())
		}
		if strings.Join(names, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s = %v; want %v", tt.spec, names, tt.want)
		}
	}
}
