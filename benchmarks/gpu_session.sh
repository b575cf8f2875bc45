#!/usr/bin/env bash
# Everything a borrowed GPU session should run, in one call (about 9 minutes on one
# H100/H200, no network; under the device tool's 600 s per call). Prepare the wheels here first (bash benchmarks/gpu_wheels.sh
# 3.12 .whl) and carry .whl/ along; then, from the repo root on the GPU machine:
#
#   bash benchmarks/gpu_session.sh "$OUT"
#
# 1. installs cuekit's pure-Python dependencies from .whl/ into a scratch folder;
# 2. gpu_check.py: every issue-5 section, budgeted to BUDGET_S seconds (default 360;
#    sections that would overrun are reported as skipped);
# 3. bench_rollout.py: the 2B rollout at B=128 with varied lengths, eager and compiled
#    (stopped after ROLLOUT_S seconds, default 180).
# Each step's output goes to OUT (JSON and a log); a failing step does not stop the next.
set -uo pipefail
OUT=${1:?usage: gpu_session.sh OUTPUT_FOLDER}
BUDGET_S=${BUDGET_S:-360}
ROLLOUT_S=${ROLLOUT_S:-180}
mkdir -p "$OUT"
SITE=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --target "$SITE" .whl/*.whl \
  > "$OUT/install.log" 2>&1 || { echo "wheel install failed: see $OUT/install.log"; exit 1; }
export PYTHONPATH="$SITE:.${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
python3 benchmarks/gpu_check.py --budget-s "$BUDGET_S" --out "$OUT/gpu_check.json" \
  2>&1 | tee "$OUT/gpu_check.log"
timeout "$ROLLOUT_S" python3 benchmarks/bench_rollout.py --device cuda --model 2b-random --batch-size 128 \
  --prompt-tokens 512 --max-new-tokens 256 --lengths spread --compile --repeats 1 \
  --out "$OUT/rollout_spread.json" 2>&1 | tee "$OUT/rollout_spread.log"
