package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/mlflow"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/registry"
)

// loadedModel is a model ready to serve and the identity it is served under.
type loadedModel struct {
	Artifact *model.Artifact
	// Name and Version identify the model in responses, logs and metrics.
	// A file's version is the first 12 hex digits of its checksum; a
	// registry's versions are its own.
	Name    string
	Version string
	// Source says where it came from: "embedded", a file path or a registry reference.
	Source string
	// FromCache says a registry reference was served from the local cache
	// because the registry could not be reached.
	FromCache bool
}

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

// modelSource says where loadModel looks up registry references.
type modelSource struct {
	env   environment
	flags registryFlags
	// log receives the warning when a cached copy stands in for the registry (nil: text on env.stderr).
	log *slog.Logger
}

// loadModel loads the model named by ref: empty for the embedded default,
// models:/NAME/VERSION or models:/NAME@ALIAS for a registry's version (the
// registry and cache that src names; without src such references are
// refused), else a file path.
//
// A registry reference is resolved, downloaded and verified against its
// registered checksum, and cached; if the registry cannot be reached but the
// cache holds what the reference last resolved to, that copy is served and a
// warning logged (FromCache is set).
func loadModel(ctx context.Context, ref string, src ...modelSource) (*loadedModel, error) {
	if ref == "" {
		a, err := defaultmodel.Load()
		if err != nil {
			return nil, err
		}
		return &loadedModel{Artifact: a, Name: a.Name, Version: a.Checksum[:12], Source: "embedded"}, nil
	}
	if registry.IsRef(ref) {
		if len(src) == 0 {
			return nil, fmt.Errorf("load model %s: this command takes no --registry flag, so it cannot load registry references; download the model first (taxieta model download %s --out FILE)", ref, ref)
		}
		return loadRegistryModel(ctx, ref, src[0])
	}
	a, err := model.ReadFile(ref)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load model %s: %w", ref, err)
	}
	return &loadedModel{Artifact: a, Name: a.Name, Version: a.Checksum[:12], Source: ref}, nil
}

func loadRegistryModel(ctx context.Context, s string, src modelSource) (*loadedModel, error) {
	ref, err := registry.ParseRef(s)
	if err != nil {
		return nil, usageError{err}
	}
	log := src.log
	if log == nil {
		log = slog.New(slog.NewTextHandler(src.env.stderr, nil))
	}
	l, err := src.flags.loader(src.env, log)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", ref, err)
	}
	got, err := l.Load(ctx, ref)
	if errors.Is(err, registry.ErrUnavailable) {
		return nil, fmt.Errorf("load model %s: the registry %s cannot be reached and no copy is cached in %s: %w", ref, l.Registry.Location(), l.Dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s from %s: %w", ref, l.Registry.Location(), err)
	}
	return &loadedModel{
		Artifact: got.Artifact, Name: got.Version.Name, Version: got.Version.Version,
		Source: fmt.Sprintf("%s (%s)", ref, l.Registry.Location()), FromCache: got.FromCache,
	}, nil
}
