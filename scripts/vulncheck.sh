#!/usr/bin/env bash
# Reports known vulnerabilities that taxieta's code can reach (govulncheck
# ./...), offline: the public database (vuln.go.dev) is not reachable from CI,
# the Go module proxy is. So the database is built here from the OSV files in
# the golang.org/x/vulndb module, with that module's own cmd/indexdb, once per
# vulndb version, and kept in .cache/vulndb/VERSION.
#
#   scripts/vulncheck.sh                  # what `make vulncheck` and `make test` run
#   scripts/vulncheck.sh -show verbose    # extra flags go to govulncheck
#
# Exits 0 when nothing reachable is found, 3 (govulncheck's code) when
# something is, anything else when the check itself failed.
#
# Both versions are pinned so a result can be reproduced. To learn about newer
# vulnerabilities, raise VULNDB_VERSION to the newest pseudo-version
# (`go list -m golang.org/x/vulndb@latest`) and run this script.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION=v1.9.0

# govulncheck judges the standard library by the Go version of the `go` it
# runs, so check with the toolchain go.mod pins (its toolchain line), the one
# release builds and the image use, even where the environment says
# GOTOOLCHAIN=local. auto = the newer of the local go and that line.
export GOTOOLCHAIN=auto

db=$root/.cache/vulndb/$VULNDB_VERSION
if [ ! -d "$db" ]; then
  echo "vulncheck: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION" >&2
  mkdir -p "$root/.cache/vulndb"
  tmp=$(mktemp -d "$root/.cache/vulndb/.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # module@version downloads and runs leave go.mod and go.sum alone.
  src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/data/osv" ] || {
    echo "vulncheck: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv (in '$src')" >&2; exit 1; }
  go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$tmp/db"
  [ -f "$tmp/db/index/db.json" ] || { echo "vulncheck: indexdb wrote no index/db.json" >&2; exit 1; }
  # Rename into place, so an interrupted build never looks finished; a
  # concurrent run that got there first wins and this copy is dropped.
  mv -T "$tmp/db" "$db" 2>/dev/null || [ -f "$db/index/db.json" ]
  # Databases of earlier pins are dead weight (tens of MB each).
  find "$root/.cache/vulndb" -mindepth 1 -maxdepth 1 ! -name "$VULNDB_VERSION" ! -name '.tmp.*' \
    -exec rm -rf {} +
fi

# Installed rather than `go run`, which turns govulncheck's exit code 3 into 1.
bin=$root/.cache/bin/govulncheck-$GOVULNCHECK_VERSION
if [ ! -x "$bin/govulncheck" ]; then
  GOBIN=$bin go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
fi

echo "vulncheck: $(go env GOVERSION), golang.org/x/vulndb@$VULNDB_VERSION" >&2
rc=0
"$bin/govulncheck" -db "file://$db" "$@" ./... || rc=$?
case $rc in
  0) ;;
  3) echo "vulncheck: reachable vulnerabilities (above): upgrade the module, or the toolchain line in go.mod" >&2 ;;
  *) echo "vulncheck: govulncheck failed (exit $rc)" >&2 ;;
esac
exit "$rc"
