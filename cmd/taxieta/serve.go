package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
	_ "time/tzdata" // pickup times are NYC local; containers may lack a zone database

	"github.com/prometheus/client_golang/prometheus"

	"google.golang.org/grpc"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/httpapi"
	"github.com/taxieta/taxieta/internal/logging"
	"github.com/taxieta/taxieta/internal/oip"
	"github.com/taxieta/taxieta/internal/serving"
)

// serveConfig is everything `taxieta serve` can be told.
type serveConfig struct {
	addr         string
	grpcAddr     string
	debugAddr    string
	model        modelFlags
	predLog      predictionLogFlags
	drift        driftFlags
	grace        time.Duration
	drainDelay   time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	idleTimeout  time.Duration
	logLevel     string
	logFlush     time.Duration
	api          httpapi.Config
}

func runServe(ctx context.Context, env environment, args []string) error {
	start := time.Now()
	cfg := serveConfig{api: httpapi.DefaultConfig()}
	fs := newFlagSet(env, "serve", "serve [flags]")
	fs.String("config", "", "config file of `name = value` lines, one per flag name")
	fs.StringVar(&cfg.addr, "addr", defaultServeAddr, "address to listen on")
	fs.StringVar(&cfg.grpcAddr, "grpc-addr", defaultGRPCAddr, "address of the Open Inference Protocol v2 gRPC listener (\"off\" turns it off)")
	fs.StringVar(&cfg.debugAddr, "debug-addr", "", "address of a separate listener with Go's profiler at /debug/pprof/ (empty: none; keep it off public networks)")
	cfg.model.register(fs, true)
	cfg.predLog.register(fs)
	cfg.drift.register(fs)
	fs.DurationVar(&cfg.grace, "grace-period", 10*time.Second, "on SIGTERM, how long in-flight requests may take to finish")
	fs.DurationVar(&cfg.drainDelay, "drain-delay", 0, "on SIGTERM, how long to keep serving with readiness false before closing the listener (lets load balancers notice)")
	fs.DurationVar(&cfg.readTimeout, "read-timeout", 30*time.Second, "longest time to read a request, headers and body")
	fs.DurationVar(&cfg.writeTimeout, "write-timeout", 30*time.Second, "longest time to write a response")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive connection stays open")
	fs.IntVar(&cfg.api.MaxBatch, "max-batch", cfg.api.MaxBatch, "most trips in one /predict/batch request")
	fs.Int64Var(&cfg.api.MaxBodyBytes, "max-body-bytes", cfg.api.MaxBodyBytes, "largest /predict/batch body, bytes")
	fs.BoolVar(&cfg.api.LogRequests, "log-requests", cfg.api.LogRequests, "log one line per request")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&cfg.logFlush, "log-flush-interval", 200*time.Millisecond, "log lines are buffered and written at least this often (0: every line at once)")
	fs.StringVar(&cfg.api.AdminToken, "admin-token", "", "bearer token for /admin routes; empty turns them off")
	fs.StringVar(&cfg.api.Title, "title", cfg.api.Title, "title on the home page and in the OpenAPI document")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))}
	}
	if cfg.grace <= 0 || cfg.readTimeout <= 0 || cfg.writeTimeout <= 0 || cfg.idleTimeout <= 0 {
		return usageError{errors.New("serve: --grace-period and the timeouts must be positive")}
	}
	level, err := parseLogLevel("serve", cfg.logLevel)
	if err != nil {
		return err
	}
	var logOut io.Writer = env.stderr
	flush := func() {}
	if cfg.logFlush > 0 {
		buf := logging.NewBufferedWriter(env.stderr, cfg.logFlush)
		defer buf.Close()
		logOut, flush = buf, func() { _ = buf.Flush() }
	}
	log := newLogger(logOut, level)
	cfg.api.Version = buildinfo.Version()

	reg := prometheus.NewRegistry()
	plog, err := cfg.predLog.open(log, reg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	var svc *serving.Service
	mon, err := cfg.drift.monitor(&svc, log, reg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	svc, follow, err := cfg.model.openService(ctx, env, log, reg, serving.Observers(observer(plog), mon))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	cfg.api.Monitor = mon
	v2, err := newOIP(svc, cfg.api)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	extra, err := protocolRoutes(svc, cfg.api, v2)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	api, err := httpapi.NewServer(cfg.api, svc, log, reg, extra...)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if follow != nil {
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		go follow(fctx)
	}
	err = listenAndServe(ctx, cfg, api, v2, log, start, svc.Current(), flush)
	// Every request has finished: what the prediction log holds is complete.
	return errors.Join(err, closePredictionLog(plog, cfg.grace))
}

// listenAndServe serves HTTP (and OIP v2 gRPC unless --grpc-addr is off)
// until ctx ends, then drains: readiness turns false, the listeners close
// after the drain delay, and in-flight requests and calls get the grace
// period to finish.
func listenAndServe(ctx context.Context, cfg serveConfig, api *httpapi.Server, v2 *oip.Server, log *slog.Logger, start time.Time, lm *serving.ModelVersion, flush func()) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", cfg.addr, err)
	}
	var (
		gsrv      *grpc.Server
		grpcShown = "off"
	)
	errc := make(chan error, 2)
	if cfg.grpcAddr != "off" {
		gln, err := net.Listen("tcp", cfg.grpcAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("serve: listen on --grpc-addr %s: %w", cfg.grpcAddr, err)
		}
		gsrv = v2.NewGRPCServer()
		grpcShown = gln.Addr().String()
		go func() {
			if err := gsrv.Serve(gln); err != nil {
				errc <- fmt.Errorf("grpc: %w", err)
			}
		}()
	}
	srv := &http.Server{
		Handler: api,
		// No ReadHeaderTimeout: headers share --read-timeout with the body,
		// so net/http sets one read deadline per request, not two.
		ReadTimeout:  cfg.readTimeout,
		WriteTimeout: cfg.writeTimeout,
		IdleTimeout:  cfg.idleTimeout,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:  func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	go func() { errc <- srv.Serve(ln) }()
	if cfg.debugAddr != "" {
		dsrv, err := serveDebug(cfg.debugAddr, log)
		if err != nil {
			_ = srv.Close()
			if gsrv != nil {
				gsrv.Stop()
			}
			return fmt.Errorf("serve: %w", err)
		}
		defer dsrv.Close()
	}
	log.Info("serving", "addr", ln.Addr().String(), "grpc_addr", grpcShown, "model", lm.Name, "model_version", lm.Version, "source", lm.Source,
		"app_version", buildinfo.Version(), "startup_ms", float64(time.Since(start).Microseconds())/1000)
	flush() // operators and probes look for this line at once

	select {
	case err := <-errc:
		_ = srv.Close()
		if gsrv != nil {
			gsrv.Stop()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	api.Drain()
	v2.Drain()
	log.Info("draining", "drain_delay", cfg.drainDelay.String(), "grace_period", cfg.grace.String())
	flush()
	if cfg.drainDelay > 0 {
		time.Sleep(cfg.drainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	gdone := make(chan struct{})
	go func() {
		defer close(gdone)
		if gsrv != nil {
			v2.EndWatches() // a health Watch stream would hold GracefulStop
			gsrv.GracefulStop()
		}
	}()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		if gsrv != nil {
			gsrv.Stop()
		}
		return fmt.Errorf("serve: in-flight requests did not finish within the grace period %s: %w", cfg.grace, err)
	}
	if gsrv != nil {
		select {
		case <-gdone:
		case <-sctx.Done():
			gsrv.Stop()
			return fmt.Errorf("serve: in-flight gRPC calls did not finish within the grace period %s", cfg.grace)
		}
	}
	log.Info("stopped")
	return nil
}
