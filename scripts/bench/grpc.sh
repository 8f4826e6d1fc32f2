#!/usr/bin/env bash
# grpc.sh [BIN]: Open Inference Protocol v2 gRPC ModelInfer of one trip
# (tools/grpcload: C callers, one HTTP/2 connection each, a pool of zone
# pairs) against POST /predict (wrk, scripts/bench/predict.lua) at the same
# concurrency, on one `taxieta serve`, in alternating rounds so that the
# machine's drift hits both alike. Prints the load (uptime) before each
# round, each round's req/s, p50 and p99, and the median (min-max) of the
# per-round ratios gRPC/REST. Both load generators run on this machine and
# take CPU from the server: wrk is C, grpcload Go with gRPC's HTTP/2 client.
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
"$bin" serve --addr "127.0.0.1:$hport" --grpc-addr "127.0.0.1:$gport" 2>/dev/null & pids+=($!)
wait_ready "http://127.0.0.1:$hport/readyz"
to_ms() { # wrk prints 85.00us, 1.20ms, 2.01s
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'
}
rest() {
  local out errs
  out=$(wrk -t 2 -c "$CONNS" -d "$DURATION" --latency -s scripts/bench/predict.lua "http://127.0.0.1:$hport/predict")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -z "$errs" ] || echo "  wrk: $errs" >&2
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")"
}
grpc() { # grpcload fails when any call fails
  "$tmp/grpcload" -addr "127.0.0.1:$gport" -c "$CONNS" -d "$DURATION" | awk '{print $6, $8, $10}'
}
printf 'gRPC ModelInfer (grpcload) against POST /predict (wrk), one trip, %s connections, %s per run, alternating rounds\n' "$CONNS" "$DURATION"
printf '%-6s %12s %8s %8s %12s %8s %8s %7s\n' round rest_rps p50_ms p99_ms grpc_rps p50_ms p99_ms ratio
for r in $(seq 1 "$ROUNDS"); do
  echo "  load:$(uptime | sed 's/.*load average://')"
  read -r hrps hp50 hp99 < <(rest)
  read -r grps gp50 gp99 < <(grpc)
  printf '%-6s %12.0f %8s %8s %12.0f %8s %8s %7.3f\n' "$r" "$hrps" "$hp50" "$hp99" "$grps" "$gp50" "$gp99" \
    "$(awk -v a="$grps" -v b="$hrps" 'BEGIN{print a/b}')" | tee -a "$tmp/rounds"
done
python3 - "$tmp/rounds" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
rest, grpc, ratio = ([float(x[i]) for x in rows] for i in (1, 4, 7))
print(f"median REST {st.median(rest):.0f} req/s ({min(rest):.0f}-{max(rest):.0f}), "
      f"gRPC {st.median(grpc):.0f} req/s ({min(grpc):.0f}-{max(grpc):.0f}); "
      f"gRPC/REST {st.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f})")
PY
