#!/usr/bin/env bash
# grpc.sh [BIN]: Open Inference Protocol v2 gRPC ModelInfer of one trip
# (tools/grpcload: CONNS callers with one call in flight each, a pool of
# zone pairs) against POST /predict (wrk, scripts/bench/predict.lua, CONNS
# connections), on one `taxieta serve`, in alternating rounds so that the
# machine's drift hits all alike. gRPC runs twice a round: the callers'
# streams on one HTTP/2 connection, as a gRPC client (tritonclient, ghz,
# perf_analyzer) uses one channel, and on one connection each, as wrk's;
# then v2 REST infer of one trip (wrk, scripts/bench/v2infer.lua), as the
# v2 section of scripts/bench.sh, for its CPU time per request.
# Prints the load (uptime) before each round, each round's req/s, p50 and
# p99 (ms), the server's CPU time per request (from /proc) and the load
# generators' own (GNU time), and the median (min-max) of each and of the
# per-round ratios against /predict.
# Both load generators run on this machine and take CPU from the server:
# wrk is C, grpcload Go with gRPC's HTTP/2 client.
# Environment: ROUNDS (default 5), DURATION (default 10s), CONNS (default 64).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}; DURATION=${DURATION:-10s}; CONNS=${CONNS:-64}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
bin=${1:-}
if [ -z "$bin" ]; then bin=$tmp/taxieta; go build -o "$bin" ./cmd/taxieta; fi
go build -o "$tmp/grpcload" ./tools/grpcload
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 500); do curl -fs -o /dev/null "$1" && return; sleep 0.01; done; echo "not ready: $1" >&2; exit 1; }
hport=$(port); gport=$(port)
# Request logging on, as in production.
"$bin" serve --addr "127.0.0.1:$hport" --grpc-addr "127.0.0.1:$gport" 2>/dev/null & pids+=($!); spid=$!
wait_ready "http://127.0.0.1:$hport/readyz"
to_ms() { # wrk prints 85.00us, 1.20ms, 2.01s
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'
}
# The server's CPU time (user + system, in clock ticks) so far: its cost
# per request, unlike req/s, hardly depends on what else the machine runs.
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$spid/stat"; }
# per_req TICKS_BEFORE REQUESTS → the server's CPU µs per request since then.
per_req() { awk -v a="$1" -v b="$(cpu)" -v n="$2" -v t="$tick" 'BEGIN{printf "%.1f", (b - a) / t * 1e6 / n}'; }
# client_us REQUESTS → the load generator's CPU µs per request (GNU time's
# user + system seconds of its last run).
client_us() { awk -v n="$1" '{printf "%.1f", ($1 + $2) * 1e6 / n}' "$tmp/time"; }
command -v /usr/bin/time >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
rest() { # rest PATH SCRIPT → rps p50 p99 cpu_us client_us
  local out errs c0
  c0=$(cpu)
  out=$(/usr/bin/time -f '%U %S' -o "$tmp/time" wrk -t 2 -c "$CONNS" -d "$DURATION" --latency -s "$2" "http://127.0.0.1:$hport$1")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -z "$errs" ] || echo "  wrk: $errs" >&2
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")" \
    "$(per_req "$c0" "$(awk '/requests in/ {print $1}' <<<"$out")")" "$(client_us "$(awk '/requests in/ {print $1}' <<<"$out")")"
}
grpc() { # grpc CONNECTIONS → rps p50 p99 cpu_us client_us; grpcload fails when any call fails
  local out c0
  c0=$(cpu)
  out=$(/usr/bin/time -f '%U %S' -o "$tmp/time" "$tmp/grpcload" -addr "127.0.0.1:$gport" -c "$CONNS" -conns "$1" -d "$DURATION")
  echo "$(awk '{print $6, $8, $10}' <<<"$out") $(per_req "$c0" "$(awk '{print $2}' <<<"$out")") $(client_us "$(awk '{print $2}' <<<"$out")")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
printf 'gRPC ModelInfer (grpcload) against POST /predict (wrk), one trip, %s callers, %s per run, alternating rounds\n' "$CONNS" "$DURATION"
printf 'each: req/s, p50 and p99 in ms, the server'"'"'s CPU µs per request; ratios are gRPC/REST req/s\n'
printf '%-6s %29s %36s %7s %36s %7s %29s %7s\n' round "REST: rps p50 p99 cpu" "gRPC 1 connection: rps p50 p99 cpu" ratio "gRPC $CONNS connections: rps p50 p99 cpu" ratio "v2 REST: rps p50 p99 cpu" ratio
for r in $(seq 1 "$ROUNDS"); do
  echo "  load:$(uptime | sed 's/.*load average://')"
  read -r hrps hp50 hp99 hcpu hcl < <(rest /predict scripts/bench/predict.lua)
  read -r orps op50 op99 ocpu ocl < <(grpc 1)
  read -r mrps mp50 mp99 mcpu mcl < <(grpc "$CONNS")
  read -r vrps vp50 vp99 vcpu vcl < <(rest /v2/models/taxi-duration/infer scripts/bench/v2infer.lua)
  printf '%-6s %8.0f %6s %6s %6s %16.0f %6s %6s %6s %7s %16.0f %6s %6s %6s %7s %8.0f %6s %6s %6s %7s\n' "$r" "$hrps" "$hp50" "$hp99" "$hcpu" \
    "$orps" "$op50" "$op99" "$ocpu" "$(ratio "$orps" "$hrps")" "$mrps" "$mp50" "$mp99" "$mcpu" "$(ratio "$mrps" "$hrps")" \
    "$vrps" "$vp50" "$vp99" "$vcpu" "$(ratio "$vrps" "$hrps")" | tee -a "$tmp/rounds"
  echo "$hcl $ocl $mcl $vcl" >>"$tmp/client"
  printf '       load generators'"'"' CPU µs per request: wrk /predict %s, grpcload 1 connection %s, %s connections %s, wrk v2 %s\n' "$hcl" "$ocl" "$CONNS" "$mcl" "$vcl"
done
python3 - "$tmp/rounds" "$CONNS" "$tmp/client" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
col = lambda i: [float(x[i]) for x in rows]
span = lambda v, f: f"{st.median(v):{f}} ({min(v):{f}}-{max(v):{f}})"
cpu = lambda i: span([float(x[i]) / float(x[4]) for x in rows], '.3f')
print(f"median (min-max) REST: {span(col(1), '.0f')} req/s, server CPU {span(col(4), '.1f')} us/request")
for name, rps, us, ratio in (("gRPC, 1 connection", 5, 8, 9), (f"gRPC, {sys.argv[2]} connections", 10, 13, 14), ("v2 REST infer", 15, 18, 19)):
    print(f"{name}: {span(col(rps), '.0f')} req/s, server CPU {span(col(us), '.1f')} us/request; "
          f"against REST: req/s {span(col(ratio), '.3f')}, server CPU per request {cpu(us)}")
cl = [[float(v) for v in l.split()] for l in open(sys.argv[3])]
print("load generators' own CPU us/request: " + ", ".join(
    f"{name} {span([c[i] for c in cl], '.1f')}" for i, name in enumerate(
        ("wrk /predict", "grpcload 1 connection", f"grpcload {sys.argv[2]} connections", "wrk v2"))))
PY
