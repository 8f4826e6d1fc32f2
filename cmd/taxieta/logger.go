package main

import (
	"io"
	"log/slog"

	"github.com/taxieta/taxieta/internal/logging"
)

// newLogger returns the logger of every command: JSON lines on w (stderr,
// or a buffer in front of it) at level and above, as the README promises,
// so that one log pipeline reads every command's lines alike.
// Its handler is logging's, whose request-line fast path the API uses;
// lines reach w whole, one Write each.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	if _, buffered := w.(*logging.BufferedWriter); !buffered {
		w = logging.NewLockedWriter(w)
	}
	return slog.New(logging.NewHandler(w, level))
}
