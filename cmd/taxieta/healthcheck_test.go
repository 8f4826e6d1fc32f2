package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadyzURL(t *testing.T) {
	tests := []struct {
		addr    string
		want    string
		wantErr string
	}{
		{addr: "", want: "http://127.0.0.1:8000/readyz"},
		{addr: "0.0.0.0:9000", want: "http://127.0.0.1:9000/readyz"},
		{addr: ":9001", want: "http://127.0.0.1:9001/readyz"},
		{addr: "[::]:9002", want: "http://[::1]:9002/readyz"},
		{addr: "127.0.0.2:9003", want: "http://127.0.0.2:9003/readyz"},
		{addr: "localhost:9004", want: "http://localhost:9004/readyz"},
		{addr: "[::1]:9005", want: "http://[::1]:9005/readyz"},
		{addr: "8000", wantErr: "missing port"},
		{addr: "host:", wantErr: "no port"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := readyzURL(tt.addr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readyzURL(%q) = %q, %v; want an error containing %q", tt.addr, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("readyzURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
			}
		})
	}
}

// healthServer answers each path with the status its table gives; /hang
// answers only when the client gives up.
func healthServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for path, status := range map[string]int{
		"/readyz":    http.StatusOK,
		"/empty":     http.StatusNoContent,
		"/draining":  http.StatusServiceUnavailable,
		"/not-found": http.StatusNotFound,
		"/error":     http.StatusInternalServerError,
	} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			if status == http.StatusServiceUnavailable {
				_, _ = w.Write([]byte("draining\nsecond line never shown\n"))
			}
		})
	}
	mux.HandleFunc("GET /hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHealthcheck(t *testing.T) {
	srv := healthServer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int    // exit code, 0 for success
		wantOut  string // in stdout
		wantErr  string // in the error
	}{
		{name: "2xx is healthy", args: []string{"--url", srv.URL + "/readyz"}, wantOut: "healthy: GET " + srv.URL + "/readyz: 200 OK"},
		{name: "204 is healthy", args: []string{"--url", srv.URL + "/empty"}, wantOut: "204 No Content"},
		{name: "default URL follows TAXIETA_ADDR", env: map[string]string{"TAXIETA_ADDR": addr}, wantOut: "/readyz: 200 OK"},
		{name: "URL from TAXIETA_URL", env: map[string]string{"TAXIETA_URL": srv.URL + "/readyz"}, wantOut: "200 OK"},
		{name: "flag beats environment", args: []string{"--url", srv.URL + "/readyz"}, env: map[string]string{"TAXIETA_URL": srv.URL + "/error"}, wantOut: "200 OK"},
		{name: "503 names the status and the body's first line", args: []string{"--url", srv.URL + "/draining"}, wantCode: 1, wantErr: "503 Service Unavailable: draining"},
		{name: "404 is unhealthy", args: []string{"--url", srv.URL + "/not-found"}, wantCode: 1, wantErr: "404 Not Found"},
		{name: "500 is unhealthy", args: []string{"--url", srv.URL + "/error"}, wantCode: 1, wantErr: "500 Internal Server Error"},
		{name: "no answer in time", args: []string{"--url", srv.URL + "/hang", "--timeout", "20ms"}, wantCode: 1, wantErr: "no answer within 20ms"},
		{name: "connection refused", args: []string{"--url", closedURL + "/readyz"}, wantCode: 1, wantErr: "connection refused"},
		{name: "not an http URL", args: []string{"--url", "ftp://example.com/x"}, wantCode: 1, wantErr: "want an http:// or https:// URL"},
		{name: "URL without host", args: []string{"--url", "http:///readyz"}, wantCode: 1, wantErr: "no host"},
		{name: "bad TAXIETA_ADDR", env: map[string]string{"TAXIETA_ADDR": "8000"}, wantCode: 1, wantErr: "TAXIETA_ADDR"},
		{name: "non-positive timeout", args: []string{"--url", srv.URL, "--timeout", "0s"}, wantCode: 1, wantErr: "--timeout must be positive"},
		// A bad flag would be a usage error (2) elsewhere; Docker reserves 2.
		{name: "bad timeout is exit 1", args: []string{"--timeout", "soon"}, wantCode: 1, wantErr: "invalid value"},
		{name: "bad environment is exit 1", env: map[string]string{"TAXIETA_TIMEOUT": "soon"}, wantCode: 1, wantErr: "TAXIETA_TIMEOUT"},
		{name: "extra argument", args: []string{"--url", srv.URL, "now"}, wantCode: 1, wantErr: `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			err := run(context.Background(), append([]string{"healthcheck"}, tt.args...), getenv, &stdout, &stderr)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tt.wantCode {
				t.Fatalf("exit code %d (err %v), want %d", code, err, tt.wantCode)
			}
			if tt.wantErr != "" {
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q is more than one line", err)
				}
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.wantOut)
			}
		})
	}
}

func TestHealthcheckHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"healthcheck", "--help"}, func(string) string { return "" }, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"--url", "--timeout", "TAXIETA_ADDR"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help on stdout does not mention %s:\n%s", want, stdout.String())
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("help wrote on stderr too:\n%s", stderr.String())
	}
}
