#!/usr/bin/env bash
# make bench: load-tests taxieta serve against a bare net/http handler that
# decodes the same JSON and answers a constant (tools/barehttp), from a
# separate process (wrk) on loopback, at 1, 16 and 64 connections in
# alternating rounds (scripts/bench/predict.sh); then the batch endpoint
# with 10,000-trip requests; then memory after 1 million requests and the
# time from process start to ready.
# Figures are only comparable within one run: this prints ratios, with the
# median and spread of alternating rounds where there is a yardstick.
# Environment: ROUNDS (default 5), ROUND_DURATION (default 5s), DURATION
# (other runs, default 10s), OLD (a git revision to compare /predict with).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/taxieta" ./cmd/taxieta
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 500); do curl -fs -o /dev/null "$1" && return; sleep 0.01; done; echo "not ready: $1" >&2; exit 1; }

tport=$(port)
# Request logging on, as in production.
"$tmp/taxieta" serve --addr "127.0.0.1:$tport" --grpc-addr off 2>"$tmp/taxieta.log" & pids+=($!); tpid=$!
wait_ready "http://127.0.0.1:$tport/readyz"

# run_wrk URL CONNS SCRIPT → "rps p50 p99" (latencies in ms)
run_wrk() {
  local out
  out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "$DURATION" --latency -s "$3" "$1")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errs; errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -z "$errs" ] || echo "  wrk: $errs" >&2
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() { # wrk prints 85.00us, 1.20ms, 2.01s
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'
}

# /predict against the bare handler, alternating rounds at 1, 16 and 64
# connections (and against OLD=REV when given).
ROUNDS=${ROUNDS:-5} DURATION=${ROUND_DURATION:-5s} BIN="$tmp/taxieta" scripts/bench/predict.sh

printf '\nPOST /predict/batch, 10,000 trips per request\n'
for c in 1 2 4; do
  read -r rps p50 p99 < <(run_wrk "http://127.0.0.1:$tport/predict/batch" "$c" scripts/bench/batch.lua)
  printf 'conns %-3s %8.1f requests/s = %10.0f predictions/s  p50 %s ms  p99 %s ms\n' "$c" "$rps" "$(awk -v r="$rps" 'BEGIN{print r*10000}')" "$p50" "$p99"
done

# OIP v2 one trip, gRPC and REST, against /predict in alternating rounds.
printf '\n'
ROUNDS=${ROUNDS:-5} DURATION=${ROUND_DURATION:-5s} scripts/bench/grpc.sh "$tmp/taxieta"
printf '\nOpen Inference Protocol v2 REST infer, 10,000 trips per request (JSON tensors)\n'
for c in 1 2; do
  read -r rps p50 p99 < <(run_wrk "http://127.0.0.1:$tport" "$c" scripts/bench/v2batch.lua)
  printf 'conns %-3s %8.1f requests/s = %10.0f predictions/s  p50 %s ms  p99 %s ms\n' "$c" "$rps" "$(awk -v r="$rps" 'BEGIN{print r*10000}')" "$p50" "$p99"
done

# Memory after at least 1,000,000 requests (fresh server, request logging on).
mport=$(port)
"$tmp/taxieta" serve --addr "127.0.0.1:$mport" --grpc-addr off 2>/dev/null & pids+=($!); mpid=$!
wait_ready "http://127.0.0.1:$mport/readyz"
total=0
while [ "$total" -lt 1000000 ]; do
  out=$(wrk -t 2 -c 32 -d 10s -s scripts/bench/predict.lua "http://127.0.0.1:$mport/predict")
  n=$(awk '/requests in/ {print $1}' <<<"$out"); total=$((total + n))
done
rss=$(awk '/VmRSS/ {print $2}' "/proc/$mpid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$mpid/status")
printf '\nmemory after %d requests: RSS %.1f MB (peak %.1f MB)\n' "$total" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$(awk -v k="$hwm" 'BEGIN{print k/1024}')"

# Start to ready: the server's own measure and the wall clock to a 200 on /readyz.
for i in 1 2 3 4 5; do
  sport=$(port)
  start=$(date +%s%N)
  "$tmp/taxieta" serve --addr "127.0.0.1:$sport" --grpc-addr off 2>"$tmp/start.log" & spid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$sport/readyz"; do sleep 0.002; done
  end=$(date +%s%N)
  kill "$spid"; wait "$spid" 2>/dev/null || true
  printf 'start to ready (wall, incl. curl polling): %d ms; server-reported start-up: %s ms\n' $(( (end - start) / 1000000 )) "$(grep -o '"startup_ms":[0-9.]*' "$tmp/start.log" | cut -d: -f2)"
done

# What the prediction log costs at full load (alternating rounds).
ROUNDS=${ROUNDS:-3} scripts/bench/predlog.sh "$tmp/taxieta"

# The stream consumer against JetStream's own publish + consume rate
# (nats bench), alternating rounds; with OLD=REV also the consumer at REV.
printf '\n'
ROUNDS=${ROUNDS:-5} scripts/bench/stream.sh ${OLD:-}

# Batch scoring against DuckDB's lookup join of the same file, and the
# scored file's size against DuckDB's rewrite of it, alternating rounds.
printf '\n'
ROUNDS=${ROUNDS:-5} scripts/bench/batch.sh

# Training: the marginal cost per trip against DuckDB's scan and GROUP BY of
# the same files, and peak memory from one month to 100x the shared months.
printf '\n'
ROUNDS=${ROUNDS:-5} scripts/bench/train.sh
