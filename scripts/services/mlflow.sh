# shellcheck shell=bash
# Starts real MLflow tracking servers for the registry tests. Sourced by
# scripts/test.sh (which defines add_cleanup and free_port, and runs with
# set -euo pipefail). Exports:
#   TAXIETA_MLFLOW_URI    MLflow 3 (always)
#   TAXIETA_MLFLOW2_URI   MLflow 2, whose registry has no logged models
#                         (unless TAXIETA_MLFLOW2=0)
#   TAXIETA_PYARROW_PYTHON  the MLflow 3 venv's Python: MLflow depends on
#                         pyarrow, which the batch tests use as a second,
#                         independent reader of our parquet output
#
# Each MLflow is installed from PyPI into its own venv under .cache/
# (git-ignored), once: a stamp file names the pinned version, so later runs
# (CI reruns on the same machine) skip pip. Each server uses a SQLite backend
# and proxies artifacts (mlflow-artifacts: URIs) to a folder, both in a fresh
# temporary directory, on a free loopback port, with MLflow 3's background
# job runner off (the tests need none, and it forks a dozen workers).
#
# Set TAXIETA_MLFLOW_URI (or TAXIETA_MLFLOW2_URI) beforehand to use a server
# that is already running.

MLFLOW_VERSION=3.17.2
MLFLOW2_VERSION=2.22.5

# mlflow_install VENV REQUIREMENT...: pip installs the requirements into
# VENV unless the stamp file says that exactly these are installed.
mlflow_install() {
  local venv=$1
  shift
  local stamp="$venv/.taxieta-requirements"
  [ "$(cat "$stamp" 2>/dev/null)" = "$*" ] && return 0
  echo "mlflow: installing $* into $venv (once)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$*" >"$stamp"
}

# mlflow_start VERSION VENV VAR [REQUIREMENT...]: starts that MLflow (with
# those extra requirements) and exports its URL as VAR.
mlflow_start() {
  local version=$1 venv=$2 var=$3
  shift 3
  if [ -n "${!var:-}" ]; then
    echo "mlflow: using $var=${!var}"
    return 0
  fi
  mlflow_install "$venv" "mlflow==$version" "$@"
  local dir port pid
  dir=$(mktemp -d "${TMPDIR:-/tmp}/taxieta-mlflow.XXXXXX")
  port=$(free_port)
  # setsid: the server forks uvicorn or gunicorn workers; cleanup stops the whole group.
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
      export "$var=$url"
      echo "mlflow: mlflow $version at $url (data in $dir)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "mlflow: mlflow $version exited; its log:" >&2
      tail -n 40 "$dir/server.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "mlflow: no answer on $url/health after 300 s; the server's log:" >&2
  tail -n 40 "$dir/server.log" >&2
  return 1
}

mlflow_start "$MLFLOW_VERSION" "$root/.cache/venv-mlflow" TAXIETA_MLFLOW_URI
if [ -z "${TAXIETA_PYARROW_PYTHON:-}" ]; then
  if ! "$root/.cache/venv-mlflow/bin/python" -c 'import pyarrow' 2>/dev/null; then
    mlflow_install "$root/.cache/venv-mlflow" "mlflow==$MLFLOW_VERSION"
  fi
  export TAXIETA_PYARROW_PYTHON="$root/.cache/venv-mlflow/bin/python"
fi
# MLflow's own Python (pandas and its scoring client), for the /invocations tests.
export TAXIETA_MLFLOW_PYTHON="$root/.cache/venv-mlflow/bin/python"
if [ "${TAXIETA_MLFLOW2:-1}" != 0 ]; then
  # MLflow 2.22 predates SQLAlchemy 2.1, which removed a pool class it imports.
  mlflow_start "$MLFLOW2_VERSION" "$root/.cache/venv-mlflow2" TAXIETA_MLFLOW2_URI "sqlalchemy<2.1"
fi
