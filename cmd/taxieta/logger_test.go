package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// The commands' logger writes one JSON object per line, from its level up.
func TestNewLoggerWritesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, slog.LevelInfo)
	log.Debug("dropped")
	log.Info("registry unreachable", "registry", "http://mlflow:5000", "attempt", 2)
	log.Warn("serving the cached copy", "version", "3")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines; want 2 (debug dropped):\n%s", len(lines), buf.String())
	}
	for i, want := range []struct{ level, msg string }{{"INFO", "registry unreachable"}, {"WARN", "serving the cached copy"}} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, lines[i])
		}
		if rec["level"] != want.level || rec["msg"] != want.msg || rec["time"] == nil {
			t.Errorf("line %d: %v; want level %s, msg %q and a time", i+1, rec, want.level, want.msg)
		}
	}
}
