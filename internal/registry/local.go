package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/mlmodel"
	"github.com/taxieta/taxieta/internal/model"
)

// Local is a registry in a directory:
//
//	DIR/NAME/versions/N/model.taxieta   the artifact of version N
//	DIR/NAME/versions/N/MLmodel, model.onnx, ...
//	                                    the rest of its MLflow model directory
//	                                    (internal/mlmodel), as an MLflow
//	                                    registry stores it
//	DIR/NAME/versions/N/version.json    its Version and RunInfo, written last
//	DIR/NAME/versions/N/dataset.json    the training data's fingerprint
//	DIR/NAME/aliases/ALIAS              the version number ALIAS points at
//
// A version number is claimed by creating its directory (mkdir fails if it
// exists, in every process), so two processes registering at once get
// different numbers; a version exists once its version.json does, and every
// file is written to a temporary name and renamed, so readers never see half
// a version. A registration that dies halfway leaves a directory without
// version.json, which readers skip (its number is not reused).
type Local struct {
	dir string
}

// NewLocal returns the registry in dir, creating dir if need be.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return &Local{dir: abs}, nil
}

// Location is the registry's directory.
func (l *Local) Location() string { return l.dir }

const (
	artifactFile = mlmodel.ArtifactFile
	versionFile  = "version.json"
	datasetFile  = "dataset.json"
)

// localRecord is a version.json.
type localRecord struct {
	Version
	Run RunInfo `json:"run"`
}

func (l *Local) versionsDir(name string) string { return filepath.Join(l.dir, name, "versions") }
func (l *Local) aliasesDir(name string) string  { return filepath.Join(l.dir, name, "aliases") }

// Register stores a new version of name.
func (l *Local) Register(ctx context.Context, name string, artifact []byte, info RunInfo) (Version, error) {
	if err := CheckName(name); err != nil {
		return Version{}, fmt.Errorf("register: %w", err)
	}
	a, err := model.Decode(artifact)
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	vdir := l.versionsDir(name)
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	n, dir, err := claimVersion(ctx, vdir)
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	runID, err := randomID()
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	v := Version{
		Name: name, Version: strconv.Itoa(n), Checksum: a.Checksum,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond), RunID: runID,
		Source: filepath.Join(dir, artifactFile),
	}
	rec, err := json.MarshalIndent(localRecord{Version: v, Run: info}, "", "  ")
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	files, err := modelFiles(a, artifact)
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	for _, f := range files {
		if err := model.WriteFileAtomic(filepath.Join(dir, f.Name), f.Data); err != nil {
			return Version{}, fmt.Errorf("register %s: %w", name, err)
		}
	}
	if len(info.Dataset) > 0 {
		if err := model.WriteFileAtomic(filepath.Join(dir, datasetFile), info.Dataset); err != nil {
			return Version{}, fmt.Errorf("register %s: %w", name, err)
		}
	}
	// version.json last: the version exists from this rename on.
	if err := model.WriteFileAtomic(filepath.Join(dir, versionFile), append(rec, '\n')); err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	return v, nil
}

// claimVersion creates the directory of the next free version number in
// vdir and returns the number and the directory.
func claimVersion(ctx context.Context, vdir string) (int, string, error) {
	entries, err := os.ReadDir(vdir)
	if err != nil {
		return 0, "", err
	}
	n := 0
	for _, e := range entries {
		if k, err := strconv.Atoi(e.Name()); err == nil && k > n {
			n = k
		}
	}
	for tries := 0; tries < 10000; tries++ {
		if err := ctx.Err(); err != nil {
			return 0, "", err
		}
		n++
		dir := filepath.Join(vdir, strconv.Itoa(n))
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return n, dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return 0, "", fmt.Errorf("claim version %d: %w", n, err)
		}
	}
	return 0, "", errors.New("could not claim a version number")
}

func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// SetAlias points alias at version.
func (l *Local) SetAlias(ctx context.Context, name, alias, version string) error {
	if err := errors.Join(CheckName(name), CheckAlias(alias), CheckVersion(version)); err != nil {
		return fmt.Errorf("set alias: %w", err)
	}
	if _, err := l.readRecord(name, version); err != nil {
		return fmt.Errorf("set alias %s@%s: %w", name, alias, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := l.aliasesDir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("set alias %s@%s: %w", name, alias, err)
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, alias), []byte(version+"\n")); err != nil {
		return fmt.Errorf("set alias %s@%s: %w", name, alias, err)
	}
	return nil
}

// Resolve returns the version ref names.
func (l *Local) Resolve(ctx context.Context, ref Ref) (Version, error) {
	if err := CheckName(ref.Name); err != nil {
		return Version{}, err
	}
	if err := ctx.Err(); err != nil {
		return Version{}, err
	}
	version := ref.Version
	switch {
	case ref.Alias != "":
		if err := CheckAlias(ref.Alias); err != nil {
			return Version{}, err
		}
		b, err := os.ReadFile(filepath.Join(l.aliasesDir(ref.Name), ref.Alias))
		if errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Stat(l.versionsDir(ref.Name)); err != nil {
				return Version{}, fmt.Errorf("%s: %w: no model %q in %s", ref, ErrNotFound, ref.Name, l.dir)
			}
			return Version{}, fmt.Errorf("%s: %w: model %q has no alias %q", ref, ErrNotFound, ref.Name, ref.Alias)
		}
		if err != nil {
			return Version{}, fmt.Errorf("%s: %w", ref, err)
		}
		version = strings.TrimSpace(string(b))
	case version == Latest:
		return latest(ctx, l, ref)
	}
	if err := CheckVersion(version); err != nil {
		return Version{}, fmt.Errorf("%s: %w", ref, err)
	}
	v, err := l.readVersion(ref.Name, version)
	if err != nil {
		return Version{}, fmt.Errorf("%s: %w", ref, err)
	}
	return v, nil
}

// readVersion reads a complete version and the aliases pointing at it.
func (l *Local) readVersion(name, version string) (Version, error) {
	v, err := l.readRecord(name, version)
	if err != nil {
		return Version{}, err
	}
	aliases, err := l.aliases(name)
	if err != nil {
		return Version{}, err
	}
	v.Aliases = aliases[version]
	return v, nil
}

// readRecord reads a complete version from its version.json, without its aliases.
func (l *Local) readRecord(name, version string) (Version, error) {
	b, err := os.ReadFile(filepath.Join(l.versionsDir(name), version, versionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Version{}, fmt.Errorf("%w: model %q has no version %s in %s", ErrNotFound, name, version, l.dir)
	}
	if err != nil {
		return Version{}, err
	}
	var rec localRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return Version{}, fmt.Errorf("model %q version %s: %s: %w", name, version, versionFile, err)
	}
	v := rec.Version
	v.Name, v.Version = name, version
	v.Source = filepath.Join(l.versionsDir(name), version, artifactFile)
	return v, nil
}

// aliases maps each version of name to the aliases pointing at it.
func (l *Local) aliases(name string) (map[string][]string, error) {
	entries, err := os.ReadDir(l.aliasesDir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("aliases of %q: %w", name, err)
	}
	out := map[string][]string{}
	for _, e := range entries {
		if CheckAlias(e.Name()) != nil || !e.Type().IsRegular() {
			continue // temporary files of a write in progress
		}
		b, err := os.ReadFile(filepath.Join(l.aliasesDir(name), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("alias %s@%s: %w", name, e.Name(), err)
		}
		v := strings.TrimSpace(string(b))
		out[v] = append(out[v], e.Name())
	}
	return out, nil
}

// Download returns v's artifact, verified.
func (l *Local) Download(ctx context.Context, v Version) ([]byte, error) {
	if err := CheckName(v.Name); err != nil {
		return nil, err
	}
	if err := CheckVersion(v.Version); err != nil {
		return nil, err
	}
	rec, err := l.readRecord(v.Name, v.Version)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", v.Ref(), err)
	}
	if v.Checksum != "" && v.Checksum != rec.Checksum {
		return nil, fmt.Errorf("download %s: %w: asked for sha256 %s, registered %s", v.Ref(), ErrChecksum, v.Checksum, rec.Checksum)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(rec.Source)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", v.Ref(), err)
	}
	if _, err := Verify(b, rec.Checksum); err != nil {
		return nil, fmt.Errorf("download %s from %s: %w", v.Ref(), rec.Source, err)
	}
	return b, nil
}

// List returns name's versions, oldest first.
func (l *Local) List(ctx context.Context, name string) ([]Version, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(l.versionsDir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no model %q in %s", ErrNotFound, name, l.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", name, err)
	}
	aliases, err := l.aliases(name)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", name, err)
	}
	var out []Version
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if CheckVersion(e.Name()) != nil {
			continue
		}
		v, err := l.readRecord(name, e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // being written, or abandoned
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", name, err)
		}
		v.Aliases = aliases[v.Version]
		out = append(out, v)
	}
	slices.SortFunc(out, versionLess)
	return out, nil
}

// Models returns the registered models' names.
func (l *Local) Models(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("models in %s: %w", l.dir, err)
	}
	var out []string
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.IsDir() || CheckName(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(l.versionsDir(e.Name())); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// modelFiles are the files of a version: its MLflow model directory, which
// holds the artifact itself.
func modelFiles(a *model.Artifact, artifact []byte) ([]mlmodel.File, error) {
	return mlmodel.Files(a, artifact, mlmodel.Options{ProducerVersion: buildinfo.Version()})
}

// Verify decodes an artifact and checks that its checksum is want (when
// want is not empty), returning the decoded artifact.
func Verify(b []byte, want string) (*model.Artifact, error) {
	a, err := model.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChecksum, err)
	}
	if want != "" && a.Checksum != want {
		return nil, fmt.Errorf("%w: artifact has sha256 %s, registered %s", ErrChecksum, a.Checksum, want)
	}
	return a, nil
}
