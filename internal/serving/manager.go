package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/backoff"
	"github.com/taxieta/taxieta/internal/trip"
)

// Source is where a Manager gets models: a registry reference that may move
// (an alias) and the versions behind it.
type Source interface {
	// Resolve returns the version the served reference names now.
	Resolve(ctx context.Context) (string, error)
	// Load returns a verified model version; an unknown version is an error
	// wrapping ErrUnknownVersion.
	Load(ctx context.Context, version string) (*ModelVersion, error)
	// List describes the versions available.
	List(ctx context.Context) ([]Info, error)
}

// ManagerOptions tune a Manager.
type ManagerOptions struct {
	// CacheSize bounds how many versions besides the default stay loaded.
	CacheSize int
	Logger    *slog.Logger
	// Registerer receives the manager's metrics; nil means none.
	Registerer prometheus.Registerer
}

// Manager serves a moving reference: it swaps the default model atomically
// when the reference moves, after the new version loads and passes checks,
// and keeps a bounded cache of other versions requested by callers. A
// version that fails to load or verify is refused and the old one keeps
// serving; registry outages never stop serving.
type Manager struct {
	src  Source
	log  *slog.Logger
	max  int
	cur  atomic.Pointer[ModelVersion]
	mu   sync.Mutex // guards lru and used
	rmu  sync.Mutex // serialises reloads
	lru  map[string]*ModelVersion
	used []string // versions, least recently used first

	swaps          *prometheus.CounterVec
	registryErrors prometheus.Counter
}

// NewManager serves first, the model the source resolved at start.
func NewManager(src Source, first *ModelVersion, opts ManagerOptions) *Manager {
	m := &Manager{src: src, log: opts.Logger, max: opts.CacheSize, lru: map[string]*ModelVersion{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.max <= 0 {
		m.max = 4
	}
	m.swaps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "taxieta_model_swaps_total",
		Help: "Attempts to swap the served model when its reference moved, by result (swapped, refused).",
	}, []string{"result"})
	m.registryErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "taxieta_registry_errors_total",
		Help: "Failed calls to the model registry while following the served reference.",
	})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(m.swaps, m.registryErrors)
	}
	m.swaps.WithLabelValues("swapped")
	m.swaps.WithLabelValues("refused")
	m.cur.Store(first)
	return m
}

// Default returns the model served by default.
func (m *Manager) Default() *ModelVersion { return m.cur.Load() }

// Version returns a specific version: the default, a cached one, or one it
// loads now (and caches, evicting the least recently used).
func (m *Manager) Version(ctx context.Context, v string) (*ModelVersion, error) {
	if cur := m.cur.Load(); cur != nil && (v == "" || v == cur.Version) {
		return cur, nil
	}
	m.mu.Lock()
	if mod, ok := m.lru[v]; ok {
		m.touch(v)
		m.mu.Unlock()
		return mod, nil
	}
	m.mu.Unlock()
	mod, err := m.src.Load(ctx, v)
	if err != nil {
		return nil, err
	}
	if err := Check(mod); err != nil {
		return nil, fmt.Errorf("model version %s: %w", v, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if have, ok := m.lru[v]; ok { // loaded concurrently
		m.touch(v)
		return have, nil
	}
	m.lru[v] = mod
	m.touch(v)
	for len(m.used) > m.max {
		delete(m.lru, m.used[0])
		m.used = m.used[1:]
	}
	return mod, nil
}

func (m *Manager) touch(v string) {
	if i := slices.Index(m.used, v); i >= 0 {
		m.used = slices.Delete(m.used, i, i+1)
	}
	m.used = append(m.used, v)
}

// List describes the versions available, marking those loaded and the default.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	list, err := m.src.List(ctx)
	if err != nil {
		return nil, err
	}
	cur := m.cur.Load()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range list {
		_, cached := m.lru[list[i].Version]
		isDefault := cur != nil && list[i].Version == cur.Version
		list[i].Loaded = cached || isDefault
		list[i].Default = isDefault
	}
	return list, nil
}

// Reload re-resolves the reference and, when it names another version,
// loads and checks it, then swaps. On failure the current model keeps serving.
func (m *Manager) Reload(ctx context.Context) (*ModelVersion, error) {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	cur := m.cur.Load()
	v, err := m.src.Resolve(ctx)
	if err != nil {
		m.registryErrors.Inc()
		return cur, fmt.Errorf("resolve the served reference: %w", err)
	}
	if cur != nil && v == cur.Version {
		return cur, nil
	}
	next, err := m.src.Load(ctx, v)
	if err == nil {
		err = Check(next)
	}
	if err != nil {
		m.swaps.WithLabelValues("refused").Inc()
		m.log.Error("refused a new model version; the current one keeps serving", "version", v, "current", versionOf(cur), "err", err)
		return cur, fmt.Errorf("version %s refused: %w", v, err)
	}
	m.cur.Store(next)
	m.swaps.WithLabelValues("swapped").Inc()
	m.log.Info("model swapped", "from", versionOf(cur), "to", next.Version, "name", next.Name, "sha256", next.Artifact.Checksum)
	return next, nil
}

func versionOf(m *ModelVersion) string {
	if m == nil {
		return ""
	}
	return m.Version
}

// Follow calls Reload every interval until ctx ends, backing off
// exponentially (up to ten intervals) while the registry fails.
func (m *Manager) Follow(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	wait := backoff.New(interval, 10*interval)
	for {
		if backoff.Sleep(ctx, wait.Delay()) != nil {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, max(interval, 30*time.Second))
		_, err := m.Reload(rctx)
		cancel()
		switch {
		case err == nil:
			wait.Reset()
		case ctx.Err() != nil:
			return
		default:
			m.log.Warn("following the model reference failed; serving on", "err", err, "retry_in", wait.Advance().String())
		}
	}
}

// Check refuses a model that does not predict sanely: every estimate on a
// spread of trips must be a finite duration of 0–1000 minutes inside its range.
func Check(m *ModelVersion) error {
	if m == nil || m.Artifact == nil || m.Artifact.Model == nil {
		return errors.New("no model")
	}
	for pu := uint16(1); pu <= trip.MaxZone; pu += 11 {
		for _, p := range []int8{trip.NoPassengers, 1, 4} {
			t := trip.Trip{PULocationID: pu, DOLocationID: trip.MaxZone + 1 - pu, Passengers: p}
			for _, withTime := range []bool{false, true} {
				if withTime {
					t.Pickup = time.Date(2024, 3, 4, int(pu)%24, 0, 0, 0, time.UTC)
				}
				e := m.Artifact.Model.Predict(t)
				v := float64(e.Minutes)
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1000 || e.Low > e.Minutes || e.High < e.Minutes {
					return fmt.Errorf("implausible estimate %+v for %+v", e, t)
				}
			}
		}
	}
	return nil
}
