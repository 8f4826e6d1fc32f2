package batch

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunShowsProgress: a run with Progress draws the input's bar, which
// ends full, with the rows scored and the outcome.
func TestRunShowsProgress(t *testing.T) {
	a := testModel(t)
	o := options(a, dataFile(t, "green_tripdata_2023-02.parquet"), filepath.Join(t.TempDir(), "out.csv"))
	var bar strings.Builder
	o.Progress = &bar
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	last := bar.String()[strings.LastIndex(bar.String(), "\r"):]
	want := regexp.MustCompile(`^\rgreen_tripdata_2023-02\.parquet \[=+\] 100\.0% (\d+) rows \d+ rows/s done in \S+\n$`)
	m := want.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last draw %q; want it to match %s", last, want)
	}
	if m[1] != "64809" || sum.Rows != 64809 {
		t.Errorf("bar ends at %s rows, the summary at %d; want 64809", m[1], sum.Rows)
	}
}
