package stream

import "log/slog"

// EmbeddedConfig says where an embedded server listens and keeps its data.
type EmbeddedConfig struct {
	// Listen is host:port for NATS clients; port 0 picks a free port.
	Listen string
	// StoreDir is the JetStream data directory, created if missing.
	StoreDir string
	// Logger receives the server's warnings and errors; its notices are
	// logged at debug level.
	Logger *slog.Logger
}
