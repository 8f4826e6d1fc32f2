//go:build !nonatsserver

package stream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded is a NATS server with JetStream running inside this process, so
// that one machine needs nothing installed. Other processes (producers,
// more consumers) can connect to it at URL.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts an embedded NATS server with JetStream and waits until
// it accepts connections.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	host, portText, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded nats: listen address %q: bad port", cfg.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	} else {
		// The server only logs a port it cannot listen on; say it here.
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: %w (is another server on it? use --nats to connect to it)", err)
		}
		_ = ln.Close()
	}
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: a JetStream data directory is required")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "taxieta-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true, // this process handles its own signals
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Logger != nil {
		srv.SetLogger(serverLogger{cfg.Logger.With("component", "nats-server")}, false, false)
	}
	srv.Start()
	// ReadyForConnections does not take a context: poll it in short steps.
	deadline := time.Now().Add(30 * time.Second)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		err := ctx.Err()
		if err == nil && (!srv.Running() || time.Now().After(deadline)) {
			err = fmt.Errorf("not ready on %s (port in use, or data directory %s unusable?)", cfg.Listen, cfg.StoreDir)
		}
		if err != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: JetStream did not start (data directory %s)", cfg.StoreDir)
	}
	return &Embedded{srv: srv}, nil
}

// URL is the nats:// URL clients connect to.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped; JetStream's data
// is flushed to the data directory.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// serverLogger adapts slog to the server's logger.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  {}
