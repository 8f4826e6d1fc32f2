package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Precedence is flag > environment > config file > default.
func TestParseFlagsPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "taxieta.conf")
	if err := os.WriteFile(conf, []byte("# operators' settings\naddr = 0.0.0.0:9000\nmax-batch = 50\ntitle = \"From file\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantAddr  string
		wantBatch int
		wantTitle string
		wantErr   bool
	}{
		{"defaults", nil, nil, "0.0.0.0:8000", 10000, "taxieta", false},
		{"config file", []string{"--config", conf}, nil, "0.0.0.0:9000", 50, "From file", false},
		{"config from env", nil, map[string]string{"TAXIETA_CONFIG": conf}, "0.0.0.0:9000", 50, "From file", false},
		{"env beats file", []string{"--config", conf}, map[string]string{"TAXIETA_ADDR": "127.0.0.1:1"}, "127.0.0.1:1", 50, "From file", false},
		{"flag beats env", []string{"--config", conf, "--addr", "127.0.0.1:2"}, map[string]string{"TAXIETA_ADDR": "127.0.0.1:1"}, "127.0.0.1:2", 50, "From file", false},
		{"bad env value", nil, map[string]string{"TAXIETA_MAX_BATCH": "many"}, "", 0, "", true},
		{"unknown flag", []string{"--nope"}, nil, "", 0, "", true},
		{"missing config", []string{"--config", filepath.Join(dir, "absent")}, nil, "", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := environment{getenv: func(k string) string { return tt.env[k] }, stdout: io.Discard, stderr: io.Discard}
			fs := newFlagSet(env, "serve", "serve")
			fs.String("config", "", "")
			addr := fs.String("addr", "0.0.0.0:8000", "")
			batch := fs.Int("max-batch", 10000, "")
			title := fs.String("title", "taxieta", "")
			err := parseFlags(fs, tt.args, env.getenv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v; want error %v", err, tt.wantErr)
			}
			if err == nil && (*addr != tt.wantAddr || *batch != tt.wantBatch || *title != tt.wantTitle) {
				t.Errorf("got %s %d %q; want %s %d %q", *addr, *batch, *title, tt.wantAddr, tt.wantBatch, tt.wantTitle)
			}
		})
	}
}

func TestConfigFileRejectsUnknownKeys(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "c.conf")
	if err := os.WriteFile(conf, []byte("adr = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := environment{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	fs := newFlagSet(env, "serve", "serve")
	fs.String("config", "", "")
	fs.String("addr", "", "")
	err := parseFlags(fs, []string{"--config", conf}, env.getenv)
	if err == nil {
		t.Fatal("a misspelt key was accepted")
	}
	if !strings.Contains(err.Error(), `unknown setting "adr"`) {
		t.Errorf("err = %v; want it to name the unknown setting \"adr\"", err)
	}
}
