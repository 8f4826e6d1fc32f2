#!/usr/bin/env bash
# predlog.sh [BIN]: what the prediction log costs at full /predict load. Two
# servers of one binary, one with --prediction-log, one without, loaded in
# alternating rounds (wrk, 64 connections, loopback) so that the machine's
# drift hits both alike; prints each round, the medians, the median of the
# per-round ratios, and the log's own count of records written and dropped.
# Environment: ROUNDS (default 5), DURATION (default 10s).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}; DURATION=${DURATION:-10s}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
bin=${1:-}
if [ -z "$bin" ]; then bin=$tmp/taxieta; go build -o "$bin" ./cmd/taxieta; fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 500); do curl -fs -o /dev/null "$1" && return; sleep 0.01; done; echo "not ready: $1" >&2; exit 1; }
grpc=()
case $("$bin" serve --help 2>&1) in *-grpc-addr*) grpc=(--grpc-addr off) ;; esac # read whole: grep -q + pipefail fails on SIGPIPE
off=$(port); on=$(port)
"$bin" serve --addr "127.0.0.1:$off" "${grpc[@]}" 2>/dev/null & pids+=($!)
"$bin" serve --addr "127.0.0.1:$on" "${grpc[@]}" --prediction-log "$tmp/log" --prediction-log-buffer 1048576 2>/dev/null & pids+=($!)
wait_ready "http://127.0.0.1:$off/readyz"; wait_ready "http://127.0.0.1:$on/readyz"
rps() { wrk -t 2 -c 64 -d "$DURATION" -s scripts/bench/predict.lua "http://127.0.0.1:$1/predict" | awk '/^Requests\/sec:/ {print $2}'; }
printf 'POST /predict, 64 connections, %s per run, alternating rounds\n%-6s %12s %12s %7s\n' "$DURATION" round no_log_rps log_rps ratio
for r in $(seq 1 "$ROUNDS"); do
  a=$(rps "$off"); b=$(rps "$on")
  printf '%-6s %12.0f %12.0f %7.3f\n' "$r" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print b/a}')" | tee -a "$tmp/rounds"
done
python3 - "$tmp/rounds" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
a, b, r = ([float(x[i]) for x in rows] for i in (1, 2, 3))
print(f"median {st.median(a):12.0f} {st.median(b):12.0f} {st.median(r):7.3f} (ratio min {min(r):.3f}, max {max(r):.3f})")
PY
# Sums a metric's series on the logging server.
metric() { curl -fs "http://127.0.0.1:$on/metrics" | awk -v m="$1" '$1==m || index($1, m"{")==1 {s+=$2} END {printf "%d", s}'; }
printf 'logging server: %s predictions served; prediction log: %s records, %s dropped\n' \
  "$(metric taxieta_predictions_total)" "$(metric taxieta_prediction_log_records_total)" "$(metric taxieta_prediction_log_dropped_total)"
