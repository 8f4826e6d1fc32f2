# shellcheck shell=bash
# Starts a real MLflow tracking server for the registry tests. Sourced by
# scripts/test.sh (which defines add_cleanup and free_port, and runs with
# set -euo pipefail); exports TAXIETA_MLFLOW_URI.
#
# MLflow is installed from PyPI into a venv under .cache/ (git-ignored), once:
# a stamp file names the pinned version, so later runs (CI reruns on the same
# machine) skip pip. The server uses a SQLite backend and proxies artifacts
# (mlflow-artifacts: URIs) to a folder, both in a fresh temporary directory,
# on a free loopback port, with MLflow's background job runner off (the tests
# need none, and it forks a dozen workers).
#
# Set TAXIETA_MLFLOW_URI beforehand to use a server that is already running.

MLFLOW_VERSION=3.17.2

mlflow_start() {
  if [ -n "${TAXIETA_MLFLOW_URI:-}" ]; then
    echo "mlflow: using TAXIETA_MLFLOW_URI=$TAXIETA_MLFLOW_URI"
    return 0
  fi
  local venv="$root/.cache/venv-mlflow"
  local stamp="$venv/.taxieta-mlflow-$MLFLOW_VERSION"
  if [ ! -e "$stamp" ]; then
    echo "mlflow: installing mlflow==$MLFLOW_VERSION into $venv (once)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mlflow==$MLFLOW_VERSION"
    touch "$stamp"
  fi
  local dir port pid
  dir=$(mktemp -d "${TMPDIR:-/tmp}/taxieta-mlflow.XXXXXX")
  port=$(free_port)
  # setsid: the server forks uvicorn workers; cleanup stops the whole group.
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$venv/bin/mlflow" server \
    --backend-store-uri "sqlite:///$dir/mlflow.db" \
    --artifacts-destination "$dir/artifacts" --serve-artifacts \
    --host 127.0.0.1 --port "$port" --workers 1 \
    >"$dir/server.log" 2>&1 </dev/null &
  pid=$!
  add_cleanup "kill -TERM -- -$pid; sleep 1; kill -KILL -- -$pid; rm -rf '$dir'"
  local url="http://127.0.0.1:$port" i
  # Python imports and the SQLite schema migrations take a while, more on a busy machine.
  for ((i = 0; i < 600; i++)); do
    if curl -fsS -o /dev/null "$url/health" 2>/dev/null; then
      export TAXIETA_MLFLOW_URI="$url"
      echo "mlflow: mlflow $MLFLOW_VERSION at $url (data in $dir)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "mlflow: the server exited; its log:" >&2
      tail -n 40 "$dir/server.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "mlflow: no answer on $url/health after 300 s; the server's log:" >&2
  tail -n 40 "$dir/server.log" >&2
  return 1
}

mlflow_start
