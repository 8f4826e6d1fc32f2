// Package mlflow is a small client of the MLflow tracking server's REST API:
// experiments, runs, logged models (MLflow 3), the model registry and the
// artifact proxy (mlflow-artifacts: URIs). It uses net/http only and knows
// nothing of taxieta's models; internal/registry builds on it.
//
// Every call takes a context and returns errors that say which call failed.
// A server that cannot be reached, or answers 5xx, gives an error for which
// IsUnavailable is true; a missing resource gives one for which IsNotFound is.
package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one MLflow tracking server. Its zero value is not usable;
// make one with New.
type Client struct {
	base *url.URL
	http *http.Client
	auth Auth
}

// Auth is how a client proves who it is to a server that asks (MLflow's
// MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and _PASSWORD). A token
// wins over a user name.
type Auth struct {
	Token              string
	Username, Password string
}

// SetAuth makes the client send credentials with every request. Call it
// before the client is used.
func (c *Client) SetAuth(a Auth) { c.auth = a }

// MaxBody is the largest answer a client reads (an artifact, or a JSON document).
const MaxBody = 1 << 30

// DefaultTimeout bounds each request of a Client made with a nil *http.Client.
const DefaultTimeout = 60 * time.Second

// New returns a client of the tracking server at baseURL (http or https,
// optionally with a path prefix). A nil hc uses a client with DefaultTimeout.
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("mlflow: tracking URI %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mlflow: tracking URI %q: want http://HOST[:PORT] or https://HOST[:PORT]", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: u, http: hc}, nil
}

// BaseURL is the tracking server's address, as given to New (without a trailing slash).
func (c *Client) BaseURL() string { return c.base.String() }

// APIError is an error answer from the server: its HTTP status and, when the
// body is MLflow's JSON error, its error_code and message.
type APIError struct {
	Op         string // e.g. "GET /api/2.0/mlflow/model-versions/get"
	StatusCode int
	Code       string // e.g. RESOURCE_DOES_NOT_EXIST
	Message    string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.Code != "" {
		return fmt.Sprintf("mlflow: %s: %d %s: %s", e.Op, e.StatusCode, e.Code, msg)
	}
	return fmt.Sprintf("mlflow: %s: %d: %s", e.Op, e.StatusCode, msg)
}

// UnavailableError wraps a failure to reach the server, or a 5xx answer
// that says the server (or what stands before it) is not working.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "mlflow server unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// IsNotFound says whether err means that the thing asked for does not exist
// (MLflow's RESOURCE_DOES_NOT_EXIST; a bare 404 is an unknown endpoint, see
// IsEndpointNotFound).
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == "RESOURCE_DOES_NOT_EXIST"
}

// IsAlreadyExists says whether err means that the thing to create exists already.
func IsAlreadyExists(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == "RESOURCE_ALREADY_EXISTS"
}

// IsEndpointNotFound says whether err means that the server does not have
// the endpoint at all (an older MLflow).
func IsEndpointNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.Code == "ENDPOINT_NOT_FOUND" || e.StatusCode == http.StatusNotFound && e.Code == "" ||
		e.StatusCode == http.StatusMethodNotAllowed)
}

// IsUnavailable says whether err means that the server could not be reached
// or did not work, as opposed to an answer that refuses the request.
func IsUnavailable(err error) bool {
	var e *UnavailableError
	return errors.As(err, &e)
}

// do sends a request to path (under the base URL) with query q and body, and
// decodes a JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string, out any) error {
	b, err := c.doRaw(ctx, method, path, q, body, contentType)
	if err != nil {
		return err
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("mlflow: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// doRaw sends a request and returns the answer's body when its status is 2xx.
func (c *Client) doRaw(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) ([]byte, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if q != nil {
		u.RawQuery = q.Encode()
	}
	op := method + " " + path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("mlflow: %s: %w", op, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case c.auth.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.auth.Token)
	case c.auth.Username != "":
		req.SetBasicAuth(c.auth.Username, c.auth.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("mlflow: %s: %w", op, ctx.Err())
		}
		return nil, &UnavailableError{Err: fmt.Errorf("%s: %w", op, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, &UnavailableError{Err: fmt.Errorf("%s: read answer: %w", op, err)}
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("mlflow: %s: answer larger than %d bytes", op, MaxBody)
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	e := &APIError{Op: op, StatusCode: resp.StatusCode}
	var doc struct {
		Code    string `json:"error_code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &doc) == nil {
		e.Code, e.Message = doc.Code, doc.Message
	} else {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return nil, &UnavailableError{Err: e}
	}
	return nil, e
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, q, nil, "", out)
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	return c.send(ctx, http.MethodPost, path, in, out)
}

func (c *Client) send(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("mlflow: %s %s: encode request: %w", method, path, err)
	}
	return c.do(ctx, method, path, nil, bytes.NewReader(b), "application/json", out)
}

// Health asks the server's /health endpoint whether it is up.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.doRaw(ctx, http.MethodGet, "/health", nil, nil, "")
	return err
}
