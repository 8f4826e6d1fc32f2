# shellcheck shell=bash
# A real NATS server with JetStream for the streaming tests (internal/stream).
# Sourced by scripts/test.sh, which defines add_cleanup and free_port; it
# exports TAXIETA_NATS_URL (the server's pid is nats_pid) and TAXIETA_NATS_CLI.
# Can also be sourced by hand:
#   add_cleanup() { :; }; free_port() { ...; }; source scripts/services/nats.sh
#
# The server binary: nats-server on PATH, else Debian's nats-server package,
# else the Go module's server built into bin/tools (no root needed).
# The NATS CLI (`nats`, for `nats bench` in scripts/bench/stream.sh), when
# NATS_WANT_CLI is set: the pinned natscli module built into .cache/bin once
# (a few minutes on a clean machine); set TAXIETA_NATS_CLI to use another.

nats_server_version=v2.15.2 # the module version go.mod uses, for the fallback build
natscli_version=v0.5.0
: "${root:=$(pwd)}" # the repository root; scripts/test.sh sets it

nats_find_server() {
  if command -v nats-server >/dev/null 2>&1; then
    command -v nats-server
    return 0
  fi
  if [ -x "$root/bin/tools/nats-server" ]; then
    echo "$root/bin/tools/nats-server"
    return 0
  fi
  return 1
}

nats_install_server() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "nats: installing Debian's nats-server package" >&2
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server >/dev/null 2>&1; }; then
      command -v nats-server && return 0
    fi
    echo "nats: no Debian package; building the server from the Go module instead" >&2
  fi
  mkdir -p "$root/bin/tools"
  GOBIN="$root/bin/tools" go install "github.com/nats-io/nats-server/v2@$nats_server_version" >&2 || return 1
  echo "$root/bin/tools/nats-server"
}

# nats_install_cli prints the path of the pinned NATS CLI, building it first
# when .cache/bin has none of that version.
nats_install_cli() {
  local bin="$root/.cache/bin/nats"
  if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$natscli_version" ]; then
    echo "$bin"
    return 0
  fi
  echo "nats: building the NATS CLI natscli@$natscli_version into .cache/bin (once)" >&2
  mkdir -p "$root/.cache/bin"
  GOBIN="$root/.cache/bin" go install "github.com/nats-io/natscli/nats@$natscli_version" >&2 || return 1
  echo "$bin"
}

# No test needs the CLI, only the benchmark (scripts/bench/stream.sh sets
# NATS_WANT_CLI=1), so the tests do not spend minutes building it; failing
# to build it stops only the benchmark, which says so.
if [ -z "${TAXIETA_NATS_CLI:-}" ] && [ -n "${NATS_WANT_CLI:-}" ]; then
  if TAXIETA_NATS_CLI=$(nats_install_cli); then
    export TAXIETA_NATS_CLI
  else
    echo "nats: could not build the NATS CLI natscli@$natscli_version; nats bench unavailable" >&2
    unset TAXIETA_NATS_CLI
  fi
fi
[ -z "${TAXIETA_NATS_CLI:-}" ] || echo "nats: CLI $("$TAXIETA_NATS_CLI" --version) ($TAXIETA_NATS_CLI)"

nats_bin=$(nats_find_server) || nats_bin=$(nats_install_server) || {
  echo "nats: could not install nats-server" >&2
  return 1
}
echo "nats: $("$nats_bin" --version) ($nats_bin)"

nats_port=$(free_port)
nats_dir=$(mktemp -d "${TMPDIR:-/tmp}/taxieta-nats.XXXXXX")
# -js: JetStream; -sd: its data directory; loopback only.
"$nats_bin" -a 127.0.0.1 -p "$nats_port" -js -sd "$nats_dir/store" -n taxieta-test \
  >"$nats_dir/server.log" 2>&1 &
nats_pid=$!
add_cleanup "kill $nats_pid; wait $nats_pid; rm -rf '$nats_dir'"

# Ready when it answers with an INFO line that says JetStream is on.
nats_ready=""
for _ in $(seq 1 100); do
  if ! kill -0 "$nats_pid" 2>/dev/null; then
    cat "$nats_dir/server.log" >&2
    echo "nats: nats-server exited while starting" >&2
    return 1
  fi
  if { exec 3<>"/dev/tcp/127.0.0.1/$nats_port"; } 2>/dev/null; then
    nats_info=""
    read -r -t 2 nats_info <&3 || true
    exec 3<&- 3>&-
    case $nats_info in
    *'"jetstream":true'*) nats_ready=1; break ;;
    esac
  fi
  sleep 0.1
done
[ -n "$nats_ready" ] || {
  cat "$nats_dir/server.log" >&2
  echo "nats: nats-server did not become ready on 127.0.0.1:$nats_port with JetStream" >&2
  return 1
}
export TAXIETA_NATS_URL="nats://127.0.0.1:$nats_port"
echo "nats: JetStream on $TAXIETA_NATS_URL (data in $nats_dir)"
