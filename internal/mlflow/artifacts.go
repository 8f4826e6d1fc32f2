package mlflow

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// artifactsAPI is where the server proxies its artifact store (mlflow server
// --serve-artifacts, the default from MLflow 2.0 on).
const artifactsAPI = "/api/2.0/mlflow-artifacts/artifacts"

// ResolveArtifactURI turns the URIs MLflow hands out for a version's or a
// run's files into an mlflow-artifacts: URI: runs:/RUN_ID/PATH through the
// run's artifact location, models:/m-ID[/PATH] (an MLflow 3 logged model)
// through the logged model's. Other URIs come back as they are.
func (c *Client) ResolveArtifactURI(ctx context.Context, uri string) (string, error) {
	switch {
	case strings.HasPrefix(uri, "runs:/"):
		id, rest, _ := strings.Cut(strings.TrimLeft(strings.TrimPrefix(uri, "runs:/"), "/"), "/")
		r, err := c.GetRun(ctx, id)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", uri, err)
		}
		return joinURI(r.Info.ArtifactURI, rest), nil
	case strings.HasPrefix(uri, "models:/m-"):
		id, rest, _ := strings.Cut(strings.TrimPrefix(uri, "models:/"), "/")
		m, err := c.GetLoggedModel(ctx, id)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", uri, err)
		}
		return joinURI(m.ArtifactURI, rest), nil
	}
	return uri, nil
}

func joinURI(base, rel string) string {
	if rel == "" {
		return base
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(rel, "/")
}

// proxyPath returns the path, under the artifact proxy, of an
// mlflow-artifacts: URI joined with rel, or an error for URIs the proxy does
// not serve.
func proxyPath(uri, rel string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("artifact URI %q: %w", uri, err)
	}
	if u.Scheme != "mlflow-artifacts" {
		return "", fmt.Errorf("artifact URI %q is not served through the MLflow artifact proxy "+
			"(want mlflow-artifacts:/...; start the server with --serve-artifacts and --artifacts-destination)", uri)
	}
	p := path.Clean("/" + u.Path + "/" + rel)
	if p == "/" {
		return "", fmt.Errorf("artifact URI %q names the root of the artifact store", uri)
	}
	return p, nil
}

// escapePath escapes each segment of p.
func escapePath(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// UploadArtifact stores data as the file rel under the artifact URI base
// (an mlflow-artifacts: URI, such as a run's or a logged model's).
func (c *Client) UploadArtifact(ctx context.Context, base, rel string, data []byte) error {
	p, err := proxyPath(base, rel)
	if err != nil {
		return fmt.Errorf("upload artifact: %w", err)
	}
	if _, err := c.doRaw(ctx, http.MethodPut, artifactsAPI+"/"+escapePath(p), nil, bytes.NewReader(data), "application/octet-stream"); err != nil {
		return fmt.Errorf("upload artifact %s/%s: %w", base, rel, err)
	}
	return nil
}

// DownloadArtifact returns the file rel under the artifact URI base.
func (c *Client) DownloadArtifact(ctx context.Context, base, rel string) ([]byte, error) {
	p, err := proxyPath(base, rel)
	if err != nil {
		return nil, fmt.Errorf("download artifact: %w", err)
	}
	b, err := c.doRaw(ctx, http.MethodGet, artifactsAPI+"/"+escapePath(p), nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("download artifact %s: %w", joinURI(base, rel), err)
	}
	return b, nil
}

// FileInfo is an entry of an artifact directory.
type FileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize Int64  `json:"file_size"`
}

// ListArtifacts lists the directory rel under the artifact URI base. Paths
// in the answer are relative to that directory.
func (c *Client) ListArtifacts(ctx context.Context, base, rel string) ([]FileInfo, error) {
	p, err := proxyPath(base, rel)
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	var out struct {
		Files []FileInfo `json:"files"`
	}
	if err := c.get(ctx, artifactsAPI, url.Values{"path": {strings.TrimPrefix(p, "/")}}, &out); err != nil {
		return nil, fmt.Errorf("list artifacts %s: %w", joinURI(base, rel), err)
	}
	return out.Files, nil
}
