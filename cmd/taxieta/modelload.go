package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/mlflow"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/serving"
)

// registryFlags are the flags of every command that talks to a model
// registry: --registry (TAXIETA_REGISTRY; else MLFLOW_TRACKING_URI; else a
// local directory) and the cache of downloaded models under --cache-dir.
// MLflow credentials come from MLflow's own variables: MLFLOW_TRACKING_TOKEN,
// or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
type registryFlags struct {
	location string
	cacheDir string
}

// register adds --registry, and --cache-dir unless the command has it already.
func (r *registryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.location, "registry", "", "model registry: a directory, or an MLflow tracking server http(s)://HOST:PORT (default: MLFLOW_TRACKING_URI if set, else "+registry.DefaultDir(func(string) string { return "" })+")")
	if fs.Lookup("cache-dir") == nil {
		fs.StringVar(&r.cacheDir, "cache-dir", defaultCacheDir(), "directory for downloaded files; models from a registry are kept under models/")
	}
}

// open opens the selected registry.
func (r *registryFlags) open(env environment, log *slog.Logger) (registry.Registry, error) {
	loc, from := registry.Select(r.location, env.getenv)
	reg, err := registry.Open(loc, registry.Options{Logger: log, MLflowAuth: mlflow.Auth{
		Token:    env.getenv("MLFLOW_TRACKING_TOKEN"),
		Username: env.getenv("MLFLOW_TRACKING_USERNAME"),
		Password: env.getenv("MLFLOW_TRACKING_PASSWORD"),
	}})
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, from)
	}
	return reg, nil
}

// loader returns a loader of registry references that caches what it
// downloads under --cache-dir/models.
func (r *registryFlags) loader(env environment, log *slog.Logger) (*registry.Loader, error) {
	reg, err := r.open(env, log)
	if err != nil {
		return nil, err
	}
	l := &registry.Loader{Registry: reg, Logger: log}
	if r.cacheDir != "" {
		l.Dir = filepath.Join(r.cacheDir, "models")
	}
	return l, nil
}

// modelFlags choose the model of every command that predicts (serve,
// stream, predict), with the same flags, environment variables and
// reference syntax for all three: --model, --registry, --cache-dir and,
// for the long-running commands, --reload-interval.
type modelFlags struct {
	ref      string
	registry registryFlags
	// follow is set for commands that follow a registry alias while they
	// run; reloadEvery and cacheSize tune that.
	follow      bool
	reloadEvery time.Duration
	cacheSize   int
}

// register adds the model flags; follow adds those of following an alias.
func (m *modelFlags) register(fs *flag.FlagSet, follow bool) {
	fs.StringVar(&m.ref, "model", "", "model: models:/NAME@ALIAS or models:/NAME/VERSION from the registry, an artifact file, or empty for the embedded default model")
	m.registry.register(fs)
	m.follow = follow
	if follow {
		fs.DurationVar(&m.reloadEvery, "reload-interval", 30*time.Second, "how often to re-resolve a registry reference and switch to the version it names (0: only when asked: POST /admin/reload for serve)")
		fs.IntVar(&m.cacheSize, "model-cache-size", 4, "most model versions kept loaded for requests of a specific version besides the default")
	}
}

// openService opens the prediction seam over the model the flags name.
//
// A registry reference is resolved, downloaded, verified against its
// registered checksum and cached. A command that follows (serve, stream)
// starts from the cached copy when the registry cannot be reached, and the
// returned follow function, run in its own goroutine, re-resolves the
// reference every --reload-interval and switches versions atomically,
// serving on through registry outages. A one-off command (predict) uses
// what the reference names now and fails when the registry cannot say.
// follow is nil when there is nothing to follow.
//
// obs, when not nil, observes every prediction (the prediction log, drift monitoring).
func (m *modelFlags) openService(ctx context.Context, env environment, log *slog.Logger, reg prometheus.Registerer, obs serving.Observer) (svc *serving.Service, follow func(context.Context), err error) {
	opts := serving.Options{Registerer: reg, Observer: obs}
	if !registry.IsRef(m.ref) {
		mv, err := loadFixedModel(ctx, m.ref)
		if err != nil {
			return nil, nil, err
		}
		svc, err := serving.New(serving.NewStatic(mv), opts)
		return svc, nil, err
	}
	ref, err := registry.ParseRef(m.ref)
	if err != nil {
		return nil, nil, usageError{err}
	}
	loader, err := m.registry.loader(env, log)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", ref, err)
	}
	src := &serving.RegistrySource{Loader: loader, Ref: ref}
	where := loader.Registry.Location()
	if !m.follow {
		mv, err := src.Now(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("load model %s from the registry %s: %w", ref, where, err)
		}
		if err := serving.Check(mv); err != nil {
			return nil, nil, fmt.Errorf("model %s from the registry %s: %w", ref, where, err)
		}
		svc, err := serving.New(serving.NewStatic(mv), opts)
		return svc, nil, err
	}
	first, err := src.First(ctx)
	if errors.Is(err, registry.ErrUnavailable) {
		return nil, nil, fmt.Errorf("load model %s: the registry %s cannot be reached and no copy is cached in %s: %w", ref, where, loader.Dir, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s from the registry %s: %w", ref, where, err)
	}
	if err := serving.Check(first); err != nil {
		return nil, nil, fmt.Errorf("model %s from the registry %s: %w", ref, where, err)
	}
	mgr := serving.NewManager(src, first, serving.ManagerOptions{CacheSize: m.cacheSize, Logger: log, Registerer: reg})
	if svc, err = serving.New(mgr, opts); err != nil {
		return nil, nil, err
	}
	return svc, func(ctx context.Context) { mgr.Follow(ctx, m.reloadEvery) }, nil
}

// loadFixedModel loads a model that is not a registry reference: empty for
// the embedded default, else an artifact file. Its version is the first 12
// hex digits of its checksum.
func loadFixedModel(ctx context.Context, path string) (*serving.ModelVersion, error) {
	if path == "" {
		a, err := defaultmodel.Load()
		if err != nil {
			return nil, err
		}
		return &serving.ModelVersion{Artifact: a, Name: a.Name, Version: a.Checksum[:12], Source: "embedded"}, nil
	}
	a, err := model.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return &serving.ModelVersion{Artifact: a, Name: a.Name, Version: a.Checksum[:12], Source: path}, nil
}
