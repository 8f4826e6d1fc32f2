package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/oip"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// serve starts the real OIP gRPC server, with the embedded model, on a
// loopback port and returns its address.
func serve(t *testing.T) string {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serving.New(serving.NewStatic(&serving.ModelVersion{Artifact: a, Name: "taxi-duration", Version: "1"}), serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ny, err := trip.NYC()
	if err != nil {
		t.Fatal(err)
	}
	s, err := oip.New(svc, oip.Options{Location: ny})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := s.NewGRPCServer()
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	return ln.Addr().String()
}

func TestLoad(t *testing.T) {
	addr := serve(t)
	pairs, err := parsePairs(defaultPairs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name  string
		model string
		fails bool
	}{
		{"taxi-duration", "taxi-duration", false},
		{"unknown model", "other", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := load(ctx, config{addr: addr, model: tc.model, conns: 2, callers: 4, duration: 200 * time.Millisecond, pairs: pairs})
			if tc.fails {
				if err == nil || !strings.Contains(err.Error(), "NotFound") {
					t.Fatalf("load of an unknown model: %v, %v; want NotFound", res, err)
				}
				return
			}
			if err != nil || res.calls == 0 || res.errors != 0 || len(res.latencies) != res.calls {
				t.Fatalf("load = %v, %v (first error %v)", res, err, res.firstErr)
			}
			if !strings.HasPrefix(res.String(), "calls ") || res.quantile(0.5) > res.quantile(0.99) {
				t.Errorf("result line %q", res)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "192.0.2.1:8001", "-d", "1s"}, "not a loopback address"},
		{[]string{"-pairs", "74-75"}, "is not PU:DO"},
		{[]string{"-c", "2", "-conns", "3"}, "-conns ≤ -c"},
		{[]string{"-d", "1h"}, "at most 10m"},
	} {
		if err := run(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want an error saying %q", tc.args, err, tc.want)
		}
	}
}
