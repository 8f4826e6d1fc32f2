package mlflow

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// RegisteredModel is a named model of the registry.
type RegisteredModel struct {
	Name                 string `json:"name"`
	CreationTimestamp    Millis `json:"creation_timestamp"`
	LastUpdatedTimestamp Millis `json:"last_updated_timestamp"`
	Description          string `json:"description"`
	Aliases              []struct {
		Alias   string `json:"alias"`
		Version string `json:"version"`
	} `json:"aliases"`
	Tags []Tag `json:"tags"`
}

// ModelVersion is one version of a registered model.
type ModelVersion struct {
	Name              string   `json:"name"`
	Version           string   `json:"version"`
	CreationTimestamp Millis   `json:"creation_timestamp"`
	Source            string   `json:"source"`
	RunID             string   `json:"run_id"`
	ModelID           string   `json:"model_id"` // MLflow 3: the logged model it was made from
	Status            string   `json:"status"`   // PENDING_REGISTRATION, FAILED_REGISTRATION or READY
	StatusMessage     string   `json:"status_message"`
	Description       string   `json:"description"`
	Tags              []Tag    `json:"tags"`
	Aliases           []string `json:"aliases"`
}

// Tag returns the value of the version's tag key, if it has one.
func (v *ModelVersion) Tag(key string) (string, bool) {
	for _, t := range v.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// CreateRegisteredModel creates a registered model. If it exists already the
// error satisfies IsAlreadyExists.
func (c *Client) CreateRegisteredModel(ctx context.Context, name, description string) (*RegisteredModel, error) {
	var out struct {
		Model RegisteredModel `json:"registered_model"`
	}
	in := map[string]any{"name": name}
	if description != "" {
		in["description"] = description
	}
	if err := c.post(ctx, "/api/2.0/mlflow/registered-models/create", in, &out); err != nil {
		return nil, fmt.Errorf("create registered model %q: %w", name, err)
	}
	return &out.Model, nil
}

// GetRegisteredModel returns a registered model.
func (c *Client) GetRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error) {
	var out struct {
		Model RegisteredModel `json:"registered_model"`
	}
	if err := c.get(ctx, "/api/2.0/mlflow/registered-models/get", url.Values{"name": {name}}, &out); err != nil {
		return nil, fmt.Errorf("get registered model %q: %w", name, err)
	}
	return &out.Model, nil
}

// EnsureRegisteredModel creates the registered model name unless it exists.
func (c *Client) EnsureRegisteredModel(ctx context.Context, name, description string) error {
	_, err := c.CreateRegisteredModel(ctx, name, description)
	if err == nil || IsAlreadyExists(err) {
		return nil
	}
	return err
}

// SearchRegisteredModels returns every registered model, all pages.
func (c *Client) SearchRegisteredModels(ctx context.Context) ([]RegisteredModel, error) {
	var all []RegisteredModel
	token := ""
	for {
		q := url.Values{"max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var out struct {
			Models []RegisteredModel `json:"registered_models"`
			Next   string            `json:"next_page_token"`
		}
		if err := c.get(ctx, "/api/2.0/mlflow/registered-models/search", q, &out); err != nil {
			return nil, fmt.Errorf("search registered models: %w", err)
		}
		all = append(all, out.Models...)
		if out.Next == "" {
			return all, nil
		}
		token = out.Next
	}
}

// CreateModelVersion is what makes a new version of a registered model.
type CreateModelVersion struct {
	Name        string
	Source      string // where the version's files are: an artifact URI, or models:/m-... (MLflow 3)
	RunID       string
	ModelID     string // MLflow 3 logged model id; empty on older servers
	Description string
	Tags        []Tag
}

// CreateModelVersion registers a new version and waits (until ctx ends)
// for it to leave PENDING_REGISTRATION.
func (c *Client) CreateModelVersion(ctx context.Context, r CreateModelVersion) (*ModelVersion, error) {
	in := map[string]any{"name": r.Name, "source": r.Source, "tags": nonNil(r.Tags)}
	if r.RunID != "" {
		in["run_id"] = r.RunID
	}
	if r.ModelID != "" {
		in["model_id"] = r.ModelID
	}
	if r.Description != "" {
		in["description"] = r.Description
	}
	var out struct {
		Version ModelVersion `json:"model_version"`
	}
	if err := c.post(ctx, "/api/2.0/mlflow/model-versions/create", in, &out); err != nil {
		return nil, fmt.Errorf("create version of model %q: %w", r.Name, err)
	}
	v := &out.Version
	for wait := 50 * time.Millisecond; v.Status == "PENDING_REGISTRATION"; wait = min(2*wait, 2*time.Second) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("model %q version %s still pending: %w", r.Name, v.Version, ctx.Err())
		case <-time.After(wait):
		}
		var err error
		if v, err = c.GetModelVersion(ctx, r.Name, v.Version); err != nil {
			return nil, err
		}
	}
	if v.Status == "FAILED_REGISTRATION" {
		return nil, fmt.Errorf("model %q version %s: registration failed: %s", r.Name, v.Version, v.StatusMessage)
	}
	return v, nil
}

// GetModelVersion returns one version of a registered model.
func (c *Client) GetModelVersion(ctx context.Context, name, version string) (*ModelVersion, error) {
	var out struct {
		Version ModelVersion `json:"model_version"`
	}
	if err := c.get(ctx, "/api/2.0/mlflow/model-versions/get", url.Values{"name": {name}, "version": {version}}, &out); err != nil {
		return nil, fmt.Errorf("get model %q version %s: %w", name, version, err)
	}
	return &out.Version, nil
}

// GetModelVersionByAlias returns the version an alias of a registered model points to.
func (c *Client) GetModelVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error) {
	var out struct {
		Version ModelVersion `json:"model_version"`
	}
	if err := c.get(ctx, "/api/2.0/mlflow/registered-models/alias", url.Values{"name": {name}, "alias": {alias}}, &out); err != nil {
		return nil, fmt.Errorf("get model %q alias %q: %w", name, alias, err)
	}
	return &out.Version, nil
}

// SetRegisteredModelAlias points alias of a registered model at version,
// moving it if it pointed elsewhere.
func (c *Client) SetRegisteredModelAlias(ctx context.Context, name, alias, version string) error {
	in := map[string]any{"name": name, "alias": alias, "version": version}
	if err := c.post(ctx, "/api/2.0/mlflow/registered-models/alias", in, nil); err != nil {
		return fmt.Errorf("set model %q alias %q to version %s: %w", name, alias, version, err)
	}
	return nil
}

// GetModelVersionDownloadURI returns the artifact URI of a version's files.
func (c *Client) GetModelVersionDownloadURI(ctx context.Context, name, version string) (string, error) {
	var out struct {
		URI string `json:"artifact_uri"`
	}
	if err := c.get(ctx, "/api/2.0/mlflow/model-versions/get-download-uri", url.Values{"name": {name}, "version": {version}}, &out); err != nil {
		return "", fmt.Errorf("get download URI of model %q version %s: %w", name, version, err)
	}
	return out.URI, nil
}

// SearchModelVersions returns every version that matches filter (MLflow's
// search syntax, e.g. name='taxi-duration'), all pages.
func (c *Client) SearchModelVersions(ctx context.Context, filter string) ([]ModelVersion, error) {
	var all []ModelVersion
	token := ""
	for {
		q := url.Values{"filter": {filter}, "max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var out struct {
			Versions []ModelVersion `json:"model_versions"`
			Next     string         `json:"next_page_token"`
		}
		if err := c.get(ctx, "/api/2.0/mlflow/model-versions/search", q, &out); err != nil {
			return nil, fmt.Errorf("search model versions (%s): %w", filter, err)
		}
		all = append(all, out.Versions...)
		if out.Next == "" {
			return all, nil
		}
		token = out.Next
	}
}
