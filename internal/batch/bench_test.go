package batch

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPredictMonth scores a real month, parquet in and parquet out, and
// in the same loop reads and writes the same file without scoring it (same
// reader, same output columns, estimates left zero). It reports both rates
// (rows/s, readwrite-rows/s) and their ratio. The runs alternate, so both
// see the same machine load, and each rate is the month's rows over the
// median run time, so that a burst of load from other processes does not
// decide the figure. Both leave out the fsync before the rename, which
// measures the disk; rows/s-fsync is a third run with it, as the command
// runs by default. cpu-ns/row is CPU time (all threads) per row, on average.
//
//	go test -run '^$' -bench PredictMonth -benchtime 20x ./internal/batch
func BenchmarkPredictMonth(b *testing.B) {
	a := testModel(b)
	for _, month := range []string{"green_tripdata_2021-01.parquet", "green_tripdata_2024-03.parquet"} {
		b.Run(month[len("green_tripdata_"):len(month)-len(".parquet")], func(b *testing.B) {
			in := dataFile(b, month)
			opts := options(a, in, filepath.Join(b.TempDir(), "scored.parquet"))
			synced, err := opts.check()
			if err != nil {
				b.Fatal(err)
			}
			opts.NoSync = true
			predict, err := opts.check()
			if err != nil {
				b.Fatal(err)
			}
			copyOnly := predict
			copyOnly.copyOnly = true
			var (
				rows                        int64
				predictT, copyT, syncT      []time.Duration
				predictCPU, copyCPU, unused time.Duration
			)
			timed := func(c config, wall *[]time.Duration, cpu *time.Duration) int64 {
				// Each run writes a new file, as a run of the command
				// does: replacing the last run's output would add the
				// kernel's time to free the old file (about 2 ms here).
				if err := os.Remove(c.Out); err != nil && !errors.Is(err, fs.ErrNotExist) {
					b.Fatal(err)
				}
				w0, c0 := time.Now(), cpuTime()
				sum, err := run(context.Background(), c)
				if err != nil {
					b.Fatal(err)
				}
				*wall = append(*wall, time.Since(w0))
				*cpu += cpuTime() - c0
				return sum.Rows
			}
			for b.Loop() {
				timed(copyOnly, &copyT, &copyCPU)
				rows = timed(predict, &predictT, &predictCPU)
				timed(synced, &syncT, &unused)
			}
			runs := float64(len(predictT))
			b.ReportMetric(float64(rows)/median(predictT).Seconds(), "rows/s")
			b.ReportMetric(float64(rows)/median(copyT).Seconds(), "readwrite-rows/s")
			b.ReportMetric(median(copyT).Seconds()/median(predictT).Seconds(), "ratio")
			b.ReportMetric(float64(rows)/median(syncT).Seconds(), "rows/s-fsync")
			b.ReportMetric(float64(predictCPU.Nanoseconds())/float64(rows)/runs, "cpu-ns/row")
			b.ReportMetric(float64(copyCPU.Nanoseconds())/float64(rows)/runs, "readwrite-cpu-ns/row")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkParquetWriter encodes a real month's scored rows as the parquet
// output, to io.Discard: the writer's share of a run, apart from the
// reading and the disk.
func BenchmarkParquetWriter(b *testing.B) {
	a := testModel(b)
	in := dataFile(b, "green_tripdata_2021-01.parquet")
	c, err := options(a, in, "-").check()
	if err != nil {
		b.Fatal(err)
	}
	src, err := openSource(in, nil, false)
	if err != nil {
		b.Fatal(err)
	}
	p := &pipeline{cfg: &c}
	var rows []tripRow
	err = src.read(context.Background(), func(chunk []tripRow) ([]tripRow, error) {
		p.score(chunk)
		rows = append(rows, chunk...)
		return chunk[:0], nil
	})
	if err != nil {
		b.Fatal(err)
	}
	meta := outputMeta{ids: src.ids(), modelName: a.Name, modelVersion: "test-version", input: in}
	for b.Loop() {
		w, err := newParquetWriter(io.Discard, meta)
		if err != nil {
			b.Fatal(err)
		}
		for chunk := range slices.Chunk(rows, chunkRows) {
			if err := w.write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rows)), "ns/row")
}
