package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// defaultServeAddr is where `taxieta serve` listens when TAXIETA_ADDR is unset.
const defaultServeAddr = "0.0.0.0:8000"

// defaultGRPCAddr is where serve answers the Open Inference Protocol v2
// over gRPC: port 8001, as Triton and KServe use.
const defaultGRPCAddr = ":8001"

// runHealthcheck probes a running server, for a container HEALTHCHECK (the
// image has no curl): it exits 0 when the URL answers 2xx and otherwise fails
// with a one-line reason. The default URL is the server's /readyz on loopback,
// at the port of TAXIETA_ADDR when that is set, so the probe follows the
// server's configuration inside the same container.
//
// Every failure exits 1, never 2: Docker reserves 2 for health checks.
func runHealthcheck(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet(env, "healthcheck", "healthcheck [--url URL] [--timeout DURATION]")
	rawURL := fs.String("url", "", "URL to GET; healthy when it answers 2xx (default: /readyz on 127.0.0.1 at the port of TAXIETA_ADDR, else 8000)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("healthcheck: %v", err) // %v: exit 1, not the usage error's 2
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	if *timeout <= 0 {
		return fmt.Errorf("healthcheck: --timeout must be positive, got %s", *timeout)
	}
	target := *rawURL
	if target == "" {
		var err error
		if target, err = readyzURL(env.getenv("TAXIETA_ADDR")); err != nil {
			return fmt.Errorf("healthcheck: %v (set --url)", err)
		}
	}
	if err := checkHTTPURL(target); err != nil {
		return fmt.Errorf("healthcheck: --url: %v", err)
	}
	status, err := probe(ctx, target, *timeout)
	if err != nil {
		return fmt.Errorf("healthcheck: %v", err)
	}
	fmt.Fprintf(env.stdout, "healthy: GET %s: %s\n", target, status)
	return nil
}

// readyzURL is the /readyz URL of a server listening on addr (TAXIETA_ADDR,
// host:port; empty means the default). A wildcard or empty host is probed on
// loopback, since the probe runs beside the server.
func readyzURL(addr string) (string, error) {
	if addr == "" {
		addr = defaultServeAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("TAXIETA_ADDR %q: %v", addr, err)
	}
	if port == "" {
		return "", fmt.Errorf("TAXIETA_ADDR %q: no port", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// checkHTTPURL rejects what is not an absolute http(s) URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	return nil
}

// probe GETs target within timeout and returns its status line when it is
// 2xx; otherwise an error that says why, on one line (for a non-2xx answer,
// with the first line of its body, which usually names the cause).
func probe(ctx context.Context, target string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "taxieta-healthcheck")
	// No proxy (the server is beside us) and no connection to keep.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("GET %s: no answer within %s", target, timeout)
		}
		return "", err // *url.Error: names the method, the URL and the cause
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		line, _ := bufio.NewReader(io.LimitReader(resp.Body, 200)).ReadString('\n')
		if line = strings.TrimSpace(line); line != "" {
			line = ": " + line
		}
		return "", fmt.Errorf("GET %s: %s%s", target, resp.Status, line)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.Status, nil
}
