# Sourced by .ci/run: a Python virtual environment with the real package
# index and the real build and upload tools, for tests/publish_wheel.rs.
#
# pypiserver (+ passlib for its htpasswd authentication) stands in for the
# `wheels` repository; uv, build, twine and poetry are the front ends that
# publish-wheel drives. The tests start and stop their own pypiserver, so
# nothing is left running here. The venv is not put on PATH (its python
# would shadow the system one for everything else): the tests read
# KAS_TEST_PYTHON_BIN and put it on the PATH of the tool under test only.
# KAS_TEST_WHEELHOUSE holds the fixtures' build backend.
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
# The fixtures' build backend (setuptools) for the isolated builds, so the
# tests' builds read it from this folder instead of an index.
python_wheelhouse="$KAS_CI_DIR/wheelhouse"
if ! compgen -G "$python_wheelhouse/setuptools-*.whl" >/dev/null; then
  "$python_venv/bin/pip" download --quiet --disable-pip-version-check \
    --only-binary :all: --dest "$python_wheelhouse" setuptools
fi
export KAS_TEST_PYTHON_BIN="$python_venv/bin"
export KAS_TEST_WHEELHOUSE="$python_wheelhouse"
echo "python tools: $("$python_venv/bin/uv" --version), $("$python_venv/bin/poetry" --version), twine $("$python_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("twine"))'), pypiserver $("$python_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pypiserver"))')"
