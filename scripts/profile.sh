#!/usr/bin/env bash
# make profile: CPU and allocation profiles of taxieta serve under load.
# Starts serve with its defaults and --debug-addr, loads POST /predict with
# wrk (64 connections) and takes a CPU profile and the allocations made
# during the load (the difference of two allocs snapshots), then prints the
# top of each. The profiles stay in OUT (default .cache/profile) for
# `go tool pprof -http=: BIN FILE`.
# Environment: SECONDS_CPU (default 10), CONNS (default 64), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_CPU:-10}; conns=${CONNS:-64}; out=${OUT:-.cache/profile}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
go build -o "$out/taxieta" ./cmd/taxieta
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(port); dbg=$(port)
"$out/taxieta" serve --addr "127.0.0.1:$api" --grpc-addr off --debug-addr "127.0.0.1:$dbg" 2>"$out/serve.log" & pids+=($!)
for _ in $(seq 1 500); do curl -fs -o /dev/null "http://127.0.0.1:$api/readyz" && break; sleep 0.01; done
wrk -t 2 -c "$conns" -d "$((secs + 4))s" -s scripts/bench/predict.lua "http://127.0.0.1:$api/predict" >"$out/wrk.txt" & wrk=$!
sleep 1
curl -fs -o "$out/allocs-before.pprof" "http://127.0.0.1:$dbg/debug/pprof/allocs"
curl -fs -o "$out/cpu.pprof" "http://127.0.0.1:$dbg/debug/pprof/profile?seconds=$secs"
curl -fs -o "$out/allocs-after.pprof" "http://127.0.0.1:$dbg/debug/pprof/allocs"
wait "$wrk"
grep -E 'Requests/sec|requests in' "$out/wrk.txt"
printf '\n== CPU, cumulative (%s s under load)\n' "$secs"
go tool pprof -top -cum -nodecount=40 "$out/taxieta" "$out/cpu.pprof" 2>/dev/null | sed -n '5,50p'
printf '\n== allocations during the load, by objects\n'
go tool pprof -sample_index=alloc_objects -base "$out/allocs-before.pprof" -top -nodecount=25 "$out/taxieta" "$out/allocs-after.pprof" 2>/dev/null | sed -n '5,35p'
printf '\nprofiles in %s: go tool pprof -http=: %s/taxieta %s/cpu.pprof\n' "$out" "$out" "$out"
