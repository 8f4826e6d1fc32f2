# shellcheck shell=bash
# Installs ONNX Runtime and the onnx package beside MLflow, for the tests
# that load taxieta's exported ONNX graphs and MLflow model directories in
# Python as a user would. Sourced by scripts/test.sh after mlflow.sh (whose
# mlflow_install and MLFLOW_*VERSION it uses). Exports:
#   TAXIETA_ONNX_PYTHON     the MLflow 3 venv's Python, with onnxruntime,
#                           onnx, numpy and pandas (pandas comes with MLflow)
#   TAXIETA_MLFLOW2_PYTHON  the MLflow 2 venv's Python, with the same
#                           (unless TAXIETA_MLFLOW2=0)
#
# The packages go into the existing venvs under .cache/ once: a stamp file
# of their own names the pinned versions, so that changing them does not
# reinstall MLflow. Set either variable beforehand to use another Python.

ONNX_REQUIREMENTS=(onnxruntime==1.32.0 onnx==1.23.2)

# onnx_install VENV MLFLOW_REQUIREMENT...: makes sure VENV has MLflow (as
# mlflow.sh installs it) and the ONNX packages.
onnx_install() {
  local venv=$1
  shift
  mlflow_install "$venv" "$@"
  local stamp="$venv/.taxieta-onnx-requirements"
  [ "$(cat "$stamp" 2>/dev/null)" = "${ONNX_REQUIREMENTS[*]}" ] && return 0
  echo "onnx: installing ${ONNX_REQUIREMENTS[*]} into $venv (once)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${ONNX_REQUIREMENTS[@]}"
  echo "${ONNX_REQUIREMENTS[*]}" >"$stamp"
}

if [ -z "${TAXIETA_ONNX_PYTHON:-}" ]; then
  onnx_install "$root/.cache/venv-mlflow" "mlflow==$MLFLOW_VERSION"
  export TAXIETA_ONNX_PYTHON="$root/.cache/venv-mlflow/bin/python"
fi
if [ "${TAXIETA_MLFLOW2:-1}" != 0 ] && [ -z "${TAXIETA_MLFLOW2_PYTHON:-}" ]; then
  onnx_install "$root/.cache/venv-mlflow2" "mlflow==$MLFLOW2_VERSION" "sqlalchemy<2.1"
  export TAXIETA_MLFLOW2_PYTHON="$root/.cache/venv-mlflow2/bin/python"
fi
