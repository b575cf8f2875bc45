#!/usr/bin/env bash
# Install everything, then run cuekit end to end (CPU, offline, about 4 minutes on 2 cores):
#  1. cue extraction on the bundled sample (tiny random Grounding DINO + OCR + annotations);
#  2. the ViCuR loop on CueWorld: extract -> shard -> verify -> distill cueworld-base against
#     its frozen self that sees the cue -> eval before and after, with a paired CI -> audit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
OUT=${CUEKIT_DEMO_DIR:-demo-output}
rm -rf "$OUT"
cuekit() { .venv/bin/cuekit "$@"; }

echo "== 1/7 extract (bundled sample): parse questions, ground phrases, render cues"
cuekit extract --dataset sample --output "$OUT/sample-extract" \
  --detector grounding-dino --detector-model tiny-random \
  --detector ocr --detector annotations --batch-size 4
.venv/bin/python - "$OUT/sample-extract" <<'PY'
import sys
import polars as pl
cues = pl.read_parquet(f"{sys.argv[1]}/cues.parquet")
for row in cues.filter(pl.col("id").is_in(["geometry-000", "chart-000"])).iter_rows(named=True):
    print(f"  {row['id']}: {row['question']}\n    {row['cue_text'][:300]}")
PY

echo "== 2/7 extract (CueWorld): train and held-out test questions, grounded by annotations"
cuekit extract --dataset cueworld --split train --limit 2000 --detector annotations \
  --output "$OUT/cueworld-train"
cuekit extract --dataset cueworld --split test --limit 300 --detector annotations \
  --output "$OUT/cueworld-test"
.venv/bin/python - "$OUT/cueworld-test" <<'PY'
import sys
import polars as pl
for row in pl.read_parquet(f"{sys.argv[1]}/cues.parquet").head(3).iter_rows(named=True):
    print(f"  {row['question']}  (answer {row['answer']})\n    {row['cue_text']}")
PY

echo "== 3/7 shard + verify"
cuekit shard --input "$OUT/cueworld-train" --output "$OUT/shards" --maxcount 500
cuekit verify "$OUT/shards"

echo "== 4/7 distill: cueworld-base against its frozen self that sees the cue (OPSD + ViCuR)"
cuekit distill --student cueworld-base --teacher self --privilege cue --cue-interval 2 \
  --shards "$OUT/shards" --output "$OUT/run" --max-steps 120 --batch-size 16 \
  --rollouts-per-prompt 2 --max-new-tokens 4 --lr 1e-4 --module-lr 2e-3 \
  --eval-shards "$OUT/shards" --eval-every 40 --eval-batches 2 --no-tensorboard

echo "== 5/7 eval: accuracy on held-out CueWorld questions, no cue in the prompt"
cuekit eval --model cueworld-base --shards "$OUT/cueworld-test" --output "$OUT/eval-before" \
  --temperature 0 --max-new-tokens 4 --batch-size 50
cuekit eval --model "$OUT/run" --shards "$OUT/cueworld-test" --output "$OUT/eval-after" \
  --temperature 0 --max-new-tokens 4 --batch-size 50

echo "== 6/7 before -> after, paired bootstrap 95% CI"
cuekit compare "$OUT/eval-before" "$OUT/eval-after" --output "$OUT/compare"

echo "== 7/7 audit: leakage, coverage and the teacher's cue advantage"
cuekit audit --input "$OUT/cueworld-test" --output "$OUT/audit" --teacher cueworld-base

echo "done: outputs in $OUT/ (student in $OUT/run/student, plots in $OUT/audit/*.png)"
