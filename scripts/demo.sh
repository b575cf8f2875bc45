#!/usr/bin/env bash
# Install everything, then run cuekit end to end on the bundled synthetic sample (CPU, offline).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
OUT=${CUEKIT_DEMO_DIR:-demo-output}
cuekit=.venv/bin/cuekit

echo "== 1. extract: ground each question's phrases and render cues"
"$cuekit" extract --dataset sample --output "$OUT/extract" --overwrite \
  --detector grounding-dino --detector-model tiny-random \
  --detector ocr --detector annotations --batch-size 4
.venv/bin/python - "$OUT/extract" <<'PY'
import sys, polars as pl
cues = pl.read_parquet(f"{sys.argv[1]}/cues.parquet")
for row in cues.head(3).iter_rows(named=True):
    print(f"- {row['id']}: {row['question']}\n  {row['cue_text']}")
PY
