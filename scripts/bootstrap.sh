#!/usr/bin/env bash
# Creates .venv (project, tests, linters) and .venv-sam (aws-sam-cli, which pins its own
# boto3/pydantic ranges) with Python 3.13, the Lambda runtime. Re-runs only when a
# requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.13 /root/.pyenv/versions/3.13.0/bin/python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "bootstrap: Python 3.13 not found (set PYTHON=/path/to/python3.13)" >&2
  return 1
}

PY=$(find_python)
stamp() { cat "$@" | sha256sum | cut -c1-16; }

want=$(stamp requirements-dev.txt pyproject.toml layers/core/requirements.txt)
if [ "$(cat .venv/.stamp 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing .venv with $PY"
  "$PY" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import boxcasb, moto, samtranslator" # fail here, not halfway through the tests
  echo "$want" > .venv/.stamp
fi

want_sam=$(stamp requirements-sam.txt)
if [ "$(cat .venv-sam/.stamp 2>/dev/null)" != "$want_sam" ]; then
  echo "bootstrap: installing .venv-sam with $PY"
  "$PY" -m venv .venv-sam
  .venv-sam/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt 2>&1 | grep -v "is ignored" || true
  .venv-sam/bin/sam --version >/dev/null
  echo "$want_sam" > .venv-sam/.stamp
fi
