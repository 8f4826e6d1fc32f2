package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/testenv"
)

func TestNew(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "http://127.0.0.1:5000", want: "http://127.0.0.1:5000"},
		{in: "https://mlflow.example/prefix/", want: "https://mlflow.example/prefix"},
		{in: "http://h:1/?x=1#f", want: "http://h:1"},
		{in: "127.0.0.1:5000", wantErr: "tracking URI"},
		{in: "localhost", wantErr: "want http"},
		{in: "file:///tmp/mlruns", wantErr: "want http"},
		{in: "http://", wantErr: "want http"},
		{in: "http://a b", wantErr: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := New(tt.in, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) = %v; want an error containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || c.BaseURL() != tt.want {
				t.Fatalf("New(%q) = %v, %v; want %s", tt.in, c, err, tt.want)
			}
		})
	}
}

func TestProxyPath(t *testing.T) {
	tests := []struct {
		uri, rel, want, wantErr string
	}{
		{uri: "mlflow-artifacts:/1/abc/artifacts", rel: "model/model.taxieta", want: "/1/abc/artifacts/model/model.taxieta"},
		{uri: "mlflow-artifacts:/1/models/m-1/artifacts", rel: "", want: "/1/models/m-1/artifacts"},
		{uri: "mlflow-artifacts://host:5000/1/abc/artifacts/", rel: "f", want: "/1/abc/artifacts/f"},
		{uri: "mlflow-artifacts:/1/a", rel: "../../..", wantErr: "root of the artifact store"},
		{uri: "s3://bucket/1/abc", rel: "f", wantErr: "not served through the MLflow artifact proxy"},
		{uri: "/tmp/mlruns/1/abc", rel: "f", wantErr: "not served through"},
	}
	for _, tt := range tests {
		t.Run(tt.uri+"+"+tt.rel, func(t *testing.T) {
			got, err := proxyPath(tt.uri, tt.rel)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("proxyPath = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("proxyPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestInt64(t *testing.T) {
	tests := []struct {
		in      string
		want    Int64
		wantErr bool
	}{
		{`1700000000000`, 1700000000000, false},
		{`"1700000000000"`, 1700000000000, false},
		{`null`, 0, false},
		{`""`, 0, false},
		{`"x"`, 0, true},
		{`1.5`, 0, true},
	}
	for _, tt := range tests {
		var v struct {
			N Int64 `json:"n"`
		}
		err := json.Unmarshal([]byte(`{"n":`+tt.in+`}`), &v)
		if (err != nil) != tt.wantErr || (!tt.wantErr && v.N != tt.want) {
			t.Errorf("%s: got %d, %v", tt.in, v.N, err)
		}
	}
	if got := Int64(1700000000000).Time(); !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("Time() = %v", got)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	c, err := New(closedPort(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetModelVersion(context.Background(), "m", "1")
	if !IsUnavailable(err) || IsNotFound(err) {
		t.Fatalf("got %v; want an unavailable error", err)
	}
}

// TestAgainstServer runs the client against the real MLflow server that
// scripts/services/mlflow.sh starts.
func TestAgainstServer(t *testing.T) {
	c, err := New(testenv.Service(t, "TAXIETA_MLFLOW_URI"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("client-test-%d", time.Now().UnixNano())
	id, err := c.EnsureExperiment(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.EnsureExperiment(ctx, name); err != nil || again != id {
		t.Fatalf("EnsureExperiment twice: %s then %s, %v", id, again, err)
	}
	run, err := c.CreateRun(ctx, id, "r", time.Now(), []Tag{{Key: "t", Value: "v"}})
	if err != nil {
		t.Fatal(err)
	}
	// More parameters than one log-batch call takes.
	var params []Param
	for i := range 150 {
		params = append(params, Param{Key: fmt.Sprintf("p%03d", i), Value: fmt.Sprint(i)})
	}
	if err := c.LogBatch(ctx, run.RunID, []Metric{{Key: "rmse", Value: 5.5, Timestamp: time.Now().UnixMilli()}}, params, []Tag{{Key: "u", Value: "w"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadArtifact(ctx, run.ArtifactURI, "dir/file.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.DownloadArtifact(ctx, run.ArtifactURI, "dir/file.txt"); err != nil || string(b) != "hello" {
		t.Fatalf("download: %q, %v", b, err)
	}
	uri, err := c.ResolveArtifactURI(ctx, "runs:/"+run.RunID+"/dir")
	if err != nil || uri != run.ArtifactURI+"/dir" {
		t.Fatalf("ResolveArtifactURI(runs:/...) = %q, %v", uri, err)
	}
	files, err := c.ListArtifacts(ctx, uri, "")
	if err != nil || len(files) != 1 || files[0].Path != "file.txt" || files[0].FileSize != 5 {
		t.Fatalf("list: %+v, %v", files, err)
	}
	if _, err := c.DownloadArtifact(ctx, run.ArtifactURI, "missing"); !IsNotFound(err) {
		t.Fatalf("download of a missing artifact: %v; want not found", err)
	}
	if err := c.EndRun(ctx, run.RunID, RunFinished, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRun(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Info.Status != RunFinished || len(got.Data.Params) != 150 || len(got.Data.Metrics) != 1 || got.Info.StartTime.Time().IsZero() {
		t.Fatalf("run: %+v", got.Info)
	}
	if _, err := c.GetModelVersion(ctx, name, "1"); !IsNotFound(err) {
		t.Fatalf("version of an unknown model: %v; want not found", err)
	}
	if err := c.EnsureRegisteredModel(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureRegisteredModel(ctx, name, ""); err != nil {
		t.Fatalf("EnsureRegisteredModel of an existing model: %v", err)
	}
	mv, err := c.CreateModelVersion(ctx, CreateModelVersion{Name: name, Source: uri, RunID: run.RunID, Tags: []Tag{{Key: "k", Value: "v"}}})
	if err != nil || mv.Version != "1" || mv.Status != "READY" {
		t.Fatalf("CreateModelVersion = %+v, %v", mv, err)
	}
	if v, ok := mv.Tag("k"); !ok || v != "v" {
		t.Fatalf("tags: %+v", mv.Tags)
	}
	if err := c.SetRegisteredModelAlias(ctx, name, "champion", "1"); err != nil {
		t.Fatal(err)
	}
	if mv, err := c.GetModelVersionByAlias(ctx, name, "champion"); err != nil || mv.Version != "1" {
		t.Fatalf("by alias: %+v, %v", mv, err)
	}
	if d, err := c.GetModelVersionDownloadURI(ctx, name, "1"); err != nil || d != uri {
		t.Fatalf("download URI = %q, %v; want %q", d, err, uri)
	}
	if vs, err := c.SearchModelVersions(ctx, "name='"+name+"'"); err != nil || len(vs) != 1 {
		t.Fatalf("search: %+v, %v", vs, err)
	}
}

func TestAuthHeader(t *testing.T) {
	tests := []struct {
		name string
		auth Auth
		want string
	}{
		{"none", Auth{}, ""},
		{"token", Auth{Token: "t0k", Username: "u"}, "Bearer t0k"},
		{"basic", Auth{Username: "u", Password: "p"}, "Basic dTpw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Get("Authorization")
				w.WriteHeader(http.StatusUnauthorized)
			}))
			defer srv.Close()
			c, err := New(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.SetAuth(tt.auth)
			err = c.Health(context.Background())
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
				t.Fatalf("Health = %v; want the 401 as an APIError", err)
			}
			if h := <-got; h != tt.want {
				t.Fatalf("Authorization %q; want %q", h, tt.want)
			}
		})
	}
}
