#!/usr/bin/env bash
# train.sh: what training costs per trip, against DuckDB, and its peak memory.
#
# 1. Marginal cost per row: `taxieta train` on one green month, on twelve
#    and on the twelve listed twice (24 files), the difference in wall time
#    over the difference in rows read (1→12 months, and 12→24 where the
#    sample of calibration trips is full: the cost of one more trip at any
#    scale), against DuckDB (2 threads, from PyPI in .cache/venv-duckdb)
#    scanning the same files and grouping them by pickup zone, dropoff zone
#    and passenger count (count and summed duration). Alternating rounds
#    (taxieta, DuckDB, and OLD_BIN's 1 and 12 months when set), load
#    printed before each; medians with min–max. Both wall time and CPU time
#    (user + system, all threads) are taken: on a shared machine the CPU
#    time is the steadier measure of the work done.
# 2. Peak RSS (/usr/bin/time -v) of `taxieta train` on one month, on the
#    thirteen green months repeated 10 times and repeated 100 times (the
#    file list repeated in --train: about 9.4 and 94 million rows).
#
# Environment: DATA_DIR (default ../shared/data), ROUNDS (default 5),
# OLD_BIN (another taxieta binary, e.g. built from main, measured in the
# same rounds; its peak RSS only up to 10×, as it holds every trip),
# REPEATS (default "10 100"), RSS=0 to skip part 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
DATA_DIR=$(cd "${DATA_DIR:-../shared/data}" && pwd)
ROUNDS=${ROUNDS:-5}
REPEATS=${REPEATS:-10 100}
OLD_BIN=${OLD_BIN:-}
DUCKDB_VERSION=2.0.0

venv=$root/.cache/venv-duckdb
if [ "$(cat "$venv/.taxieta-requirements" 2>/dev/null)" != "duckdb==$DUCKDB_VERSION" ]; then
  echo "duckdb: installing duckdb==$DUCKDB_VERSION into $venv (once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==$DUCKDB_VERSION"
  echo "duckdb==$DUCKDB_VERSION" >"$venv/.taxieta-requirements"
fi
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/taxieta
go build -trimpath -o "$bin" ./cmd/taxieta

one=(green:2023-01)
twelve=(green:2021-01..2021-05 green:2022-01..2022-03 green:2023-01..2023-04)
thirteen=("${twelve[@]}" green:2024-03)
join() { local IFS=,; echo "$*"; }
paths() { # month specs of the form green:YYYY-MM[..YYYY-MM] → files
  for s in "$@"; do
    local m=${s#green:} a b
    a=${m%%..*}; b=${m##*..}
    while :; do
      echo "$DATA_DIR/green_tripdata_$a.parquet"
      [ "$a" = "$b" ] && break
      a=$(date -u -d "$a-01 +1 month" +%Y-%m)
    done
  done
}
mapfile -t files1 < <(paths "${one[@]}")
mapfile -t files12 < <(paths "${twelve[@]}")
files24=("${files12[@]}" "${files12[@]}")

cat >"$tmp/duck.py" <<'PY'
import sys, time, duckdb
def q(files):
    con = duckdb.connect()
    con.execute("SET threads = 2")
    t = time.perf_counter()
    rows = con.execute("""
        SELECT PULocationID, DOLocationID, passenger_count, count(*) AS n,
               sum(epoch(lpep_dropoff_datetime) - epoch(lpep_pickup_datetime)) AS seconds
        FROM read_parquet(?, union_by_name = true)
        GROUP BY ALL""", [files]).fetchall()
    dt = time.perf_counter() - t
    n = sum(r[3] for r in rows)
    con.close()
    return dt, n
mode = sys.argv[1]
files = sys.argv[2:]
c = time.process_time()
dt, n = q(files)
print(f"{dt:.4f} {time.process_time() - c:.4f} {n}")
PY
duck() { "$venv/bin/python" "$tmp/duck.py" q "$@"; }
train_time() { # BIN SPEC...: wall and CPU seconds of one training
  local b=$1
  shift
  /usr/bin/time -f '%e %U %S' -o "$tmp/t" "$b" train --data-dir "$DATA_DIR" --train "$(join "$@")" --out "$tmp/m.taxieta" >/dev/null 2>&1
  awk '{printf "%s %.2f", $1, $2 + $3}' "$tmp/t"
}

read -r _ _ rows1 < <(duck "${files1[@]}")
read -r _ _ rows12 < <(duck "${files12[@]}")
echo "rows read: 1 month $rows1, 12 months $rows12, 24 files $((2 * rows12))"
printf '%-5s %-20s %-13s %-13s %-13s %-13s %-13s %-13s %-13s %-13s\n' round load tx_1 tx_12 tx_24 duck_1 duck_12 duck_24 old_1 old_12
echo "(each: wall_s cpu_s)"
for r in $(seq 1 "$ROUNDS"); do
  load=$(uptime | sed 's/.*load average: //; s/ //g')
  t1=$(train_time "$bin" "${one[@]}"); t12=$(train_time "$bin" "${twelve[@]}"); t24=$(train_time "$bin" "${twelve[@]}" "${twelve[@]}")
  read -r d1w d1c _ < <(duck "${files1[@]}"); read -r d12w d12c _ < <(duck "${files12[@]}"); read -r d24w d24c _ < <(duck "${files24[@]}")
  o1="- -"; o12="- -"
  if [ -n "$OLD_BIN" ]; then o1=$(train_time "$OLD_BIN" "${one[@]}"); o12=$(train_time "$OLD_BIN" "${twelve[@]}"); fi
  printf '%-5s %-20s %-13s %-13s %-13s %-13s %-13s %-13s %-13s %-13s\n' "$r" "$load" "$t1" "$t12" "$t24" "$d1w $d1c" "$d12w $d12c" "$d24w $d24c" "$o1" "$o12" | tee -a "$tmp/rounds"
done
python3 - "$tmp/rounds" "$rows1" "$rows12" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
r1, r12 = int(sys.argv[2]), int(sys.argv[3])
def col(i):
    return [float(x[i]) for x in rows] if rows[0][i] != "-" else None
names = ["tx1", "tx12", "tx24", "d1", "d12", "d24", "o1", "o12"]
c = {}
for k, n in enumerate(names):
    c[n + "w"], c[n + "c"] = col(2 + 2 * k), col(3 + 2 * k)
def per_row(a, b, dn): return [(y - x) / dn * 1e9 for x, y in zip(a, b)]
def show(name, v): print(f"{name}: median {st.median(v):.1f} (min {min(v):.1f}, max {max(v):.1f})")
for m, unit in (("w", "wall"), ("c", "cpu")):
    for name, a, b, dn in (("1->12 months", "1", "12", r12 - r1), ("12->24 files", "12", "24", r12)):
        tx, dk = per_row(c["tx" + a + m], c["tx" + b + m], dn), per_row(c["d" + a + m], c["d" + b + m], dn)
        show(f"{unit} {name}: taxieta marginal ns/row", tx)
        show(f"{unit} {name}: duckdb marginal ns/row", dk)
        show(f"{unit} {name}: taxieta/duckdb per round", [x / y for x, y in zip(tx, dk)])
    if c["o1" + m]:
        old, new = per_row(c["o1" + m], c["o12" + m], r12 - r1), per_row(c["tx1" + m], c["tx12" + m], r12 - r1)
        show(f"{unit} 1->12 months: old taxieta marginal ns/row", old)
        show(f"{unit} 1->12 months: new/old per round", [x / y for x, y in zip(new, old)])
        show(f"{unit} new/old 12-month train per round", [x / y for x, y in zip(c["tx12" + m], c["o12" + m])])
    show(f"{unit} taxieta 12-month train s", c["tx12" + m])
PY

rss() { # BIN COPIES: peak RSS in MB of training on COPIES × 13 months (0: one month)
  local b=$1 n=$2 specs=()
  if [ "$n" = 0 ]; then specs=("${one[@]}"); else for _ in $(seq 1 "$n"); do specs+=("${thirteen[@]}"); done; fi
  /usr/bin/time -v "$b" train --data-dir "$DATA_DIR" --train "$(join "${specs[@]}")" --out "$tmp/m.taxieta" --json 2>"$tmp/time" >"$tmp/json"
  local kb wall
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time")
  printf '%s\t%s\t%.1f MB\t%s wall\n' "$(basename "$b")" "$n" "$(awk -v k="$kb" 'BEGIN{print k/1024}')" "$wall"
}
[ "${RSS:-1}" = 0 ] && exit 0
echo "peak RSS (copies of the 13 green months; 0 = green 2023-01 alone):"
uptime
rss "$bin" 0
[ -n "$OLD_BIN" ] && rss "$OLD_BIN" 0
rss "$bin" 1
[ -n "$OLD_BIN" ] && rss "$OLD_BIN" 1
for n in $REPEATS; do
  uptime
  rss "$bin" "$n"
  [ -n "$OLD_BIN" ] && [ "$n" -le 10 ] && rss "$OLD_BIN" "$n"
done
