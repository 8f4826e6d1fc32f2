#!/usr/bin/env bash
# predict.sh: POST /predict of taxieta serve (its defaults: request log,
# metrics, request ids, drift monitoring) against the bare net/http handler
# of tools/barehttp, at each connection count, in alternating rounds
# (bare, taxieta, then taxieta, bare, ...) so that the VM's drift hits
# both alike. With OLD=REV, taxieta built at revision REV runs in the same
# rounds, for a before/after. Prints the load average before each round,
# each round's figures, and per connection count the median and spread
# (min-max) of the per-round ratios of requests/s and of p99 latency.
# Environment: ROUNDS (default 5), DURATION (default 5s), CONNS (default
# "1 16 64"), OLD (a git revision; default none), BIN (a taxieta binary;
# default built from this checkout).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}; DURATION=${DURATION:-5s}; CONNS=${CONNS:-1 16 64}; OLD=${OLD:-}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
tmp=$(mktemp -d); pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "$OLD" ] || git worktree remove --force "$tmp/old" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
bin=${BIN:-}
if [ -z "$bin" ]; then bin=$tmp/taxieta; go build -o "$bin" ./cmd/taxieta; fi
go build -o "$tmp/barehttp" ./tools/barehttp
if [ -n "$OLD" ]; then
  git worktree add -q --detach "$tmp/old" "$OLD"
  (cd "$tmp/old" && go build -o "$tmp/taxieta-old" ./cmd/taxieta)
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 1000); do curl -s -o /dev/null "$1" && return; sleep 0.01; done; echo "not up: $1" >&2; exit 1; }
# serve BIN: starts taxieta serve with its defaults, logging to a file as
# it would to a container's stderr; prints the port.
serve() {
  local p grpc=()
  p=$(port)
  # (--help is read whole first: grep -q would stop reading early, and
  # under pipefail the writer's SIGPIPE fails the test.)
  case $("$1" serve --help 2>&1) in *-grpc-addr*) grpc=(--grpc-addr off) ;; esac
  "$1" serve --addr "127.0.0.1:$p" "${grpc[@]}" 2>>"$tmp/serve.log" >/dev/null & pids+=($!)
  echo "$p"
}
declare -A ports
ports[bare]=$(port); "$tmp/barehttp" --addr "127.0.0.1:${ports[bare]}" & pids+=($!)
ports[taxieta]=$(serve "$bin")
sides=(bare taxieta)
if [ -n "$OLD" ]; then ports[old]=$(serve "$tmp/taxieta-old"); sides+=(old); fi
for s in "${sides[@]}"; do wait_up "http://127.0.0.1:${ports[$s]}/predict"; done

to_ms() { # wrk prints 85.00us, 1.20ms, 2.01s
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'
}
# run SIDE CONNS → "rps p99_ms errors"
run() {
  local out errs
  out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "$DURATION" --latency -s scripts/bench/predict.lua "http://127.0.0.1:${ports[$1]}/predict")
  errs=$(awk '/Non-2xx or 3xx responses:/ {n+=$NF} /Socket errors:/ {for (i=3;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) n+=$i} END {print n+0}' <<<"$out")
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") $errs"
}

printf 'POST /predict: taxieta serve (defaults) against a bare net/http handler%s\n' "$([ -n "$OLD" ] && echo ", and taxieta at $OLD")"
printf '%s per run, wrk on loopback, %s alternating rounds per connection count\n\n' "$DURATION" "$ROUNDS"
printf '%-5s %-5s %-6s %-8s %12s %9s %7s\n' conns round load side req/s p99_ms errors
for c in $CONNS; do
  for r in $(seq 1 "$ROUNDS"); do
    # Odd rounds in order, even rounds reversed, so no side always runs
    # first or last after the machine has been busy.
    order=("${sides[@]}")
    if [ $((r % 2)) = 0 ]; then order=(); for ((i = ${#sides[@]} - 1; i >= 0; i--)); do order+=("${sides[i]}"); done; fi
    for s in "${order[@]}"; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      read -r rps p99 errs < <(run "$s" "$c")
      printf '%-5s %-5s %-6s %-8s %12.0f %9s %7s\n' "$c" "$r" "$load" "$s" "$rps" "$p99" "$errs"
      echo "$c $r $s $rps $p99 $errs" >>"$tmp/rounds"
    done
  done
done
echo
python3 - "$tmp/rounds" <<'PY'
import sys, statistics as st, collections
d = collections.defaultdict(dict)  # (conns, round) -> side -> (rps, p99, errs)
for line in open(sys.argv[1]):
    c, r, s, rps, p99, errs = line.split()
    d[(int(c), int(r))][s] = (float(rps), float(p99), int(errs))
sides = sorted({s for v in d.values() for s in v} - {"bare"}, key=lambda s: s != "taxieta")
print(f"{'conns':<6}{'side':<9}{'req/s median':>13}{'ratio median (min-max)':>28}{'p99 ratio median (min-max)':>32}{'errors':>8}")
for c in sorted({k[0] for k in d}):
    rounds = [v for k, v in sorted(d.items()) if k[0] == c]
    for s in ["bare"] + sides:
        rps = [v[s][0] for v in rounds]
        errs = sum(v[s][2] for v in rounds)
        if s == "bare":
            print(f"{c:<6}{s:<9}{st.median(rps):>13.0f}{'':>28}{'':>32}{errs:>8}")
            continue
        r = [v[s][0] / v["bare"][0] for v in rounds]
        p = [v[s][1] / v["bare"][1] for v in rounds if v["bare"][1] > 0]
        print(f"{c:<6}{s:<9}{st.median(rps):>13.0f}   {st.median(r):.3f} ({min(r):.3f}-{max(r):.3f}){'':>6}"
              f"   {st.median(p):.3f} ({min(p):.3f}-{max(p):.3f}){errs:>10}")
    if "old" in sides:
        r = [v["taxieta"][0] / v["old"][0] for v in rounds]
        print(f"{c:<6}{'new/old':<9}{'':>13}   {st.median(r):.3f} ({min(r):.3f}-{max(r):.3f})")
PY
