package main

import (
	"io"
	"log/slog"
)

// newLogger returns the logger of every command: JSON lines on w (stderr,
// or a buffer in front of it) at level and above, as the README promises,
// so that one log pipeline reads every command's lines alike.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
