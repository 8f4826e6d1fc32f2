#!/usr/bin/env bash
# Refreshes the Swagger UI that /docs serves from the binary (no CDN), from the
# npm package swagger-ui-dist. Files are stored gzipped; the server sends them
# as they are to clients that accept gzip.
set -euo pipefail
version=${1:-5.35.0}
dst="$(cd "$(dirname "$0")/.." && pwd)/internal/httpapi/assets/swagger-ui"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
mkdir -p "$dst"
for f in swagger-ui-bundle.js swagger-ui.css; do gzip -9n < "$tmp/package/$f" > "$dst/$f.gz"; done
cp "$tmp/package/LICENSE" "$dst/LICENSE"
echo "$version" > "$dst/VERSION"
