#!/usr/bin/env bash
# Install everything, then lint and run the whole test suite (CPU, offline).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
