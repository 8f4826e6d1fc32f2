// Package registry keeps versions of named models and aliases that point at
// them, and hands them back verified. Two implementations stand behind one
// interface: Local, a directory (the default; no server needed), and MLflow,
// an MLflow tracking server's model registry and artifact proxy. Open picks
// one from a location string; ParseRef reads models:/NAME/VERSION and
// models:/NAME@ALIAS references; Loader resolves a reference, downloads and
// caches the artifact, and serves the cached copy when the registry is down.
package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// Registry is a store of model versions and aliases. Implementations are
// safe for concurrent use.
type Registry interface {
	// Location says where the registry is: a directory or a tracking URI.
	Location() string
	// Register stores artifact (an encoded model.Artifact, refused if it
	// does not decode) as a new version of the model name, with what info
	// says of the run that trained it, and returns the new version.
	Register(ctx context.Context, name string, artifact []byte, info RunInfo) (Version, error)
	// SetAlias points alias of the model name at version (moving it if it
	// pointed elsewhere). The version must exist.
	SetAlias(ctx context.Context, name, alias, version string) error
	// Resolve returns the version a reference names.
	Resolve(ctx context.Context, ref Ref) (Version, error)
	// Download returns the artifact of version v, verified: the bytes decode
	// with model.Decode and their checksum is the one registered (v.Checksum
	// when set). A mismatch is an error wrapping ErrChecksum.
	Download(ctx context.Context, v Version) ([]byte, error)
	// List returns the versions of the model name, oldest first.
	List(ctx context.Context, name string) ([]Version, error)
	// Models returns the names of the registered models, sorted.
	Models(ctx context.Context) ([]string, error)
}

// Version is one registered version of a named model.
type Version struct {
	Name string `json:"name"`
	// Version is the registry's own version number, "1", "2", ...
	Version string `json:"version"`
	// Aliases point at this version (sorted).
	Aliases []string `json:"aliases,omitempty"`
	// Checksum is the artifact's sha256, as in its last line (model.Artifact.Checksum).
	Checksum  string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
	// RunID is the training run's id (MLflow's run id; a generated id locally).
	RunID string `json:"run_id,omitempty"`
	// Source is where the artifact is stored: a file path or an artifact URI.
	Source string `json:"source,omitempty"`
}

// Ref returns the reference naming v exactly: models:/NAME/VERSION.
func (v Version) Ref() Ref { return Ref{Name: v.Name, Version: v.Version} }

// RunInfo is what training tells the registry of the run that made an
// artifact. RunInfoFor fills it from an artifact.
type RunInfo struct {
	// Experiment groups runs in MLflow; empty means the model's name.
	Experiment string `json:"experiment,omitempty"`
	// RunName names the run; empty lets the registry choose.
	RunName string             `json:"run_name,omitempty"`
	Params  map[string]string  `json:"params,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Tags    map[string]string  `json:"tags,omitempty"`
	// Dataset is the training data's fingerprint as a JSON document (files
	// with sizes, sha256 and row counts).
	Dataset []byte `json:"-"`
	// Inputs name the datasets the run read (MLflow shows them as the run's datasets).
	Inputs []DataInput `json:"inputs,omitempty"`
	// Started is when training started (zero: now).
	Started time.Time `json:"started"`
}

// DataInput is one dataset a run read.
type DataInput struct {
	// Context is what the run did with it: "training" or "validation".
	Context string `json:"context"`
	// Name is the sources as given to training, e.g. "green:2021-01".
	Name string `json:"name"`
	// Digest is a short hash of the files' sha256 sums.
	Digest string `json:"digest"`
	// Files are the files read, with their sha256 and row counts.
	Files []trip.DataFile `json:"files"`
	// Rows is the number of rows kept after cleaning.
	Rows int64 `json:"rows"`
}

// Errors that say why a registry call failed. Test with errors.Is.
var (
	// ErrNotFound: no such model, version or alias.
	ErrNotFound = errors.New("not found in the model registry")
	// ErrUnavailable: the registry could not be reached (a server down or failing).
	ErrUnavailable = errors.New("model registry unavailable")
	// ErrChecksum: the downloaded artifact is not the one registered.
	ErrChecksum = errors.New("model artifact does not match its registered checksum")
)

// RefPrefix starts every registry reference.
const RefPrefix = "models:/"

// Ref names a registered model version: exactly one of Version and Alias is
// set. Version "latest" means the highest version.
type Ref struct {
	Name    string
	Version string
	Alias   string
}

// Latest is the Version of a Ref that names the newest version.
const Latest = "latest"

// String is the reference as ParseRef reads it.
func (r Ref) String() string {
	if r.Alias != "" {
		return RefPrefix + r.Name + "@" + r.Alias
	}
	return RefPrefix + r.Name + "/" + r.Version
}

// IsRef says whether s is written as a registry reference (models:/...),
// as opposed to a file path.
func IsRef(s string) bool { return strings.HasPrefix(s, RefPrefix) }

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$`)
	aliasRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	// MLflow reserves these alias forms.
	reservedAlias = regexp.MustCompile(`^(?i:latest|v[0-9]+)$`)
)

// ParseRef reads "models:/NAME/VERSION", "models:/NAME/latest" or
// "models:/NAME@ALIAS".
func ParseRef(s string) (Ref, error) {
	if !IsRef(s) {
		return Ref{}, fmt.Errorf("model reference %q: want models:/NAME/VERSION or models:/NAME@ALIAS", s)
	}
	rest := strings.TrimPrefix(s, RefPrefix)
	var r Ref
	if name, alias, ok := strings.Cut(rest, "@"); ok {
		r = Ref{Name: name, Alias: alias}
		if err := CheckAlias(alias); err != nil {
			return Ref{}, fmt.Errorf("model reference %q: %w", s, err)
		}
	} else if name, version, ok := strings.Cut(rest, "/"); ok {
		r = Ref{Name: name, Version: version}
		if version != Latest {
			if err := CheckVersion(version); err != nil {
				return Ref{}, fmt.Errorf("model reference %q: %w", s, err)
			}
		}
	} else {
		return Ref{}, fmt.Errorf("model reference %q: name a version (models:/%s/1) or an alias (models:/%s@champion)", s, rest, rest)
	}
	if err := CheckName(r.Name); err != nil {
		return Ref{}, fmt.Errorf("model reference %q: %w", s, err)
	}
	return r, nil
}

// CheckName says whether name can name a registered model: 1 to 200
// letters, digits, '.', '_' or '-', not starting with '.' or '-'.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("model name %q: want 1 to 200 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'", name)
	}
	return nil
}

// CheckAlias says whether alias can be an alias: letters, digits, '_' and
// '-', and not one of the forms MLflow reserves (latest, v1, v2, ...).
func CheckAlias(alias string) error {
	if !aliasRE.MatchString(alias) {
		return fmt.Errorf("alias %q: want letters, digits, '_' or '-'", alias)
	}
	if reservedAlias.MatchString(alias) {
		return fmt.Errorf("alias %q is reserved (latest and v<number> name versions)", alias)
	}
	return nil
}

// CheckVersion says whether v is a version number (a positive integer).
func CheckVersion(v string) error {
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != v {
		return fmt.Errorf("version %q: want a positive whole number such as 3", v)
	}
	return nil
}

// latest returns the newest version of ref.Name: the last of r.List, which
// lists versions oldest first.
func latest(ctx context.Context, r Registry, ref Ref) (Version, error) {
	vs, err := r.List(ctx, ref.Name)
	if err != nil {
		return Version{}, fmt.Errorf("%s: %w", ref, err)
	}
	if len(vs) == 0 {
		return Version{}, fmt.Errorf("%s: %w: model %q has no versions", ref, ErrNotFound, ref.Name)
	}
	return vs[len(vs)-1], nil
}

// versionLess orders versions by number, oldest first (for slices.SortFunc).
func versionLess(a, b Version) int {
	na, _ := strconv.Atoi(a.Version)
	nb, _ := strconv.Atoi(b.Version)
	return na - nb
}
