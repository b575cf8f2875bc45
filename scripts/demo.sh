#!/usr/bin/env bash
# Install everything, then run cuekit end to end on the bundled synthetic sample (CPU, offline):
# extract -> shard -> verify -> distill -> eval -> audit. Tiny random-weight models stand in
# for Grounding DINO and Qwen3-VL, so the numbers show the plumbing, not model quality.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
OUT=${CUEKIT_DEMO_DIR:-demo-output}
rm -rf "$OUT"
cuekit() { .venv/bin/cuekit "$@"; }

echo "== 1/6 extract: parse questions, ground phrases (Grounding DINO + OCR + annotations), render cues"
cuekit extract --dataset sample --output "$OUT/extract" \
  --detector grounding-dino --detector-model tiny-random \
  --detector ocr --detector annotations --batch-size 4
.venv/bin/python - "$OUT/extract" <<'PY'
import sys
import polars as pl
cues = pl.read_parquet(f"{sys.argv[1]}/cues.parquet")
for row in cues.filter(pl.col("id").is_in(["geometry-000", "chart-000"])).iter_rows(named=True):
    print(f"  {row['id']}: {row['question']}\n    {row['cue_text'][:300]}")
PY

echo "== 2/6 shard: WebDataset tars + manifest"
cuekit shard --input "$OUT/extract" --output "$OUT/shards" --maxcount 8

echo "== 3/6 verify: every shard against the manifest"
cuekit verify "$OUT/shards"

echo "== 4/6 distill: tiny-random student, frozen self teacher that sees the cue"
cuekit distill --student tiny-random --teacher self --privilege cue \
  --shards "$OUT/shards" --output "$OUT/run" --max-steps 30 --batch-size 4 \
  --rollouts-per-prompt 4 --max-new-tokens 16 --lr 3e-4 --module-lr 3e-3 \
  --eval-shards "$OUT/shards" --eval-every 10 --save-every 10

echo "== 5/6 eval: the distilled student on the sample"
cuekit eval --model "$OUT/run" --shards "$OUT/shards" --output "$OUT/eval" --max-new-tokens 16

echo "== 6/6 audit: leakage, coverage and cue advantage of the sample cues"
cuekit audit --input "$OUT/extract" --output "$OUT/audit" --teacher tiny-random

echo "done: outputs in $OUT/ (student in $OUT/run/student, plots in $OUT/audit/*.png)"
