#!/usr/bin/env bash
# Create ./.venv and install cuekit with everything the demo and the tests need.
# Idempotent and quick on a second run: pip is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
# torch goes first and pinned: an unpinned torch pulls a multi-GB CUDA build. 2.13.0 is
# the CPU wheel on the project's machines; on a GPU machine set TORCH_SPEC (e.g. "torch").
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
EXTRAS=${CUEKIT_EXTRAS:-ocr,dev}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.cuekit-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16) $TORCH_SPEC $EXTRAS"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  .venv/bin/python -m pip install --quiet "$TORCH_SPEC"
  .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi
