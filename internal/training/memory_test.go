package training

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// thirteenMonths are the green months in the shared data directory.
var thirteenMonths = []string{"green:2021-01..2021-05", "green:2022-01..2022-03", "green:2023-01..2023-04", "green:2024-03"}

// helperEnv makes the test binary, run again, train on that many copies of
// the thirteen months and exit: a process of its own, whose peak RSS the
// kernel measures.
const helperEnv = "TAXIETA_TRAINING_HELPER_COPIES"

func TestHelperTrain(t *testing.T) {
	copies, err := strconv.Atoi(os.Getenv(helperEnv))
	if err != nil {
		t.Skip("helper process for TestMemoryStaysFlat")
	}
	var sources []string
	for range copies {
		sources = append(sources, thirteenMonths...)
	}
	dir := testenv.DataDir(t)
	lookup, shapes := DefaultZoneFiles(dir)
	a, err := Run(context.Background(), Config{
		Kind: "od", Train: sources, Rules: trip.DefaultRules(),
		ZoneLookup: lookup, ZoneShapes: shapes, Trainer: "test", Created: time.Unix(0, 0),
	}, &tlc.Resolver{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%d trips trained on\n", a.Training.Stats.Kept)
}

// peakRSS trains on copies × the thirteen months in a process of its own
// and returns its peak RSS in bytes and the trips it trained on.
func peakRSS(t *testing.T, copies int) (rss int64, trips string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTrain$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+strconv.Itoa(copies))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("train on %d copies: %v\n%s", copies, err, out)
	}
	if i := bytes.Index(out, []byte(" trips trained on")); i >= 0 {
		trips = string(out[bytes.LastIndexByte(out[:i], '\n')+1 : i])
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this platform")
	}
	return ru.Maxrss * 1024, trips // kilobytes on Linux
}

// Memory stays flat whatever the number of trips: training on 6 copies of
// the thirteen green months (5.4 million trips) takes no more memory than
// training on one copy (898,803 trips, more than the sample holds), give
// or take the garbage collector's timing, and stays under a fixed bound.
// Holding the trips, as training did, took 2.1 GB at 10 copies.
func TestMemoryStaysFlat(t *testing.T) {
	switch {
	case testing.Short():
		t.Skip("trains on millions of trips")
	case raceEnabled:
		t.Skip("peak RSS is measured without the race detector (its shadow memory and tenfold slowdown would measure it, not predict): go test -run TestMemoryStaysFlat ./internal/training")
	}
	testenv.DataDir(t)
	const (
		bigCopies = 6
		bound     = 300 << 20 // bytes of peak RSS
		// slack is what the big run may take beyond the small one: noise
		// of the garbage collector (28 MB measured once on a loaded
		// machine), never a growth with the trips (the trainer that held
		// them took 1.9 GB on 10 copies).
		slack = 48 << 20
	)
	rssSmall, small := peakRSS(t, 1)
	rssBig, big := peakRSS(t, bigCopies)
	t.Logf("peak RSS: %s trips %.1f MB, %s trips %.1f MB", small, float64(rssSmall)/(1<<20), big, float64(rssBig)/(1<<20))
	if rssBig > bound {
		t.Errorf("peak RSS %.1f MB on %s trips; want under %d MB", float64(rssBig)/(1<<20), big, bound>>20)
	}
	if rssBig > rssSmall+slack {
		t.Errorf("peak RSS grows with the trips: %.1f MB for %s, %.1f MB for %s", float64(rssSmall)/(1<<20), small, float64(rssBig)/(1<<20), big)
	}
}
