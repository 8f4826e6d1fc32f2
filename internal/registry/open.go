package registry

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/taxieta/taxieta/internal/mlflow"
)

// Select returns the registry location to use: flag (the --registry flag,
// which the CLI also fills from TAXIETA_REGISTRY), else TAXIETA_REGISTRY,
// else MLFLOW_TRACKING_URI, else DefaultDir. It also says where the choice
// came from, for messages.
func Select(flag string, getenv func(string) string) (location, from string) {
	switch {
	case flag != "":
		return flag, "--registry"
	case getenv("TAXIETA_REGISTRY") != "":
		return getenv("TAXIETA_REGISTRY"), "TAXIETA_REGISTRY"
	case getenv("MLFLOW_TRACKING_URI") != "":
		return getenv("MLFLOW_TRACKING_URI"), "MLFLOW_TRACKING_URI"
	}
	return DefaultDir(getenv), "default"
}

// DefaultDir is the local registry used when nothing names one:
// $XDG_DATA_HOME/taxieta/registry, else ~/.local/share/taxieta/registry,
// else one under the temporary directory.
func DefaultDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "taxieta", "registry")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "taxieta", "registry")
	}
	return filepath.Join(os.TempDir(), "taxieta-registry")
}

// Options tune Open.
type Options struct {
	// HTTPClient talks to an MLflow server (nil: one with mlflow.DefaultTimeout).
	HTTPClient *http.Client
	// Logger receives the registry's own log lines (nil: none).
	Logger *slog.Logger
	// MLflowAuth are the credentials for an MLflow server that asks for them.
	MLflowAuth mlflow.Auth
	// MLflowLayout forces how new versions are stored in MLflow: "", LayoutRun or LayoutLoggedModel.
	MLflowLayout string
}

// Open returns the registry at location: an http(s):// URI is an MLflow
// tracking server, anything else a directory (a file: URI is taken as a
// directory too). MLflow's other tracking URIs (databricks, sqlite, ...) are
// refused with an explanation.
func Open(location string, opts Options) (Registry, error) {
	switch {
	case location == "":
		return nil, fmt.Errorf("registry: no location")
	case strings.HasPrefix(location, "http://"), strings.HasPrefix(location, "https://"):
		c, err := mlflow.New(location, opts.HTTPClient)
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		c.SetAuth(opts.MLflowAuth)
		return NewMLflow(c, opts.MLflowLayout, opts.Logger)
	case strings.HasPrefix(location, "file://"):
		return NewLocal(strings.TrimPrefix(location, "file://"))
	case strings.Contains(location, "://") || strings.HasPrefix(location, "databricks"):
		return nil, fmt.Errorf("registry %q: taxieta speaks to an MLflow tracking server over http(s)://, or uses a local directory", location)
	}
	return NewLocal(location)
}
