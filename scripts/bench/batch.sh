#!/usr/bin/env bash
# batch.sh [BIN [OLD_BIN]]: batch scoring against DuckDB's lookup join, and
# the scored parquet's size against DuckDB's own writer, in one run.
#
# Scores the largest TLC month in the data folder, and that month repeated
# COPIES times in one file (3.5 million rows by default, a yellow month's
# scale), with taxieta predict and with DuckDB (2 threads) joining the same
# trips to the model's tables into the same output columns but the ride id,
# in ROUNDS alternating rounds (uptime before each), and prints medians with
# min-max of the times and of the per-round speed ratios; then DuckDB
# rewrites taxieta's output of the repeated file with snappy and with zstd,
# and the sizes are printed side by side. With OLD_BIN (or OLD=REV, a git
# revision built here), that binary takes part in every round too.
# DuckDB comes from PyPI, into .cache/venv-duckdb (scripts/services/duckdb.sh).
# Environment: ROUNDS (default 5), COPIES (default 40), TAXIETA_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
ROUNDS=${ROUNDS:-5}; COPIES=${COPIES:-40}
data=${TAXIETA_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}
[ -d "$data" ] || { echo "batch.sh: no data folder $data (set TAXIETA_DATA_DIR)" >&2; exit 1; }
# shellcheck source=../services/duckdb.sh
source scripts/services/duckdb.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bin=${1:-}
if [ -z "$bin" ]; then bin=$tmp/taxieta; go build -o "$bin" ./cmd/taxieta; fi
old=${2:-}
if [ -z "$old" ] && [ -n "${OLD:-}" ]; then
  git worktree add -q --detach "$tmp/old-src" "$OLD"
  (cd "$tmp/old-src" && go build -o "$tmp/taxieta-old" ./cmd/taxieta)
  git worktree remove --force "$tmp/old-src"
  old=$tmp/taxieta-old
fi
"$TAXIETA_DUCKDB_PYTHON" -u scripts/bench/batch_duckdb.py internal/defaultmodel/taxi-duration.taxieta \
  "$data" "$tmp" "$ROUNDS" "$COPIES" "$bin" ${old:+"$old"}
