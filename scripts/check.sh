#!/usr/bin/env bash
# The whole test suite: lint, types, template checks, build, and every pytest layer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

export SAM_CLI_TELEMETRY=0
# sam build runs the python3.13 it finds on PATH.
export PATH="$PWD/.venv/bin:$PATH"
step() { printf '\n== %s\n' "$*"; }

step "ruff"
ruff check .
ruff format --check .

step "mypy (strict: layers/, handlers, devstack, bench)"
mypy
# Handlers are all named app.py: each is checked on its own, or mypy sees one module twice.
for handler in functions/*/app.py; do mypy "$handler"; done
mypy devstack bench

step "template: sam validate, sam validate --lint, cfn-lint"
.venv-sam/bin/sam validate --region us-east-1 >/dev/null
.venv-sam/bin/sam validate --lint >/dev/null
.venv-sam/bin/cfn-lint template.yaml

step "sam build (arm64 layer)"
.venv-sam/bin/sam build --build-dir .aws-sam/build >/dev/null

step "pytest"
pytest "$@"
