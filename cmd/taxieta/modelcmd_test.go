package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/testenv"
)

// cli runs the taxieta command line in-process with an environment of its
// own (so the machine's MLFLOW_TRACKING_URI and the like do not leak in).
type cli struct {
	t   *testing.T
	env map[string]string
}

func (c cli) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err = run(ctx, args, func(k string) string { return c.env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func (c cli) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("taxieta %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// TestRegistryCommands trains, registers, aliases, lists, shows, downloads
// and loads by reference, against a local registry and a real MLflow server.
func TestRegistryCommands(t *testing.T) {
	data := testenv.DataDir(t)
	// A small real TLC file, without the zone files, keeps training (twice
	// per registry, under the race detector) quick.
	sample := filepath.Join(data, "yellow_tripdata_sample_2019-03.csv")
	backends := []struct {
		name string
		// location returns the registry to use and a function that makes it unreachable (nil if it cannot be).
		location func(t *testing.T) (string, func())
	}{
		{"local", func(t *testing.T) (string, func()) { return filepath.Join(t.TempDir(), "registry"), nil }},
		{"mlflow", func(t *testing.T) (string, func()) { return proxied(t, testenv.Service(t, "TAXIETA_MLFLOW_URI")) }},
		{"mlflow2", func(t *testing.T) (string, func()) {
			uri := os.Getenv("TAXIETA_MLFLOW2_URI")
			if uri == "" {
				t.Skip("TAXIETA_MLFLOW2_URI not set: no MLflow 2 server (scripts/services/mlflow.sh starts one unless TAXIETA_MLFLOW2=0)")
			}
			return proxied(t, uri)
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			reg, stop := b.location(t)
			tmp := t.TempDir()
			cache := filepath.Join(tmp, "cache")
			name := "taxi-" + b.name + "-" + time.Now().Format("150405.000000")
			c := cli{t: t, env: map[string]string{"TAXIETA_REGISTRY": reg, "TAXIETA_CACHE_DIR": cache}}
			m1, m2 := filepath.Join(tmp, "m1.taxieta"), filepath.Join(tmp, "m2.taxieta")

			out := c.must("train", "--train", sample, "--out", m1, "--register", name, "--alias", "champion")
			if !strings.Contains(out, "registered models:/"+name+"/1 in "+strings.TrimSuffix(reg, "/")) || !strings.Contains(out, "models:/"+name+"@champion -> version 1") {
				t.Fatalf("train --register said:\n%s", out)
			}
			// --json keeps stdout a JSON document; the registration goes to stderr.
			out, errOut, err := c.run("train", "--train", sample, "--model", "linear", "--out", m2, "--register", name, "--json", "--registry", reg)
			if err != nil || !json.Valid([]byte(out)) || !strings.Contains(errOut, "registered models:/"+name+"/2") {
				t.Fatalf("train --json --register: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
			}

			if out := c.must("model", "list"); !strings.Contains(out, name+"\n") {
				t.Fatalf("model list:\n%s", out)
			}
			var listed struct {
				Versions []struct {
					Version string   `json:"version"`
					Aliases []string `json:"aliases"`
					SHA256  string   `json:"sha256"`
				} `json:"versions"`
			}
			if err := json.Unmarshal([]byte(c.must("model", "list", name, "--json")), &listed); err != nil {
				t.Fatal(err)
			}
			if len(listed.Versions) != 2 || listed.Versions[0].Version != "1" || len(listed.Versions[0].Aliases) != 1 || listed.Versions[1].Aliases != nil {
				t.Fatalf("model list %s --json: %+v", name, listed)
			}
			c.must("model", "alias", name, "champion", "2")
			if out := c.must("model", "show", "models:/"+name+"@champion"); !strings.Contains(out, "version     2") || !strings.Contains(out, "kind            linear") {
				t.Fatalf("model show:\n%s", out)
			}
			dl := filepath.Join(tmp, "dl.taxieta")
			c.must("model", "download", "models:/"+name+"/1", "--out", dl)
			if want, got := readFile(t, m1), readFile(t, dl); !bytes.Equal(want, got) {
				t.Fatal("the downloaded artifact differs from the trained one")
			}

			// Serving checks what it loads: the linear model of a small
			// sample makes negative estimates, so serve the od one.
			c.must("model", "alias", name, "champion", "1")
			env := environment{getenv: func(k string) string { return c.env[k] }, stderr: new(bytes.Buffer)}
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			// open is how serve and stream (follow) and predict (!follow) open the model.
			open := func(follow bool, cacheDir string) (*serving.ModelVersion, error) {
				mf := modelFlags{ref: "models:/" + name + "@champion", registry: registryFlags{location: reg, cacheDir: cacheDir}, follow: follow}
				svc, _, err := mf.openService(context.Background(), env, log, nil, nil)
				if err != nil {
					return nil, err
				}
				return svc.Current(), nil
			}
			for _, follow := range []bool{true, false} {
				lm, err := open(follow, cache)
				if err != nil || lm.Name != name || lm.Version != "1" || lm.FromCache || lm.Artifact.Kind != "od" {
					t.Fatalf("open the model by alias (follow %v): %+v, %v", follow, lm, err)
				}
			}

			mistakes := []struct {
				args    []string
				wantErr string
				usage   bool
			}{
				{[]string{"model", "show", "models:/" + name + "@nope"}, "not found", false},
				{[]string{"model", "show", "models:/" + name}, "name a version", true},
				{[]string{"model", "alias", name, "champion", "9"}, "not found", false},
				{[]string{"model", "alias", name, "latest", "1"}, "reserved", true},
				{[]string{"model", "list", name + "-none"}, "not found", false},
				{[]string{"model", "frobnicate"}, "unknown subcommand", true},
				{[]string{"train", "--train", "green:2021-01", "--out", m1, "--alias", "champion"}, "--alias needs --register", true},
			}
			for _, m := range mistakes {
				_, _, err := c.run(m.args...)
				var u usageError
				if err == nil || !strings.Contains(err.Error(), m.wantErr) {
					t.Errorf("taxieta %s: %v; want an error containing %q", strings.Join(m.args, " "), err, m.wantErr)
				} else if errors.As(err, &u) != m.usage {
					t.Errorf("taxieta %s: usage error %v; want %v", strings.Join(m.args, " "), !m.usage, m.usage)
				}
			}
			if stop == nil {
				return
			}
			stop() // the registry goes down
			lm, err := open(true, cache)
			if err != nil || !lm.FromCache || lm.Version != "1" {
				t.Fatalf("open a followed model with the registry down: %+v, %v", lm, err)
			}
			if !strings.Contains(logs.String(), "serving the cached copy") {
				t.Errorf("no warning that the cached copy is served; logs:\n%s", logs.String())
			}
			// A one-off job must not score with what the alias last named.
			if _, err := open(false, cache); err == nil || !strings.Contains(err.Error(), "models:/"+name+"@champion") || !strings.Contains(err.Error(), "from the registry") {
				t.Errorf("open a one-off model with the registry down: %v; want an error naming the reference and the registry", err)
			}
			if _, err := open(true, filepath.Join(tmp, "empty-cache")); err == nil || !strings.Contains(err.Error(), "cannot be reached and no copy is cached") {
				t.Errorf("open a followed model with the registry down and no cache: %v", err)
			}
		})
	}
}

// proxied puts a real reverse proxy, which the test can stop, in front of
// the server at uri, and returns its URL and its stop function.
func proxied(t *testing.T, uri string) (string, func()) {
	t.Helper()
	target, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	return proxy.URL, proxy.Close
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args     []string
		wantJSON bool
		wantOut  string
		wantPos  []string
	}{
		{[]string{"models:/m/1"}, false, "", []string{"models:/m/1"}},
		{[]string{"models:/m/1", "--json"}, true, "", []string{"models:/m/1"}},
		{[]string{"--out", "f", "models:/m/1"}, false, "f", []string{"models:/m/1"}},
		{[]string{"models:/m/1", "--out", "f", "--json"}, true, "f", []string{"models:/m/1"}},
		{[]string{"models:/m/1", "--out=f"}, false, "f", []string{"models:/m/1"}},
		{[]string{"a", "--", "--json"}, false, "", []string{"a", "--json"}},
		{[]string{"a", "-", "b"}, false, "", []string{"a", "-", "b"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := newFlagSet(environment{stderr: new(bytes.Buffer)}, "x", "x")
			asJSON := fs.Bool("json", false, "")
			out := fs.String("out", "", "")
			if err := parseInterspersed(fs, tt.args, func(string) string { return "" }); err != nil {
				t.Fatal(err)
			}
			if *asJSON != tt.wantJSON || *out != tt.wantOut || strings.Join(fs.Args(), "|") != strings.Join(tt.wantPos, "|") {
				t.Fatalf("json %v, out %q, args %q; want %v, %q, %q", *asJSON, *out, fs.Args(), tt.wantJSON, tt.wantOut, tt.wantPos)
			}
		})
	}
}
