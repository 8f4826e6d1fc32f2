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

# Servers the tests use. Each scripts/services/NAME.sh is sourced in turn: it
# installs what it needs, starts its server in the background on a free
# loopback port, calls add_cleanup with a command that stops it, and exports
# the variables the tests read (e.g. TAXIETA_NATS_URL).
cleanups=()
add_cleanup() { cleanups+=("$1"); }
run_cleanups() { for c in "${cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; }
trap run_cleanups EXIT
# free_port prints a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export TAXIETA_REQUIRE_SERVICES=1

step "format, vet, staticcheck, tidy go.mod"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || { echo "gofmt would change: $unformatted" >&2; exit 1; }
go vet ./...
go vet -tags nonatsserver ./internal/stream ./cmd/taxieta  # the image's build
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go mod tidy -diff  # prints the diff and fails when go.mod or go.sum is not tidy

step "govulncheck (offline, against a pinned golang.org/x/vulndb)"
scripts/vulncheck.sh

step "default model is reproducible"
make -s check-default-model DATA_DIR="$TAXIETA_DATA_DIR"

for svc in scripts/services/*.sh; do
  [ -e "$svc" ] || continue
  step "service $(basename "$svc" .sh)"
  # shellcheck source=/dev/null
  source "$svc"
done

step "go test -race"
go test -race -count=1 -timeout 30m ./...

step "batch memory stays flat (needs a build without -race)"
go test -count=1 -run TestMemoryStaysFlat -v ./internal/batch | grep -E '^(---|ok|FAIL)|RSS|rows'
step "training memory stays flat (needs a build without -race)"
go test -count=1 -run TestMemoryStaysFlat -v ./internal/training | grep -E '^(---|ok|FAIL)|RSS|trips'
step "POST /predict allocates nothing in its handler, request after request (without -race, whose sync.Pool drops)"
go test -count=1 -run 'TestPredictKeepsItsBuffer|TestPredictAllocations' ./internal/httpapi

step "live drift windows replaying real months (a single goroutine; too slow under -race)"
go test -count=1 -run TestReplayRealMonths -v ./internal/drift/live | grep -E '^(---|ok|FAIL)|    --- '

step "fuzz the decoders and the JSON string encoder (short; longer runs: make fuzz)"
go test ./internal/model -run '^$' -fuzz FuzzDecode -fuzztime 10s
go test ./internal/tripjson -run '^$' -fuzz FuzzDecode -fuzztime 10s
go test ./internal/tripjson -run '^$' -fuzz FuzzAppendString -fuzztime 10s
go test ./internal/stream -run '^$' -fuzz FuzzDecode -fuzztime 10s -fuzzminimizetime 5s
go test ./internal/httpapi -run '^$' -fuzz FuzzDecodeTrip -fuzztime 10s
go test ./internal/httpapi -run '^$' -fuzz FuzzPredictHandler -fuzztime 10s
go test ./internal/mlflowserve -run '^$' -fuzz FuzzDecodeJSON -fuzztime 10s
go test ./internal/oip -run '^$' -fuzz FuzzDecodeInfer -fuzztime 10s
go test ./internal/oip -run '^$' -fuzz FuzzDecodeGRPC -fuzztime 10s

step "container image (build the real Dockerfile, run it)"
scripts/image-test.sh
