# shellcheck shell=bash
# Installs the Open Inference Protocol v2 clients a user would call taxieta
# with: NVIDIA's tritonclient (HTTP and gRPC) and the KServe SDK (its v2
# REST client), with numpy, into a venv of their own. Sourced by
# scripts/test.sh. Exports:
#   TAXIETA_OIP_PYTHON  the venv's Python, for cmd/taxieta's OIP client test
# A stamp file names the pinned versions, so they install once. Set the
# variable beforehand to use another Python.

OIP_REQUIREMENTS=("tritonclient[http,grpc]==2.73.0" kserve==0.21.0 numpy==2.3.5)

if [ -z "${TAXIETA_OIP_PYTHON:-}" ]; then
  oip_venv="$root/.cache/venv-oip"
  oip_stamp="$oip_venv/.taxieta-oip-requirements"
  if [ "$(cat "$oip_stamp" 2>/dev/null)" != "${OIP_REQUIREMENTS[*]}" ]; then
    echo "oip: installing ${OIP_REQUIREMENTS[*]} into $oip_venv (once)"
    [ -x "$oip_venv/bin/python" ] || python3 -m venv "$oip_venv"
    "$oip_venv/bin/pip" install --quiet --disable-pip-version-check "${OIP_REQUIREMENTS[@]}"
    echo "${OIP_REQUIREMENTS[*]}" >"$oip_stamp"
  fi
  export TAXIETA_OIP_PYTHON="$oip_venv/bin/python"
fi
