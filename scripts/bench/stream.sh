#!/usr/bin/env bash
# stream.sh [OLD_REV]: the stream consumer against what JetStream itself does
# on this machine, in one run, against one real nats-server with JetStream
# (started here by scripts/services/nats.sh, which also installs the NATS CLI).
#
# Each round, in alternating order (forward, then backward), measures:
#   consume  nats bench js consume: a durable pull consumer with explicit
#            acknowledgements, messages of the trip events' size;
#   publish  nats bench js pub async with message ids (deduplication, as the
#            consumer's estimates have), messages of the estimates' size;
#   plain    the same without message ids (the stricter limit);
#   new      taxieta's consumer (BenchmarkRun of internal/stream: fetch, decode,
#            estimate, publish, wait for the store, acknowledge) of this checkout;
#   old      the same benchmark built from OLD_REV, when given.
# The series limit, 1/(1/consume + 1/publish), is what a consumer that
# publishes one output per event could at most reach if consuming and
# publishing did not overlap; it is computed with publish (limit) and with
# plain (limit_plain). Printed: each round's rates and ratios, then each
# ratio's median and min-max over the rounds, and the nats-server's CPU time
# per message in each measurement.
#
# Environment: ROUNDS (default 5), MSGS per measurement (default 200000),
# TAXIETA_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
old=${1:-}
ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-200000}
export TAXIETA_DATA_DIR=${TAXIETA_DATA_DIR:-$(cd .. && pwd)/shared/data}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taxieta-streambench.XXXXXX")
cleanups=()
add_cleanup() { cleanups+=("$1"); }
run_cleanups() {
  for c in "${cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap run_cleanups EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The consumer benchmark binaries, built before the server starts.
go test -c -o "$tmp/new.test" ./internal/stream
if [ -n "$old" ]; then
  git worktree add -q --detach "$tmp/old" "$old"
  add_cleanup "git -C '$root' worktree remove --force '$tmp/old'"
  (cd "$tmp/old" && go test -c -o "$tmp/old.test" ./internal/stream)
fi

# shellcheck source=scripts/services/nats.sh
NATS_WANT_CLI=1 source scripts/services/nats.sh
nats=${TAXIETA_NATS_CLI:?stream bench: no NATS CLI (see the message of scripts/services/nats.sh above)}
export NATS_URL=$TAXIETA_NATS_URL

# taxieta_run BINARY → "events/s in-B out-B" from one BenchmarkRun of MSGS events.
taxieta_run() {
  local out
  out=$(cd "$root/internal/stream" &&
    TAXIETA_BENCH_SERVER_PID=$nats_pid "$1" -test.run '^$' -test.bench '^BenchmarkRun$' -test.benchtime "${MSGS}x" 2>&1) || {
    echo "$out" >&2
    return 1
  }
  awk '/^BenchmarkRun/ {
    for (i = 1; i < NF; i++) m[$(i+1)] = $i
    n = split("events/s in-B/event out-B/event cpu-µs/event server-cpu-µs/event allocs/op", k, " ")
    for (i = 1; i <= n; i++) printf "%s%s", (m[k[i]] == "" ? "-" : m[k[i]]), (i < n ? " " : "\n")
  }' <<<"$out"
}

# bench_rate ARGS… → msgs/s that nats bench reports; its own CPU time
# (user and system, in seconds) goes to $tmp/cpu.
bench_rate() {
  local out
  out=$(/usr/bin/time -f '%U %S' -o "$tmp/cpu" "$nats" bench "$@" --no-progress 2>&1) || {
    echo "$out" >&2
    return 1
  }
  grep -o 'stats: [0-9,]* msgs/sec' <<<"$out" | head -1 | tr -d , | awk '{print $2}'
}
# client_us → the last nats bench's CPU time per message, in µs.
client_us() { awk -v n="$MSGS" '{printf "%.1f", ($1 + $2) * 1e6 / n}' "$tmp/cpu"; }

# Sizes: one run of this checkout's consumer says how large its events and
# estimates are (the estimates' ride ids grow with MSGS); it also warms up.
read -r _ in_size out_size _ _ _ < <(taxieta_run "$tmp/new.test")
[ "$out_size" != - ] || { echo "stream bench: no estimate size from the consumer benchmark" >&2; exit 1; }
in_size=$(printf '%.0f' "$in_size")
out_size=$(printf '%.0f' "$out_size")
printf 'stream: %d events a measurement, events %d B, estimates %d B; %s\n' "$MSGS" "$in_size" "$out_size" "$("$nats_bin" --version)"

# server_ticks: the nats-server's CPU time so far, in clock ticks (1/100 s).
server_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$nats_pid/stat"; }
server_us() { awk -v a="$1" -v b="$2" -v n="$MSGS" 'BEGIN {printf "%.1f", (b - a) * 1e4 / n}'; }

measure() { # measure ROUND WHAT → appends "ROUND WHAT value" to results
  local v t0 cpu c sv
  case $2 in
  consume)
    # A stream of MSGS events of the events' size, then a durable consumer reads it.
    bench_rate js pub async --create --purge --dedup --size "${in_size}B" --msgs "$MSGS" \
      --stream "bench_in_$1" "bench.in.$1" >/dev/null
    t0=$(server_ticks)
    v=$(bench_rate js consume --stream "bench_in_$1" --msgs "$MSGS")
    cpu="$(client_us) $(server_us "$t0" "$(server_ticks)")"
    "$nats" stream rm -f "bench_in_$1" >/dev/null
    ;;
  publish | plain)
    local dedup=--dedup
    [ "$2" = plain ] && dedup=
    t0=$(server_ticks)
    v=$(bench_rate js pub async --create --purge $dedup --size "${out_size}B" --msgs "$MSGS" \
      --stream "bench_out_$1" "bench.out.$1")
    cpu="$(client_us) $(server_us "$t0" "$(server_ticks)")"
    "$nats" stream rm -f "bench_out_$1" >/dev/null
    ;;
  new | old)
    local rate ccpu srv allocs
    read -r rate _ _ ccpu srv allocs < <(taxieta_run "$tmp/$2.test")
    v=$rate cpu="$ccpu $srv"
    printf '  %-8s %9.0f events/s  (%s µs CPU/event in the consumer, %s in the server; %s allocations/event)\n' "$2" "$rate" "$ccpu" "$srv" "$allocs"
    ;;
  esac
  [ -n "$v" ] && [ "$v" != - ] || { echo "stream bench: no rate for $2" >&2; exit 1; }
  case $2 in consume | publish | plain)
    read -r c sv <<<"$cpu"
    printf '  %-8s %9.0f msgs/s    (%s µs CPU/msg in nats bench, %s in the server)\n' "$2" "$v" "$c" "$sv" ;;
  esac
  echo "$1 $2 $v $cpu" >>"$tmp/results"
}

order=(consume publish plain new)
[ -n "$old" ] && order+=(old)
for r in $(seq 1 "$ROUNDS"); do
  printf 'round %d: %s\n' "$r" "$(uptime)"
  if [ $((r % 2)) = 1 ]; then
    for w in "${order[@]}"; do measure "$r" "$w"; done
  else
    for ((i = ${#order[@]} - 1; i >= 0; i--)); do measure "$r" "${order[$i]}"; done
  fi
done

python3 - "$tmp/results" <<'PY'
import collections, statistics as st, sys
d = collections.defaultdict(dict)
cpu = collections.defaultdict(dict)  # µs per message: client + server
for line in open(sys.argv[1]):
    r, what, v, c, s = line.split()
    d[int(r)][what] = float(v)
    if c != "-" and s != "-":
        cpu[int(r)][what] = float(c) + float(s)
rows = []
for r in sorted(d):
    x = d[r]
    x["limit"] = 1 / (1 / x["consume"] + 1 / x["publish"])
    x["limit_plain"] = 1 / (1 / x["consume"] + 1 / x["plain"])
    rows.append(x)
def spread(vals, fmt):
    return f"{fmt.format(st.median(vals))} ({fmt.format(min(vals))}-{fmt.format(max(vals))})"
print()
print("round  consume  publish   plain   limit  limit_plain   new  new/limit new/limit_plain" + ("    old  old/limit  new/old" if "old" in rows[0] else ""))
for r, x in zip(sorted(d), rows):
    line = (f"{r:5d} {x['consume']:8.0f} {x['publish']:8.0f} {x['plain']:7.0f} {x['limit']:7.0f} {x['limit_plain']:8.0f}"
            f" {x['new']:9.0f} {x['new']/x['limit']:8.3f} {x['new']/x['limit_plain']:10.3f}")
    if "old" in x:
        line += f"    {x['old']:7.0f} {x['old']/x['limit']:8.3f} {x['new']/x['old']:8.3f}"
    print(line)
print()
print("median (min-max) over", len(rows), "rounds:")
for k in ("consume", "publish", "plain", "limit", "limit_plain", "new") + (("old",) if "old" in rows[0] else ()):
    print(f"  {k:8} {spread([x[k] for x in rows], '{:.0f}')} /s")
print(f"  consumer/series limit  {spread([x['new']/x['limit'] for x in rows], '{:.3f}')}")
print(f"  consumer/limit_plain   {spread([x['new']/x['limit_plain'] for x in rows], '{:.3f}')}")
if "old" in rows[0]:
    print(f"  old/series limit       {spread([x['old']/x['limit'] for x in rows], '{:.3f}')}")
    print(f"  new/old                {spread([x['new']/x['old'] for x in rows], '{:.3f}')}")
# CPU time per event, client and server together, which the machine's other
# load hardly changes: consume + publish is what the series costs.
c = [cpu[r] for r in sorted(d)]
if all(k in x for x in c for k in ("consume", "publish", "new")):
    print("CPU µs per event, client + server, median (min-max):")
    print(f"  nats bench consume + publish  {spread([x['consume'] + x['publish'] for x in c], '{:.1f}')}")
    print(f"  nats bench consume + plain    {spread([x['consume'] + x['plain'] for x in c], '{:.1f}')}")
    for k in ("new", "old"):
        if all(k in x for x in c):
            print(f"  {k:29} {spread([x[k] for x in c], '{:.1f}')}")
    print(f"  series/new (CPU-bound ratio)  {spread([(x['consume'] + x['publish']) / x['new'] for x in c], '{:.3f}')}")
PY
