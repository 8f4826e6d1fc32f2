package mlflow

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Experiment is an MLflow experiment.
type Experiment struct {
	ID               string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
}

// GetExperimentByName returns the experiment called name.
func (c *Client) GetExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	var out struct {
		Experiment Experiment `json:"experiment"`
	}
	if err := c.get(ctx, "/api/2.0/mlflow/experiments/get-by-name", url.Values{"experiment_name": {name}}, &out); err != nil {
		return nil, fmt.Errorf("get experiment %q: %w", name, err)
	}
	return &out.Experiment, nil
}

// CreateExperiment creates an experiment and returns its id.
func (c *Client) CreateExperiment(ctx context.Context, name string) (string, error) {
	var out struct {
		ID string `json:"experiment_id"`
	}
	if err := c.post(ctx, "/api/2.0/mlflow/experiments/create", map[string]any{"name": name}, &out); err != nil {
		return "", fmt.Errorf("create experiment %q: %w", name, err)
	}
	return out.ID, nil
}

// EnsureExperiment returns the id of the experiment called name, creating it
// if need be (and tolerating another client creating it at the same time).
func (c *Client) EnsureExperiment(ctx context.Context, name string) (string, error) {
	e, err := c.GetExperimentByName(ctx, name)
	if err == nil {
		if e.LifecycleStage == "deleted" {
			return "", fmt.Errorf("experiment %q is deleted; restore it or choose another name", name)
		}
		return e.ID, nil
	}
	if !IsNotFound(err) {
		return "", err
	}
	id, err := c.CreateExperiment(ctx, name)
	if IsAlreadyExists(err) {
		e, err := c.GetExperimentByName(ctx, name)
		if err != nil {
			return "", err
		}
		return e.ID, nil
	}
	return id, err
}

// Tag is a key and value, for runs, models and model versions.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Param is a run parameter.
type Param = Tag

// Metric is one value of a run metric.
type Metric struct {
	Key       string  `json:"key"`
	Value     float64 `json:"value"`
	Timestamp int64   `json:"timestamp"` // milliseconds since the Unix epoch
	Step      int64   `json:"step"`
}

// RunInfo is what the server says of a run.
type RunInfo struct {
	RunID          string `json:"run_id"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	Status         string `json:"status"`
	StartTime      Millis `json:"start_time"`
	EndTime        Millis `json:"end_time"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

// Run is a run's info and data.
type Run struct {
	Info RunInfo `json:"info"`
	Data struct {
		Params  []Param `json:"params"`
		Tags    []Tag   `json:"tags"`
		Metrics []struct {
			Key   string  `json:"key"`
			Value float64 `json:"value"`
		} `json:"metrics"`
	} `json:"data"`
	Inputs struct {
		Datasets []DatasetInput `json:"dataset_inputs"`
	} `json:"inputs"`
}

// CreateRun starts a run in an experiment.
func (c *Client) CreateRun(ctx context.Context, experimentID, runName string, start time.Time, tags []Tag) (*RunInfo, error) {
	in := map[string]any{
		"experiment_id": experimentID,
		"start_time":    start.UnixMilli(),
		"tags":          nonNil(tags),
	}
	if runName != "" {
		in["run_name"] = runName
	}
	var out struct {
		Run Run `json:"run"`
	}
	if err := c.post(ctx, "/api/2.0/mlflow/runs/create", in, &out); err != nil {
		return nil, fmt.Errorf("create run in experiment %s: %w", experimentID, err)
	}
	return &out.Run.Info, nil
}

// GetRun returns a run.
func (c *Client) GetRun(ctx context.Context, runID string) (*Run, error) {
	var out struct {
		Run Run `json:"run"`
	}
	if err := c.get(ctx, "/api/2.0/mlflow/runs/get", url.Values{"run_id": {runID}}, &out); err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	return &out.Run, nil
}

// The server's limits on one runs/log-batch call.
const (
	maxBatchParams  = 100
	maxBatchTags    = 100
	maxBatchMetrics = 1000
)

// LogBatch logs metrics, params and tags to a run, in as many calls as the
// server's batch limits need.
func (c *Client) LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error {
	for len(metrics) > 0 || len(params) > 0 || len(tags) > 0 {
		m, p, t := take(&metrics, maxBatchMetrics), take(&params, maxBatchParams), take(&tags, maxBatchTags)
		in := map[string]any{"run_id": runID, "metrics": nonNil(m), "params": nonNil(p), "tags": nonNil(t)}
		if err := c.post(ctx, "/api/2.0/mlflow/runs/log-batch", in, nil); err != nil {
			return fmt.Errorf("log to run %s: %w", runID, err)
		}
	}
	return nil
}

func take[T any](s *[]T, n int) []T {
	n = min(n, len(*s))
	out := (*s)[:n]
	*s = (*s)[n:]
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Run statuses for EndRun.
const (
	RunFinished = "FINISHED"
	RunFailed   = "FAILED"
	RunKilled   = "KILLED"
)

// EndRun sets a run's final status and end time.
func (c *Client) EndRun(ctx context.Context, runID, status string, end time.Time) error {
	in := map[string]any{"run_id": runID, "status": status, "end_time": end.UnixMilli()}
	if err := c.post(ctx, "/api/2.0/mlflow/runs/update", in, nil); err != nil {
		return fmt.Errorf("end run %s: %w", runID, err)
	}
	return nil
}

// LoggedModel is an MLflow 3 logged model: a model with its own artifact
// location (models:/m-... URIs), linked to the run that made it.
type LoggedModel struct {
	ModelID      string `json:"model_id"`
	ExperimentID string `json:"experiment_id"`
	Name         string `json:"name"`
	ArtifactURI  string `json:"artifact_uri"`
	Status       string `json:"status"`
	SourceRunID  string `json:"source_run_id"`
}

// CreateLoggedModel creates an MLflow 3 logged model. Servers before MLflow 3
// answer with an error for which IsEndpointNotFound is true.
func (c *Client) CreateLoggedModel(ctx context.Context, experimentID, name, sourceRunID, modelType string, params, tags []Tag) (*LoggedModel, error) {
	in := map[string]any{"experiment_id": experimentID, "name": name, "source_run_id": sourceRunID, "params": nonNil(params), "tags": nonNil(tags)}
	if modelType != "" {
		in["model_type"] = modelType
	}
	var out struct {
		Model struct {
			Info LoggedModel `json:"info"`
		} `json:"model"`
	}
	if err := c.post(ctx, "/api/2.0/mlflow/logged-models", in, &out); err != nil {
		return nil, fmt.Errorf("create logged model %q: %w", name, err)
	}
	return &out.Model.Info, nil
}

// GetLoggedModel returns an MLflow 3 logged model.
func (c *Client) GetLoggedModel(ctx context.Context, modelID string) (*LoggedModel, error) {
	var out struct {
		Model struct {
			Info LoggedModel `json:"info"`
		} `json:"model"`
	}
	if err := c.get(ctx, "/api/2.0/mlflow/logged-models/"+url.PathEscape(modelID), nil, &out); err != nil {
		return nil, fmt.Errorf("get logged model %s: %w", modelID, err)
	}
	return &out.Model.Info, nil
}

// FinalizeLoggedModel marks a logged model ready (LOGGED_MODEL_READY) or failed
// (LOGGED_MODEL_UPLOAD_FAILED) once its artifacts are uploaded.
func (c *Client) FinalizeLoggedModel(ctx context.Context, modelID string, ok bool) error {
	status := "LOGGED_MODEL_READY"
	if !ok {
		status = "LOGGED_MODEL_UPLOAD_FAILED"
	}
	in := map[string]any{"model_id": modelID, "status": status}
	if err := c.send(ctx, http.MethodPatch, "/api/2.0/mlflow/logged-models/"+url.PathEscape(modelID), in, nil); err != nil {
		return fmt.Errorf("finalize logged model %s: %w", modelID, err)
	}
	return nil
}

// Int64 is an integer as MLflow's JSON API writes int64 fields: a number or
// a string of digits.
type Int64 int64

// UnmarshalJSON accepts a number, a string of digits, or null.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("mlflow: integer %s: %w", b, err)
	}
	*n = Int64(v)
	return nil
}

// Millis is a time as MLflow writes it: milliseconds since the Unix epoch.
type Millis = Int64

// Time reads n as milliseconds since the Unix epoch (the zero time for 0).
func (n Int64) Time() time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(n)).UTC()
}

// Dataset describes data a run used, as MLflow's dataset tracking shows it.
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`      // a short hash of the content (MLflow keeps at most 36 characters)
	SourceType string `json:"source_type"` // e.g. "local", "http"
	Source     string `json:"source"`      // a JSON document saying where the data is
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"` // a JSON document, e.g. {"num_rows": 123}
}

// DatasetInput is a dataset a run used, with tags such as mlflow.data.context
// (training, validation).
type DatasetInput struct {
	Tags    []Tag   `json:"tags"`
	Dataset Dataset `json:"dataset"`
}

// LogInputs records the datasets a run used.
func (c *Client) LogInputs(ctx context.Context, runID string, datasets []DatasetInput) error {
	in := map[string]any{"run_id": runID, "datasets": nonNil(datasets)}
	if err := c.post(ctx, "/api/2.0/mlflow/runs/log-inputs", in, nil); err != nil {
		return fmt.Errorf("log inputs of run %s: %w", runID, err)
	}
	return nil
}

// LogOutputs records the MLflow 3 logged models a run produced.
func (c *Client) LogOutputs(ctx context.Context, runID string, modelIDs ...string) error {
	models := make([]map[string]any, 0, len(modelIDs))
	for _, id := range modelIDs {
		models = append(models, map[string]any{"model_id": id, "step": 0})
	}
	in := map[string]any{"run_id": runID, "models": models}
	if err := c.post(ctx, "/api/2.0/mlflow/runs/outputs", in, nil); err != nil {
		return fmt.Errorf("log outputs of run %s: %w", runID, err)
	}
	return nil
}
