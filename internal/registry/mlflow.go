package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/mlflow"
	"github.com/taxieta/taxieta/internal/model"
)

// MLflow is a registry in an MLflow tracking server, through its REST API
// and artifact proxy (the server must serve artifacts: mlflow server
// --serve-artifacts, the default since MLflow 2).
//
// Register logs a run (parameters, metrics, tags, the training data's
// fingerprint as the run artifact dataset.json), stores the artifact,
// creates the registered model if need be and a version of it tagged with
// the artifact's sha256 (TagChecksum). The version's files are an MLflow
// model directory (internal/mlmodel: MLmodel, model.onnx, the taxieta
// artifact, requirements), so that mlflow.pyfunc.load_model loads the
// version. On MLflow 3 they go into a logged model (version source
// models:/m-ID); on MLflow 2, whose server has no logged models, into the
// run's artifacts under model/ (version source the run's artifact URI). Download reads either layout, and versions made
// by other clients whose files hold one *.taxieta artifact, but only
// versions that carry TagChecksum: without it nothing says what to verify
// against.
type MLflow struct {
	c   *mlflow.Client
	log *slog.Logger
	// layout forces a storage layout for new versions: "" picks the
	// server's (logged models when it has them), "run" the MLflow 2 layout.
	layout string
}

// LayoutRun and LayoutLoggedModel name the two ways Register stores an artifact.
const (
	LayoutRun         = "run"
	LayoutLoggedModel = "logged-model"
)

// NewMLflow returns the registry of the MLflow tracking server client c
// talks to. layout is "" (the server's newest), LayoutRun or LayoutLoggedModel.
func NewMLflow(c *mlflow.Client, layout string, log *slog.Logger) (*MLflow, error) {
	switch layout {
	case "", LayoutRun, LayoutLoggedModel:
	default:
		return nil, fmt.Errorf("registry: unknown MLflow layout %q (want %s or %s)", layout, LayoutRun, LayoutLoggedModel)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MLflow{c: c, log: log, layout: layout}, nil
}

// Location is the tracking server's URI.
func (m *MLflow) Location() string { return m.c.BaseURL() }

// Client is the REST client underneath.
func (m *MLflow) Client() *mlflow.Client { return m.c }

// wrap marks err with ErrNotFound or ErrUnavailable when it is one.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case mlflow.IsUnavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case mlflow.IsNotFound(err), isMissingAlias(err):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// isMissingAlias: MLflow answers a lookup of an alias that does not exist
// with INVALID_PARAMETER_VALUE "Registered model alias X not found."
func isMissingAlias(err error) bool {
	var e *mlflow.APIError
	return errors.As(err, &e) && e.Code == "INVALID_PARAMETER_VALUE" && strings.Contains(e.Message, "alias") && strings.Contains(e.Message, "not found")
}

// Register logs a run and registers artifact as a new version of name.
func (m *MLflow) Register(ctx context.Context, name string, artifact []byte, info RunInfo) (Version, error) {
	if err := CheckName(name); err != nil {
		return Version{}, fmt.Errorf("register: %w", err)
	}
	a, err := Verify(artifact, "")
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, err)
	}
	exp := info.Experiment
	if exp == "" {
		exp = name
	}
	expID, err := m.c.EnsureExperiment(ctx, exp)
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, wrap(err))
	}
	start := info.Started
	if start.IsZero() {
		start = time.Now()
	}
	tags := tagList(info.Tags)
	run, err := m.c.CreateRun(ctx, expID, info.RunName, start, tags)
	if err != nil {
		return Version{}, fmt.Errorf("register %s: %w", name, wrap(err))
	}
	v, err := m.registerInRun(ctx, name, run, a, artifact, info)
	status := mlflow.RunFinished
	if err != nil {
		status = mlflow.RunFailed
	}
	// End the run even when ctx is over, so that it does not stay RUNNING.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if endErr := m.c.EndRun(endCtx, run.RunID, status, time.Now()); endErr != nil {
		if err == nil {
			return Version{}, fmt.Errorf("register %s: %w", name, wrap(endErr))
		}
		m.log.Warn("could not mark the failed run", "run_id", run.RunID, "err", endErr)
	}
	if err != nil {
		return Version{}, fmt.Errorf("register %s (run %s): %w", name, run.RunID, err)
	}
	return v, nil
}

func (m *MLflow) registerInRun(ctx context.Context, name string, run *mlflow.RunInfo, a *model.Artifact, artifact []byte, info RunInfo) (Version, error) {
	checksum, kind := a.Checksum, a.Kind
	files, err := modelFiles(a, artifact)
	if err != nil {
		return Version{}, err
	}
	metrics := make([]mlflow.Metric, 0, len(info.Metrics))
	now := time.Now().UnixMilli()
	for _, k := range slices.Sorted(maps.Keys(info.Metrics)) {
		metrics = append(metrics, mlflow.Metric{Key: k, Value: info.Metrics[k], Timestamp: now})
	}
	if err := m.c.LogBatch(ctx, run.RunID, metrics, tagList(info.Params), nil); err != nil {
		return Version{}, wrap(err)
	}
	if len(info.Dataset) > 0 {
		if err := m.c.UploadArtifact(ctx, run.ArtifactURI, datasetFile, info.Dataset); err != nil {
			return Version{}, wrap(err)
		}
	}
	if len(info.Inputs) > 0 {
		if err := m.c.LogInputs(ctx, run.RunID, datasetInputs(info.Inputs)); err != nil {
			return Version{}, wrap(err)
		}
	}
	// Store the artifact: in a logged model (MLflow 3), else in the run.
	var source, modelID, base string
	if m.layout != LayoutRun {
		// Logged model names may not hold '.', which registered model names may.
		lm, err := m.c.CreateLoggedModel(ctx, run.ExperimentID, strings.ReplaceAll(name, ".", "_"), run.RunID, "taxieta", tagList(info.Params),
			[]mlflow.Tag{{Key: TagChecksum, Value: checksum}, {Key: TagKind, Value: kind}})
		switch {
		case err == nil:
			source, modelID, base = "models:/"+lm.ModelID, lm.ModelID, lm.ArtifactURI
		case m.layout == "" && mlflow.IsEndpointNotFound(err):
			m.log.Debug("no logged models on this server (MLflow 2): storing the artifact in the run", "err", err)
		default:
			return Version{}, wrap(err)
		}
	}
	if base == "" {
		base = strings.TrimRight(run.ArtifactURI, "/") + "/model"
		source = base
	}
	// The MLflow model directory, MLmodel last, so that the version's
	// files are complete once it is there.
	for _, f := range files {
		if err := m.c.UploadArtifact(ctx, base, f.Name, f.Data); err != nil {
			if modelID != "" {
				if ferr := m.c.FinalizeLoggedModel(context.WithoutCancel(ctx), modelID, false); ferr != nil {
					m.log.Warn("could not mark the logged model failed", "model_id", modelID, "err", ferr)
				}
			}
			return Version{}, wrap(err)
		}
	}
	if modelID != "" {
		if err := m.c.FinalizeLoggedModel(ctx, modelID, true); err != nil {
			return Version{}, wrap(err)
		}
		if err := m.c.LogOutputs(ctx, run.RunID, modelID); err != nil {
			return Version{}, wrap(err)
		}
	}
	if err := m.c.EnsureRegisteredModel(ctx, name, "NYC taxi trip duration model trained by taxieta"); err != nil {
		return Version{}, wrap(err)
	}
	mv, err := m.c.CreateModelVersion(ctx, mlflow.CreateModelVersion{
		Name: name, Source: source, RunID: run.RunID, ModelID: modelID,
		Tags: []mlflow.Tag{{Key: TagChecksum, Value: checksum}, {Key: TagFile, Value: artifactFile}, {Key: TagKind, Value: kind}},
	})
	if err != nil {
		return Version{}, wrap(err)
	}
	return versionOf(mv), nil
}

// datasetInputs describes the run's data for MLflow's dataset tracking.
func datasetInputs(in []DataInput) []mlflow.DatasetInput {
	out := make([]mlflow.DatasetInput, 0, len(in))
	for _, d := range in {
		files := make([]map[string]any, 0, len(d.Files))
		for _, f := range d.Files {
			files = append(files, map[string]any{"name": f.Name, "bytes": f.Bytes, "sha256": f.SHA256, "rows": f.Rows})
		}
		source, _ := json.Marshal(map[string]any{"sources": d.Name, "files": files})
		profile, _ := json.Marshal(map[string]any{"num_rows": d.Rows})
		out = append(out, mlflow.DatasetInput{
			Tags: []mlflow.Tag{{Key: "mlflow.data.context", Value: d.Context}},
			Dataset: mlflow.Dataset{
				Name: d.Name, Digest: d.Digest, SourceType: "taxieta", Source: string(source), Profile: string(profile),
			},
		})
	}
	return out
}

func tagList(m map[string]string) []mlflow.Tag {
	out := make([]mlflow.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, mlflow.Tag{Key: k, Value: m[k]})
	}
	return out
}

func versionOf(mv *mlflow.ModelVersion) Version {
	sum, _ := mv.Tag(TagChecksum)
	aliases := slices.Clone(mv.Aliases)
	slices.Sort(aliases)
	return Version{
		Name: mv.Name, Version: mv.Version, Aliases: aliases, Checksum: sum,
		CreatedAt: mv.CreationTimestamp.Time(), RunID: mv.RunID, Source: mv.Source,
	}
}

// SetAlias points alias at version.
func (m *MLflow) SetAlias(ctx context.Context, name, alias, version string) error {
	if err := errors.Join(CheckName(name), CheckAlias(alias), CheckVersion(version)); err != nil {
		return fmt.Errorf("set alias: %w", err)
	}
	// MLflow would accept an alias to a version that does not exist yet
	// on some versions; check first for a clear error.
	if _, err := m.c.GetModelVersion(ctx, name, version); err != nil {
		return fmt.Errorf("set alias %s@%s: %w", name, alias, wrap(err))
	}
	return wrap(m.c.SetRegisteredModelAlias(ctx, name, alias, version))
}

// Resolve returns the version ref names.
func (m *MLflow) Resolve(ctx context.Context, ref Ref) (Version, error) {
	if err := CheckName(ref.Name); err != nil {
		return Version{}, err
	}
	var mv *mlflow.ModelVersion
	var err error
	switch {
	case ref.Alias != "":
		if err := CheckAlias(ref.Alias); err != nil {
			return Version{}, err
		}
		mv, err = m.c.GetModelVersionByAlias(ctx, ref.Name, ref.Alias)
	case ref.Version == Latest:
		return latest(ctx, m, ref)
	default:
		if err := CheckVersion(ref.Version); err != nil {
			return Version{}, err
		}
		mv, err = m.c.GetModelVersion(ctx, ref.Name, ref.Version)
	}
	if err != nil {
		return Version{}, fmt.Errorf("%s: %w", ref, wrap(err))
	}
	return versionOf(mv), nil
}

// Download fetches v's artifact through the artifact proxy and verifies it
// against the checksum registered with the version.
func (m *MLflow) Download(ctx context.Context, v Version) ([]byte, error) {
	if err := errors.Join(CheckName(v.Name), CheckVersion(v.Version)); err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	mv, err := m.c.GetModelVersion(ctx, v.Name, v.Version)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", v.Ref(), wrap(err))
	}
	want, ok := mv.Tag(TagChecksum)
	if !ok || want == "" {
		return nil, fmt.Errorf("download %s: %w: the version has no %s tag, so nothing says what its artifact should be (register it with taxieta train --register)",
			v.Ref(), ErrChecksum, TagChecksum)
	}
	if v.Checksum != "" && v.Checksum != want {
		return nil, fmt.Errorf("download %s: %w: asked for sha256 %s, registered %s", v.Ref(), ErrChecksum, v.Checksum, want)
	}
	uri, err := m.c.GetModelVersionDownloadURI(ctx, v.Name, v.Version)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", v.Ref(), wrap(err))
	}
	if uri, err = m.c.ResolveArtifactURI(ctx, uri); err != nil {
		return nil, fmt.Errorf("download %s: %w", v.Ref(), wrap(err))
	}
	file, _ := mv.Tag(TagFile)
	if file == "" {
		if file, err = m.findArtifact(ctx, uri); err != nil {
			return nil, fmt.Errorf("download %s: %w", v.Ref(), err)
		}
	}
	b, err := m.c.DownloadArtifact(ctx, uri, file)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", v.Ref(), wrap(err))
	}
	if _, err := Verify(b, want); err != nil {
		return nil, fmt.Errorf("download %s from %s/%s: %w", v.Ref(), uri, file, err)
	}
	return b, nil
}

// findArtifact returns the one *.taxieta file in the directory uri.
func (m *MLflow) findArtifact(ctx context.Context, uri string) (string, error) {
	files, err := m.c.ListArtifacts(ctx, uri, "")
	if err != nil {
		return "", wrap(err)
	}
	var found []string
	for _, f := range files {
		if !f.IsDir && strings.HasSuffix(f.Path, ".taxieta") {
			found = append(found, f.Path[strings.LastIndex(f.Path, "/")+1:])
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%s holds %d *.taxieta files (%v); want exactly one", uri, len(found), found)
	}
	return found[0], nil
}

// List returns name's versions, oldest first.
func (m *MLflow) List(ctx context.Context, name string) ([]Version, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	rm, err := m.c.GetRegisteredModel(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", name, wrap(err))
	}
	mvs, err := m.c.SearchModelVersions(ctx, "name='"+name+"'")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", name, wrap(err))
	}
	byVersion := map[string][]string{}
	for _, a := range rm.Aliases {
		byVersion[a.Version] = append(byVersion[a.Version], a.Alias)
	}
	out := make([]Version, 0, len(mvs))
	for i := range mvs {
		if mvs[i].Name != name {
			continue
		}
		mvs[i].Aliases = byVersion[mvs[i].Version]
		out = append(out, versionOf(&mvs[i]))
	}
	slices.SortFunc(out, versionLess)
	return out, nil
}

// Models returns the registered models' names.
func (m *MLflow) Models(ctx context.Context) ([]string, error) {
	rms, err := m.c.SearchRegisteredModels(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]string, 0, len(rms))
	for _, r := range rms {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out, nil
}

// compile-time checks
var (
	_ Registry = (*Local)(nil)
	_ Registry = (*MLflow)(nil)
)
