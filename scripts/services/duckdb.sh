# shellcheck shell=bash
# Installs DuckDB and pyarrow from PyPI into a venv of their own, for the
# batch tests that read taxieta's parquet output back with DuckDB (a second
# engine beside pyarrow, with its own parquet reader) and for
# scripts/bench/batch.sh. Sourced by scripts/test.sh (or by the benchmark,
# with $root set to the repository). No server: it only exports
#   TAXIETA_DUCKDB_PYTHON  a Python with duckdb and pyarrow
#
# The venv is .cache/venv-duckdb (git-ignored), installed once: a stamp file
# names the pinned versions, so later runs skip pip. Set
# TAXIETA_DUCKDB_PYTHON beforehand to use another Python.

DUCKDB_REQUIREMENTS=(duckdb==2.0.0 pyarrow==26.0.1)

# duckdb_install VENV: makes sure VENV has exactly DUCKDB_REQUIREMENTS.
duckdb_install() {
  local venv=$1
  local stamp="$venv/.taxieta-requirements"
  [ "$(cat "$stamp" 2>/dev/null)" = "${DUCKDB_REQUIREMENTS[*]}" ] && return 0
  echo "duckdb: installing ${DUCKDB_REQUIREMENTS[*]} into $venv (once)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${DUCKDB_REQUIREMENTS[@]}"
  echo "${DUCKDB_REQUIREMENTS[*]}" >"$stamp"
}

if [ -z "${TAXIETA_DUCKDB_PYTHON:-}" ]; then
  duckdb_install "$root/.cache/venv-duckdb"
  export TAXIETA_DUCKDB_PYTHON="$root/.cache/venv-duckdb/bin/python"
fi
