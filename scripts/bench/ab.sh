#!/usr/bin/env bash
# ab.sh OLD_REV [ROUNDS]: the Go benchmarks of this checkout (B) against
# revision OLD_REV (A), in alternating rounds A B A B … on the same machine,
# so that the VM's drift hits both sides alike. Prints each benchmark's
# median ns/op on each side, the spread (min–max) and the median of the
# per-round ratios B/A (below 1: B is faster).
# Environment: BENCH (regexp, default the hot paths), BENCHTIME (default 1s),
# PKGS (default the packages holding them), TAXIETA_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
old=${1:?usage: ab.sh OLD_REV [ROUNDS]}; rounds=${2:-6}
BENCH=${BENCH:-'^Benchmark(Predict|PredictBatch|PredictHandler|PredictMonth|Run)$'}
BENCHTIME=${BENCHTIME:-1s}
PKGS=${PKGS:-"internal/model internal/httpapi internal/batch internal/stream"}
export TAXIETA_DATA_DIR=${TAXIETA_DATA_DIR:-$(cd .. && pwd)/shared/data}
tmp=$(mktemp -d); trap 'git worktree remove --force "$tmp/a" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add -q --detach "$tmp/a" "$old"
for side in a b; do
  src=$([ $side = a ] && echo "$tmp/a" || pwd)
  for p in $PKGS; do
    [ -d "$src/$p" ] || continue
    (cd "$src" && go test -c -o "$tmp/$side-${p//\//_}.test" "./$p")
  done
done
for r in $(seq 1 "$rounds"); do
  for side in a b; do
    for p in $PKGS; do
      bin="$tmp/$side-${p//\//_}.test"; [ -x "$bin" ] || continue
      (cd "$([ $side = a ] && echo "$tmp/a" || pwd)/$p" && "$bin" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$BENCHTIME" -test.benchmem) |
        awk -v s=$side -v r=$r -v p=$p '/^Benchmark/ {print s, r, p"."$1, $3}' >>"$tmp/results"
    done
  done
done
python3 - "$tmp/results" <<'PY'
import sys, statistics as st, collections
d = collections.defaultdict(lambda: collections.defaultdict(dict))
for line in open(sys.argv[1]):
    side, r, name, ns = line.split()
    d[name][side][int(r)] = float(ns)
print(f"{'benchmark':58} {'A ns/op':>11} {'B ns/op':>11}  {'B/A median (min-max)':>22}")
for name in sorted(d):
    a, b = d[name]['a'], d[name]['b']
    rs = [b[r] / a[r] for r in a if r in b]
    if not rs: continue
    print(f"{name:58} {st.median(a.values()):11.1f} {st.median(b.values()):11.1f}  {st.median(rs):8.3f} ({min(rs):.3f}-{max(rs):.3f})")
PY
