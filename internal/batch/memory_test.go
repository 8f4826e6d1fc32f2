package batch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// layoutAMonths are the green months in type layout A: the same schema, so
// their row groups can be copied into one file as they are.
var layoutAMonths = []string{
	"green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet", "green_tripdata_2021-03.parquet",
	"green_tripdata_2021-04.parquet", "green_tripdata_2021-05.parquet", "green_tripdata_2022-01.parquet",
	"green_tripdata_2022-02.parquet", "green_tripdata_2022-03.parquet",
}

// concatMonths writes copies × the layout-A months into one parquet file,
// row group after row group (copied verbatim), and returns its row count.
func concatMonths(t testing.TB, path string, copies int) int64 {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var (
		w    *parquet.GenericWriter[any]
		rows int64
	)
	for range copies {
		for _, name := range layoutAMonths {
			f, err := os.Open(dataFile(t, name))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := f.Stat()
			pf, err := parquet.OpenFile(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			if w == nil {
				w = parquet.NewGenericWriter[any](out, pf.Schema(), parquet.Compression(&parquet.Gzip))
			}
			for _, rg := range pf.RowGroups() {
				n, err := w.WriteRowGroup(rg)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				rows += n
			}
			f.Close()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// helperEnv makes the test binary, run again, score one file and exit: a
// process of its own, whose peak RSS the kernel measures.
const helperEnv = "TAXIETA_BATCH_HELPER_IN"

func TestHelperPredict(t *testing.T) {
	in := os.Getenv(helperEnv)
	if in == "" {
		t.Skip("helper process for TestMemoryStaysFlat")
	}
	a := testModel(t)
	sum, err := Run(context.Background(), options(a, in, in+".scored.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	// What is still live once the run is over: flat too (the model and
	// the runtime), whatever the input's size.
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	fmt.Printf("%d rows scored, %d garbage collections, %.1f MB live after\n", sum.Rows, ms.NumGC, float64(ms.HeapAlloc)/(1<<20))
}

// peakRSS scores path in a process of its own and returns its peak RSS in bytes.
func peakRSS(t *testing.T, path string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPredict$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("predict %s: %v\n%s", path, err, out)
	}
	if i := bytes.Index(out, []byte(" rows scored")); i >= 0 {
		start := bytes.LastIndexByte(out[:i], '\n') + 1
		end := i + bytes.IndexByte(out[i:], '\n')
		t.Logf("helper: %s", out[start:end])
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this platform")
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}

// Memory stays flat whatever the file size: scoring 6 copies of eight real
// months (3.7 million rows) takes no more memory than scoring one copy
// (610,469 rows), give or take the garbage collector's timing, and stays
// under a fixed bound. Holding the rows would take 400 MB more; keeping 10
// bytes a row, 30 MB more.
func TestMemoryStaysFlat(t *testing.T) {
	switch {
	case testing.Short():
		t.Skip("builds a file of millions of rows")
	case raceEnabled:
		t.Skip("peak RSS is measured without the race detector (its shadow memory and tenfold slowdown would measure it, not predict): go test -run TestMemoryStaysFlat ./internal/batch")
	}
	const (
		bigCopies = 6
		bound     = 200 << 20 // bytes of peak RSS
		// slack is what the big file may take beyond the small one: noise
		// of the garbage collector, never a growth with the file.
		slack = 32 << 20
	)
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small.parquet"), filepath.Join(dir, "big.parquet")
	smallRows := concatMonths(t, small, 1)
	bigRows := concatMonths(t, big, bigCopies)
	if bigRows < 3_000_000 {
		t.Fatalf("big file has %d rows; want millions", bigRows)
	}
	rssSmall := peakRSS(t, small)
	rssBig := peakRSS(t, big)
	t.Logf("peak RSS: %d rows %.1f MB, %d rows %.1f MB", smallRows, float64(rssSmall)/(1<<20), bigRows, float64(rssBig)/(1<<20))
	if rssBig > bound {
		t.Errorf("peak RSS %.1f MB on %d rows; want under %d MB", float64(rssBig)/(1<<20), bigRows, bound>>20)
	}
	if rssBig > rssSmall+slack {
		t.Errorf("peak RSS grows with the file: %.1f MB for %d rows, %.1f MB for %d", float64(rssSmall)/(1<<20), smallRows, float64(rssBig)/(1<<20), bigRows)
	}
}
