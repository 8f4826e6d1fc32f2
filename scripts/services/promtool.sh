# shellcheck shell=bash
# promtool, for the tests of the Prometheus alert rules in deploy/prometheus
# (promtool check rules, test rules, check metrics). Sourced by
# scripts/test.sh; exports TAXIETA_PROMTOOL.
#
# The binary comes from Debian's pinned prometheus package, fetched with
# `apt-get download` and unpacked into .cache/bin once (no root, no daemon
# installed or started); a stamp file names the version. Set
# TAXIETA_PROMTOOL beforehand to use another promtool.

PROMTOOL_DEB_VERSION=2.42.0+ds-5+deb12u1
: "${root:=$(pwd)}"

promtool_install() {
  local bin="$root/.cache/bin/promtool" stamp="$root/.cache/bin/.promtool-version"
  if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PROMTOOL_DEB_VERSION" ]; then
    echo "$bin"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/taxieta-promtool.XXXXXX") || return 1
  echo "promtool: fetching Debian's prometheus=$PROMTOOL_DEB_VERSION (once)" >&2
  if ! (cd "$tmp" && { apt-get download -q "prometheus=$PROMTOOL_DEB_VERSION" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get download -q "prometheus=$PROMTOOL_DEB_VERSION" >/dev/null 2>&1; }; }); then
    echo "promtool: apt-get download prometheus=$PROMTOOL_DEB_VERSION failed" >&2
    rm -rf "$tmp"
    return 1
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$root/.cache/bin"
  cp "$tmp/x/usr/bin/promtool" "$bin.tmp" && mv "$bin.tmp" "$bin"
  echo "$PROMTOOL_DEB_VERSION" >"$stamp"
  rm -rf "$tmp"
  echo "$bin"
}

if [ -z "${TAXIETA_PROMTOOL:-}" ]; then
  TAXIETA_PROMTOOL=$(promtool_install) || { echo "promtool: could not install promtool" >&2; return 1; }
  export TAXIETA_PROMTOOL
fi
echo "promtool: $("$TAXIETA_PROMTOOL" --version 2>&1 | head -1) ($TAXIETA_PROMTOOL)"
