#!/usr/bin/env bash
# Runs every test taxieta has, installing and starting what they need first.
# This is `make test`, the README's test command, and what CI runs (.ci/run).
# Real components only: real TLC files from the data directory, real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export TAXIETA_DATA_DIR=${TAXIETA_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}
[ -f "$TAXIETA_DATA_DIR/taxi_zone_lookup.csv" ] || {
  echo "test: no TLC data in $TAXIETA_DATA_DIR (set TAXIETA_DATA_DIR)" >&2; exit 1; }
# Tests that need real data must run, not skip, here.
export TAXIETA_REQUIRE_DATA=1

step() { printf '\n==> %s\n' "$*"; }

step "format, vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || { echo "gofmt would change: $unformatted" >&2; exit 1; }
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "default model is reproducible"
make -s check-default-model DATA_DIR="$TAXIETA_DATA_DIR"

step "go test -race"
go test -race -count=1 ./...

step "fuzz the decoders (short)"
go test ./internal/model -run '^$' -fuzz FuzzDecode -fuzztime 10s
