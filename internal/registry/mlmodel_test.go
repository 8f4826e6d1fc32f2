package registry_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/mlflow"
	"github.com/taxieta/taxieta/internal/mlmodel"
	"github.com/taxieta/taxieta/internal/mlmodel/mlmodeltest"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/testenv"
)

// TestMLflowVersionsArePyfuncModels registers the default model in the real
// MLflow servers and loads models:/NAME@champion with mlflow.pyfunc, as a
// data scientist would, with the MLflow of the server's own major version:
// its predictions of 1,000 real trips are taxieta's, its model info has the
// signature, and taxieta's Loader still finds and verifies its artifact in
// the version.
func TestMLflowVersionsArePyfuncModels(t *testing.T) {
	uri3 := testenv.Service(t, "TAXIETA_MLFLOW_URI")
	py3 := testenv.Service(t, "TAXIETA_ONNX_PYTHON")
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	encoded := defaultmodel.Bytes()
	rows, cols, trips := mlmodeltest.Trips(t, 1000)
	tests := []struct {
		name, layout string
		server       func(t *testing.T) (uri, python string)
	}{
		{"mlflow3/default", "", func(*testing.T) (string, string) { return uri3, py3 }},
		{"mlflow3/run", registry.LayoutRun, func(*testing.T) (string, string) { return uri3, py3 }},
		{"mlflow2/default", "", func(t *testing.T) (string, string) {
			return mlflow2(t), testenv.Service(t, "TAXIETA_MLFLOW2_PYTHON")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, python := tt.server(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			reg := openMLflow(t, uri, tt.layout)
			name := uniqueName("taxi-pyfunc-" + strings.ReplaceAll(tt.name, "/", "-"))
			info, err := registry.RunInfoFor(a, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			v, err := reg.Register(ctx, name, encoded, info)
			if err != nil {
				t.Fatal(err)
			}
			if err := reg.SetAlias(ctx, name, "champion", v.Version); err != nil {
				t.Fatal(err)
			}
			ref := "models:/" + name + "@champion"
			r := testenv.Pyfunc(t, python, ref, []string{"MLFLOW_TRACKING_URI=" + uri}, cols, rows)
			mlmodeltest.CheckPyfunc(t, r, a.Model, trips)

			// The MLmodel is in the version's files, as the UI reads it.
			c := reg.Client()
			dir := versionDir(ctx, t, c, name, v.Version)
			mlm, err := c.DownloadArtifact(ctx, dir, mlmodel.MLmodelFile)
			if err != nil || !bytes.Contains(mlm, []byte("signature:\n  inputs: ")) || !bytes.Contains(mlm, []byte("loader_module: mlflow.onnx")) {
				t.Fatalf("MLmodel of %s: %v\n%s", ref, err, mlm)
			}

			// taxieta's own loader, as serve uses it, verifies its artifact.
			l := &registry.Loader{Registry: reg, Dir: t.TempDir()}
			got, err := l.Load(ctx, registry.Ref{Name: name, Alias: "champion"})
			if err != nil || got.Artifact.Checksum != a.Checksum || !bytes.Equal(got.Bytes, encoded) {
				t.Fatalf("Loader.Load(%s) = %+v, %v", ref, got, err)
			}
		})
	}
}

// versionDir is the mlflow-artifacts: URI of a version's files.
func versionDir(ctx context.Context, t *testing.T, c *mlflow.Client, name, version string) string {
	t.Helper()
	dl, err := c.GetModelVersionDownloadURI(ctx, name, version)
	if err != nil {
		t.Fatal(err)
	}
	if dl, err = c.ResolveArtifactURI(ctx, dl); err != nil {
		t.Fatal(err)
	}
	return dl
}

// TestMLflowLoadsVersionsRegisteredTheOldWay: a version whose files are the
// taxieta artifact alone, as taxieta registered them before the MLflow
// model directory, still loads and verifies.
func TestMLflowLoadsVersionsRegisteredTheOldWay(t *testing.T) {
	uri := testenv.Service(t, "TAXIETA_MLFLOW_URI")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := openMLflow(t, uri, registry.LayoutRun)
	c := reg.Client()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName("taxi-old-layout")
	exp, err := c.EnsureExperiment(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateRun(ctx, exp, "old", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimRight(run.ArtifactURI, "/") + "/model"
	if err := c.UploadArtifact(ctx, base, mlmodel.ArtifactFile, defaultmodel.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := c.EndRun(ctx, run.RunID, mlflow.RunFinished, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureRegisteredModel(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersion{
		Name: name, Source: base, RunID: run.RunID,
		Tags: []mlflow.Tag{{Key: registry.TagChecksum, Value: a.Checksum}, {Key: registry.TagFile, Value: mlmodel.ArtifactFile}},
	}); err != nil {
		t.Fatal(err)
	}
	l := &registry.Loader{Registry: reg, Dir: t.TempDir()}
	got, err := l.Load(ctx, registry.Ref{Name: name, Version: "1"})
	if err != nil || got.Artifact.Checksum != a.Checksum {
		t.Fatalf("Load of an old-layout version = %+v, %v", got, err)
	}
}

// TestLocalVersionIsAnMLflowModel: a local version's directory is an MLflow
// model directory that mlflow.pyfunc loads, and a version holding only the
// artifact (the old layout) still loads.
func TestLocalVersionIsAnMLflowModel(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_ONNX_PYTHON")
	ctx := context.Background()
	dir := t.TempDir()
	reg := newLocal(t, dir)
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := reg.Register(ctx, "taxi", defaultmodel.Bytes(), registry.RunInfo{})
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Dir(v.Source)
	rows, cols, trips := mlmodeltest.Trips(t, 1000)
	mlmodeltest.CheckPyfunc(t, testenv.Pyfunc(t, python, vdir, nil, cols, rows), a.Model, trips)

	// The old layout: the artifact, version.json and nothing else.
	entries, err := os.ReadDir(vdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != mlmodel.ArtifactFile && e.Name() != "version.json" {
			if err := os.Remove(filepath.Join(vdir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	l := &registry.Loader{Registry: reg, Dir: t.TempDir()}
	if got, err := l.Load(ctx, registry.Ref{Name: "taxi", Version: v.Version}); err != nil || got.Artifact.Checksum != a.Checksum {
		t.Fatalf("Load of an old-layout local version = %+v, %v", got, err)
	}
}
