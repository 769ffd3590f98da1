#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: Debian's Chromium and ChromeDriver (the console's
# browser tests), .venv (project, tests, linters) and .venv-sam (aws-sam-cli, which pins its own
# boto3/pydantic ranges) with Python 3.13, the Lambda runtime. Each step re-runs only when needed.
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

# The console's browser tests drive Debian's Chromium through its matching ChromeDriver; no test
# tool may download a browser of its own (the network is closed but for package registries).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: the console tests need Debian's chromium and chromium-driver; install them as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver" >&2
    exit 1
  fi
  echo "bootstrap: installing chromium and chromium-driver"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
  /usr/bin/chromium --version >/dev/null && /usr/bin/chromedriver --version >/dev/null
fi

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
