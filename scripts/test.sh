#!/usr/bin/env bash
# Install everything, then lint, format-check, type-check and run the whole test suite
# (CPU, offline).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy cuekit
.venv/bin/python -m pytest -q "$@"
