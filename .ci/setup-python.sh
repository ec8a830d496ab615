# Sourced by .ci/run: a Python virtual environment with the real package
# index and the real build and upload tools, for tests/publish_wheel.rs.
#
# pypiserver (+ passlib for its htpasswd authentication) stands in for the
# `wheels` repository; uv, build, twine and poetry are the front ends that
# publish-wheel drives. The tests start and stop their own pypiserver, so
# nothing is left running here. The venv is not put on PATH (its python
# would shadow the system one for everything else): the tests read
# KAS_TEST_PYTHON_BIN and put it on the PATH of the tool under test only.
# KAS_TEST_WHEELHOUSE holds the fixtures' build backend. Ray and Google's
# API client are there for tests/gce_cluster_files.rs.
# shellcheck shell=bash

python_venv="$KAS_CI_DIR/python-venv"
if [ ! -x "$python_venv/bin/pypi-server" ] || [ ! -x "$python_venv/bin/uv" ]; then
  (
    set -euo pipefail
    python3 -m venv "$python_venv"
    "$python_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      pypiserver passlib uv build twine poetry
  )
fi
# Ray, for the tests of the Compute Engine cluster files
# (tests/gce_cluster_files.rs): Ray's own schema check, and its GCP bootstrap
# run against the GCP emulator with Google's API client, which Ray's GCP
# support needs but does not pull in (the same pin as yaml/gcp's head
# nodes). PySocks: without it httplib2 (under Google's client) ignores
# HTTPS_PROXY, the way the test reaches the emulator.
if ! "$python_venv/bin/python" -c 'import importlib.metadata as m, sys
want = {"ray": "2.60.0", "google-api-python-client": "2.202.0", "PySocks": "1.7.1"}
sys.exit(any(m.version(p) != v for p, v in want.items()))' 2>/dev/null; then
  kas_ray_started=$SECONDS
  "$python_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "ray[default]==2.60.0" "google-api-python-client==2.202.0" "PySocks==1.7.1"
  echo "installed ray[default], google-api-python-client and PySocks in $((SECONDS - kas_ray_started)) s"
  unset kas_ray_started
fi
# The fixtures' build backend (setuptools) for the isolated builds, so the
# tests' builds read it from this folder instead of an index.
python_wheelhouse="$KAS_CI_DIR/wheelhouse"
if ! compgen -G "$python_wheelhouse/setuptools-*.whl" >/dev/null; then
  "$python_venv/bin/pip" download --quiet --disable-pip-version-check \
    --only-binary :all: --dest "$python_wheelhouse" setuptools
fi
export KAS_TEST_PYTHON_BIN="$python_venv/bin"
export KAS_TEST_WHEELHOUSE="$python_wheelhouse"
echo "python tools: $("$python_venv/bin/uv" --version), $("$python_venv/bin/poetry" --version), twine $("$python_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("twine"))'), pypiserver $("$python_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pypiserver"))'), ray $("$python_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("ray"))')"
