// Command grpcload is the gRPC side of `make bench`: it calls taxieta's Open
// Inference Protocol v2 ModelInfer (inference.GRPCInferenceService) with one
// trip per call, from a pool of zone pairs, on C concurrent callers spread
// over a number of HTTP/2 connections, for a duration, and prints one line:
//
//	calls 812345 errors 0 rps 81234.5 p50_ms 0.712 p99_ms 2.310
//
// so that scripts/bench/grpc.sh can set it against wrk's POST /predict at the
// same concurrency. Like wrk, it sends prepared bytes: each trip's request is
// marshalled once, and answers are read as bytes, checked by length against
// the first answer of each caller, which is decoded and checked in full (three
// FP64 outputs of one trip, a positive duration). It targets loopback only,
// and stops after the duration.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/taxieta/taxieta/internal/oip/oippb"
)

// defaultPairs are zone pairs (PULocationID:DOLocationID) of common trips:
// East Harlem, Midtown, JFK, LaGuardia, the Upper East Side.
const defaultPairs = "74:75,75:74,74:41,41:74,132:230,138:161,161:237,237:236,236:237,230:161,142:239,239:142,162:170,48:68,79:107,186:230"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
}

type config struct {
	addr     string
	model    string
	conns    int
	callers  int
	duration time.Duration
	pairs    [][2]int64
}

func run(args []string) error {
	fs := flag.NewFlagSet("grpcload", flag.ContinueOnError)
	var cfg config
	var pairs string
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8001", "the gRPC listener (loopback only)")
	fs.StringVar(&cfg.model, "model", "taxi-duration", "model name")
	fs.IntVar(&cfg.callers, "c", 64, "concurrent callers, each with one call in flight")
	fs.IntVar(&cfg.conns, "conns", 0, "HTTP/2 connections the callers share (default: one per caller, as wrk's connections)")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "how long to call")
	fs.StringVar(&pairs, "pairs", defaultPairs, "the pool of trips, PU:DO zone pairs separated by commas")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.conns <= 0 {
		cfg.conns = cfg.callers
	}
	if cfg.callers < 1 || cfg.conns > cfg.callers || cfg.duration <= 0 || cfg.duration > 10*time.Minute {
		return errors.New("want -c ≥ 1, -conns ≤ -c and a duration of at most 10m")
	}
	var err error
	if cfg.pairs, err = parsePairs(pairs); err != nil {
		return err
	}
	if err := loopback(cfg.addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+30*time.Second)
	defer cancel()
	res, err := load(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Println(res)
	if res.errors > 0 {
		return fmt.Errorf("%d calls failed; the first: %v", res.errors, res.firstErr)
	}
	return nil
}

// parsePairs reads "PU:DO,PU:DO".
func parsePairs(s string) ([][2]int64, error) {
	var out [][2]int64
	for _, p := range strings.Split(s, ",") {
		pu, do, ok := strings.Cut(strings.TrimSpace(p), ":")
		a, err1 := strconv.ParseInt(pu, 10, 64)
		b, err2 := strconv.ParseInt(do, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("-pairs: %q is not PU:DO", p)
		}
		out = append(out, [2]int64{a, b})
	}
	return out, nil
}

// loopback refuses any target but this machine's loopback addresses.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-addr %q: %s is not a loopback address; grpcload loads only this machine", addr, ip)
		}
	}
	return nil
}

// rawCodec sends prepared bytes as they are and hands answers over as
// bytes, so that the load generator spends no time in protobuf per call
// (as wrk sends a fixed body and does not parse the answer).
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T is not []byte", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	*p = append((*p)[:0], data.Materialize()...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

const method = "/inference.GRPCInferenceService/ModelInfer"

// requests marshals one ModelInfer request per pair: one trip, typed
// int64 contents, as tritonclient sends them.
func requests(model string, pairs [][2]int64) ([][]byte, error) {
	out := make([][]byte, len(pairs))
	for i, p := range pairs {
		in := func(name string, v int64) *oippb.ModelInferRequest_InferInputTensor {
			return &oippb.ModelInferRequest_InferInputTensor{Name: name, Datatype: "INT64", Shape: []int64{1},
				Contents: &oippb.InferTensorContents{Int64Contents: []int64{v}}}
		}
		b, err := proto.Marshal(&oippb.ModelInferRequest{ModelName: model,
			Inputs: []*oippb.ModelInferRequest_InferInputTensor{in("PULocationID", p[0]), in("DOLocationID", p[1]), in("passenger_count", 1)}})
		if err != nil {
			return nil, fmt.Errorf("marshal a request: %w", err)
		}
		out[i] = b
	}
	return out, nil
}

// check decodes an answer in full: three FP64 outputs of one trip in
// raw_output_contents, the duration positive and finite.
func check(answer []byte) error {
	var r oippb.ModelInferResponse
	if err := proto.Unmarshal(answer, &r); err != nil {
		return fmt.Errorf("the answer is not a ModelInferResponse: %w", err)
	}
	if len(r.Outputs) != 3 || len(r.RawOutputContents) != 3 || len(r.RawOutputContents[0]) != 8 {
		return fmt.Errorf("the answer has %d outputs and %d raw contents; want 3 FP64 [1]", len(r.Outputs), len(r.RawOutputContents))
	}
	if d := math.Float64frombits(binary.LittleEndian.Uint64(r.RawOutputContents[0])); !(d > 0) || math.IsInf(d, 0) {
		return fmt.Errorf("the answer's duration_minutes is %v", d)
	}
	return nil
}

// result is what a run measured.
type result struct {
	calls, errors int
	elapsed       time.Duration
	latencies     []time.Duration // sorted
	firstErr      error
}

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

func (r result) String() string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("calls %d errors %d rps %.1f p50_ms %.3f p99_ms %.3f",
		r.calls, r.errors, float64(r.calls)/r.elapsed.Seconds(), ms(r.quantile(0.5)), ms(r.quantile(0.99)))
}

// load runs the callers for the duration and gathers what they measured.
func load(ctx context.Context, cfg config) (result, error) {
	reqs, err := requests(cfg.model, cfg.pairs)
	if err != nil {
		return result{}, err
	}
	conns := make([]*grpc.ClientConn, cfg.conns)
	for i := range conns {
		// Each ClientConn is its own HTTP/2 connection.
		cc, err := grpc.NewClient("passthrough:///"+cfg.addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
		if err != nil {
			return result{}, fmt.Errorf("connect to %s: %w", cfg.addr, err)
		}
		defer cc.Close()
		conns[i] = cc
	}
	// One call on each connection first, so that connecting is not measured.
	for _, cc := range conns {
		var answer []byte
		if err := cc.Invoke(ctx, method, reqs[0], &answer); err != nil {
			return result{}, fmt.Errorf("first call to %s: %w", cfg.addr, err)
		}
		if err := check(answer); err != nil {
			return result{}, err
		}
	}
	type part struct {
		calls, errors int
		lat           []time.Duration
		err           error
	}
	parts := make([]part, cfg.callers)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(cfg.duration)
	for w := range parts {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			p := &parts[w]
			p.lat = make([]time.Duration, 0, 1<<14)
			cc := conns[w%len(conns)]
			var answer []byte
			size := -1
			for i := w; ; i++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := cc.Invoke(ctx, method, reqs[i%len(reqs)], &answer)
				if err == nil {
					if size < 0 {
						err = check(answer)
						size = len(answer)
					} else if len(answer) != size {
						err = fmt.Errorf("an answer of %d bytes where the first was %d", len(answer), size)
					}
				}
				p.lat = append(p.lat, time.Since(t0))
				p.calls++
				if err != nil {
					p.errors++
					if p.err == nil {
						p.err = err
					}
				}
			}
		}(w)
	}
	wg.Wait()
	res := result{elapsed: time.Since(start)}
	for _, p := range parts {
		res.calls += p.calls
		res.errors += p.errors
		res.latencies = append(res.latencies, p.lat...)
		if res.firstErr == nil {
			res.firstErr = p.err
		}
	}
	slices.Sort(res.latencies)
	return res, nil
}
