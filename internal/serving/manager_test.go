package serving

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/trip"
)

// registerTwo puts two distinct versions of one model in a local registry:
// the embedded default (version 1) and a linear model fitted on a few
// trips (version 2). The alias champion points at version 1.
func registerTwo(t *testing.T) (*registry.Local, string) {
	t.Helper()
	dir := t.TempDir()
	reg, err := registry.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	var ex []trip.Example
	for i := range 2000 {
		ex = append(ex, trip.Example{Trip: trip.Trip{PULocationID: uint16(i%50 + 1), DOLocationID: uint16(i%70 + 1), Passengers: 1}, Minutes: float32(5 + i%40)})
	}
	lin, err := model.LinearEstimator{}.Fit(ctx, ex)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewArtifact(lin, model.Artifact{Name: "taxi-duration", Trainer: "test", Zones: a.Zones})
	if err != nil {
		t.Fatal(err)
	}
	for _, art := range []*model.Artifact{a, b} {
		enc, err := art.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, "taxi-duration", enc, registry.RunInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.SetAlias(ctx, "taxi-duration", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	return reg, dir
}

func newManager(t *testing.T, reg registry.Registry, promReg *prometheus.Registry) (*Manager, *RegistrySource) {
	t.Helper()
	src := &RegistrySource{
		Loader: &registry.Loader{Registry: reg, Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Ref:    registry.Ref{Name: "taxi-duration", Alias: "champion"},
	}
	first, err := src.First(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return NewManager(src, first, ManagerOptions{CacheSize: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: promReg}), src
}

func TestManagerFollowsAlias(t *testing.T) {
	reg, _ := registerTwo(t)
	pr := prometheus.NewRegistry()
	m, _ := newManager(t, reg, pr)
	ctx := context.Background()
	if v := m.Default().Version; v != "1" {
		t.Fatalf("serving %s; want 1", v)
	}
	// Requests run throughout the swap; each finishes on a whole model.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var served atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				mod := m.Default()
				if p := mod.Artifact.Model.Predict(trip.Trip{PULocationID: 74, DOLocationID: 75}); p.Minutes <= 0 {
					t.Errorf("bad prediction %+v from version %s", p, mod.Version)
				}
				served.Add(1)
			}
		}()
	}
	if got, err := m.Reload(ctx); err != nil || got.Version != "1" {
		t.Fatalf("reload without a move: %v %v", got, err)
	}
	if err := reg.SetAlias(ctx, "taxi-duration", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	got, err := m.Reload(ctx)
	stop.Store(true)
	wg.Wait()
	if err != nil || got.Version != "2" || m.Default().Version != "2" {
		t.Fatalf("after the alias moved: %v %v", got, err)
	}
	if n := counterValue(m.swaps.WithLabelValues("swapped")); n != 1 {
		t.Errorf("swaps counted %v; want 1", n)
	}
	if served.Load() == 0 {
		t.Error("no requests ran during the swap")
	}
}

func TestManagerRefusesCorruptVersion(t *testing.T) {
	reg, dir := registerTwo(t)
	m, _ := newManager(t, reg, prometheus.NewRegistry())
	ctx := context.Background()
	// Flip a byte of version 2's artifact in the registry, then point the alias at it.
	p := filepath.Join(dir, "taxi-duration", "versions", "2", "model.taxieta")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAlias(ctx, "taxi-duration", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(ctx); err == nil {
		t.Fatal("a corrupted version was swapped in")
	}
	if v := m.Default().Version; v != "1" {
		t.Errorf("serving %s after a refused swap; want 1", v)
	}
	if n := counterValue(m.swaps.WithLabelValues("refused")); n != 1 {
		t.Errorf("refusals counted %v; want 1", n)
	}
}

func TestManagerVersions(t *testing.T) {
	reg, _ := registerTwo(t)
	m, _ := newManager(t, reg, prometheus.NewRegistry())
	ctx := context.Background()
	tests := []struct {
		version string
		want    string
		err     error
	}{
		{"", "1", nil},
		{"1", "1", nil},
		{"2", "2", nil},
		{"2", "2", nil}, // cached now
		{"3", "", ErrUnknownVersion},
		{"../1", "", ErrUnknownVersion},
	}
	for _, tt := range tests {
		got, err := m.Version(ctx, tt.version)
		if !errors.Is(err, tt.err) || (err == nil && got.Version != tt.want) {
			t.Errorf("Version(%q) = %v, %v; want %s, %v", tt.version, got, err, tt.want, tt.err)
		}
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 2 || !list[0].Default || !list[1].Loaded || list[1].Default {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestFollowStopsWithContext(t *testing.T) {
	reg, _ := registerTwo(t)
	m, _ := newManager(t, reg, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Follow(ctx, 10*time.Millisecond); close(done) }()
	if err := reg.SetAlias(context.Background(), "taxi-duration", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for m.Default().Version != "2" {
		select {
		case <-deadline:
			t.Fatal("Follow did not pick up the moved alias")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	<-done
}

func counterValue(c prometheus.Counter) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return -1
	}
	return d.GetCounter().GetValue()
}
