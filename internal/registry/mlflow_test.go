package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/mlflow"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/training"
	"github.com/taxieta/taxieta/internal/trip"
)

// trainSmall trains an od model on one real month (green 2021-01, 74k
// trips), without the zone files, whose parsing under the race detector
// would take longer than all the rest.
func trainSmall(t *testing.T) *model.Artifact {
	t.Helper()
	dir := testenv.DataDir(t)
	a, err := training.Run(context.Background(), training.Config{
		Kind: model.KindOD, Name: "taxi-duration", Train: []string{"green:2021-01"}, Rules: trip.DefaultRules(),
		Trainer: "registry test", Created: time.Unix(1700000000, 0).UTC(),
	}, &tlc.Resolver{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func encode(t *testing.T, a *model.Artifact) []byte {
	t.Helper()
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openMLflow(t *testing.T, uri, layout string) *registry.MLflow {
	t.Helper()
	reg, err := registry.Open(uri, registry.Options{MLflowLayout: layout})
	if err != nil {
		t.Fatal(err)
	}
	return reg.(*registry.MLflow)
}

func uniqueName(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }

// TestMLflowRegistry is the registry story against the real MLflow servers
// that scripts/services/mlflow.sh starts: MLflow 3 in both storage layouts
// (logged models, the default; run artifacts, as MLflow 2 stores them), and
// MLflow 2, whose server has no logged models, so the default falls back.
func TestMLflowRegistry(t *testing.T) {
	uri := testenv.Service(t, "TAXIETA_MLFLOW_URI")
	trained := trainSmall(t)
	first := encode(t, trained)
	info, err := registry.RunInfoFor(trained, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, second := twoArtifacts(t) // a different real model: the embedded default, renamed
	tests := []struct {
		name, layout string
		uri          func(t *testing.T) string
		wantSource   string // prefix of the versions' source
	}{
		{"mlflow3/default", "", func(*testing.T) string { return uri }, "models:/m-"},
		{"mlflow3/run", registry.LayoutRun, func(*testing.T) string { return uri }, "mlflow-artifacts:/"},
		{"mlflow2/default", "", mlflow2, "mlflow-artifacts:/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, layout := tt.uri(t), tt.layout
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			reg := openMLflow(t, uri, layout)
			name := uniqueName("taxi." + strings.ReplaceAll(tt.name, "/", "-")) // '.' is fine in registered model names, not in logged model names

			v1, err := reg.Register(ctx, name, first, info)
			if err != nil {
				t.Fatal(err)
			}
			if v1.Version != "1" || v1.Checksum != trained.Checksum || v1.RunID == "" || !strings.HasPrefix(v1.Source, tt.wantSource) {
				t.Fatalf("first version: %+v", v1)
			}
			checkRun(ctx, t, reg.Client(), v1.RunID, trained)
			if err := reg.SetAlias(ctx, name, "champion", v1.Version); err != nil {
				t.Fatal(err)
			}
			champion := registry.Ref{Name: name, Alias: "champion"}
			got, err := reg.Resolve(ctx, champion)
			if err != nil || got.Version != "1" || got.Checksum != trained.Checksum || !slices.Equal(got.Aliases, []string{"champion"}) {
				t.Fatalf("resolve champion: %+v, %v", got, err)
			}
			b, err := reg.Download(ctx, got)
			if err != nil || !bytes.Equal(b, first) {
				t.Fatalf("download: %v (same bytes: %v)", err, bytes.Equal(b, first))
			}

			v2, err := reg.Register(ctx, name, second, registry.RunInfo{Experiment: name + "-other"})
			if err != nil || v2.Version != "2" {
				t.Fatalf("second version: %+v, %v", v2, err)
			}
			if err := reg.SetAlias(ctx, name, "champion", v2.Version); err != nil {
				t.Fatal(err)
			}
			if got, err := reg.Resolve(ctx, champion); err != nil || got.Version != "2" || got.Checksum != v2.Checksum {
				t.Fatalf("after moving the alias, champion resolves to %+v, %v", got, err)
			}
			if got, err := reg.Resolve(ctx, registry.Ref{Name: name, Version: "latest"}); err != nil || got.Version != "2" {
				t.Fatalf("latest: %+v, %v", got, err)
			}
			vs, err := reg.List(ctx, name)
			if err != nil || len(vs) != 2 || len(vs[0].Aliases) != 0 || !slices.Equal(vs[1].Aliases, []string{"champion"}) {
				t.Fatalf("List = %+v, %v", vs, err)
			}
			if names, err := reg.Models(ctx); err != nil || !slices.Contains(names, name) {
				t.Fatalf("Models = %v, %v", names, err)
			}

			for _, ref := range []registry.Ref{{Name: name, Alias: "nope"}, {Name: name, Version: "9"}, {Name: name + "-none", Alias: "champion"}, {Name: name + "-none", Version: "1"}} {
				if _, err := reg.Resolve(ctx, ref); !errors.Is(err, registry.ErrNotFound) {
					t.Errorf("resolve %s: %v; want ErrNotFound", ref, err)
				}
			}
			if err := reg.SetAlias(ctx, name, "champion", "9"); !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("alias to a missing version: %v; want ErrNotFound", err)
			}
			if _, err := reg.Download(ctx, registry.Version{Name: name, Version: "1", Checksum: v2.Checksum}); !errors.Is(err, registry.ErrChecksum) {
				t.Errorf("download with the wrong checksum: %v; want ErrChecksum", err)
			}

			// Corrupt version 1 in the artifact store: Download refuses it.
			c := reg.Client()
			dl, err := c.GetModelVersionDownloadURI(ctx, name, "1")
			if err != nil {
				t.Fatal(err)
			}
			if dl, err = c.ResolveArtifactURI(ctx, dl); err != nil {
				t.Fatal(err)
			}
			for _, bad := range [][]byte{append(slices.Clone(first[:len(first)-10]), "0000000000"...), second} {
				if err := c.UploadArtifact(ctx, dl, "model.taxieta", bad); err != nil {
					t.Fatal(err)
				}
				if _, err := reg.Download(ctx, registry.Version{Name: name, Version: "1"}); !errors.Is(err, registry.ErrChecksum) {
					t.Fatalf("download of a corrupted artifact: %v; want ErrChecksum", err)
				}
			}
		})
	}
}

// mlflow2 returns the MLflow 2 server's URI, or skips when the test script
// was told not to start one (TAXIETA_MLFLOW2=0).
func mlflow2(t *testing.T) string {
	uri := os.Getenv("TAXIETA_MLFLOW2_URI")
	if uri == "" {
		t.Skip("TAXIETA_MLFLOW2_URI not set: no MLflow 2 server (scripts/services/mlflow.sh starts one unless TAXIETA_MLFLOW2=0)")
	}
	return uri
}

// checkRun checks what registration logged: the run finished, with the
// model's settings, metrics and training data fingerprint.
func checkRun(ctx context.Context, t *testing.T, c *mlflow.Client, runID string, a *model.Artifact) {
	t.Helper()
	run, err := c.GetRun(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Status != mlflow.RunFinished {
		t.Errorf("run status %s", run.Info.Status)
	}
	params := map[string]string{}
	for _, p := range run.Data.Params {
		params[p.Key] = p.Value
	}
	if params["kind"] != a.Kind || params["train_sources"] != "green:2021-01" {
		t.Errorf("params: %v", params)
	}
	metrics := map[string]float64{}
	for _, m := range run.Data.Metrics {
		metrics[m.Key] = m.Value
	}
	if metrics["train_rmse"] != a.Metrics.Train.RMSE || metrics["train_rows"] != float64(a.Metrics.Train.Rows) {
		t.Errorf("metrics: %v", metrics)
	}
	if ds := run.Inputs.Datasets; len(ds) != 1 || ds[0].Dataset.Name != "green:2021-01" || len(ds[0].Dataset.Digest) != 16 ||
		len(ds[0].Tags) != 1 || ds[0].Tags[0].Value != "training" || !strings.Contains(ds[0].Dataset.Source, a.Training.Files[0].SHA256) {
		t.Errorf("dataset inputs: %+v", ds)
	}
	b, err := c.DownloadArtifact(ctx, run.Info.ArtifactURI, "dataset.json")
	if err != nil {
		t.Fatal(err)
	}
	var fp registry.DatasetFingerprint
	if err := json.Unmarshal(b, &fp); err != nil || len(fp.Training) != 1 || fp.Training[0].SHA256 != a.Training.Files[0].SHA256 {
		t.Errorf("fingerprint: %s, %v", b, err)
	}
}

// TestLoaderServesCacheWhenMLflowIsDown loads through a proxy in front of the
// real server, then stops the proxy: the registry is unreachable, and the
// loader serves the cached copy, or fails clearly without one.
func TestLoaderServesCacheWhenMLflowIsDown(t *testing.T) {
	uri := testenv.Service(t, "TAXIETA_MLFLOW_URI")
	target, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := openMLflow(t, proxy.URL, "")
	a1, _ := twoArtifacts(t)
	name := uniqueName("taxi-outage")
	v, err := reg.Register(ctx, name, a1, registry.RunInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAlias(ctx, name, "champion", v.Version); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	l := &registry.Loader{Registry: reg, Dir: cache}
	ref := registry.Ref{Name: name, Alias: "champion"}
	if got, err := l.Load(ctx, ref); err != nil || got.FromCache {
		t.Fatalf("Load with the registry up: %+v, %v", got, err)
	}

	proxy.Close() // the registry goes down
	got, err := l.Load(ctx, ref)
	if err != nil {
		t.Fatalf("Load with the registry down: %v", err)
	}
	if !got.FromCache || !errors.Is(got.RegistryErr, registry.ErrUnavailable) || got.Artifact.Checksum != v.Checksum || got.Version.Version != v.Version {
		t.Fatalf("Load with the registry down = %+v", got)
	}
	if _, err := l.Load(ctx, registry.Ref{Name: name, Version: "7"}); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("Load of a never-cached version with the registry down: %v; want ErrUnavailable", err)
	}
	empty := &registry.Loader{Registry: reg, Dir: t.TempDir()}
	if _, err := empty.Load(ctx, ref); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("Load with the registry down and an empty cache: %v; want ErrUnavailable", err)
	}
}
