// Package testenv finds what taxieta's tests need from the machine: the
// folder of real TLC files. Only tests import it.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// DataDir returns the folder of real TLC files: $TAXIETA_DATA_DIR, else
// shared/data beside the repository. Without it the test skips, or fails
// when TAXIETA_REQUIRE_DATA is set (as the test script sets it), so that a
// missing data folder can never turn into a green run.
func DataDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("TAXIETA_DATA_DIR")
	if d == "" {
		_, file, _, _ := runtime.Caller(0)
		d = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(d, "taxi_zone_lookup.csv")); err != nil {
		if os.Getenv("TAXIETA_REQUIRE_DATA") != "" {
			t.Fatalf("real TLC data not found in %s: %v", d, err)
		}
		t.Skipf("real TLC data not found in %s (set TAXIETA_DATA_DIR)", d)
	}
	return d
}

// RepoRoot is the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Service returns the address of a server the test script started, read
// from the environment variable name (e.g. TAXIETA_NATS_URL). Without it the
// test skips, or fails when TAXIETA_REQUIRE_SERVICES is set, as the test
// script sets it: a server that did not start can never pass as a skip.
func Service(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("TAXIETA_REQUIRE_SERVICES") != "" {
			t.Fatalf("%s is not set: the test script should have started this server", name)
		}
		t.Skipf("%s not set; run the tests with make test, which starts the server", name)
	}
	return v
}
