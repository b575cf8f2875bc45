"""Guard: CueWorld cues must not change while a model trains on their wording.

``save DIR`` extracts the CueWorld val split and the first 600 test rows with the
annotations backend and records each sample's phrases and cue text; ``check DIR``
extracts again and reports every sample whose phrases or cue text differ (exit 1).
Run ``check`` after every change to phrase extraction or cue rendering.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SPLITS = (("val", None), ("test", 600))


def _extract(split: str, limit: int | None, out: Path) -> dict[str, dict[str, object]]:
    import polars as pl

    cmd = [
        sys.executable,
        "-m",
        "cuekit",
        "extract",
        "--dataset",
        "cueworld",
        "--split",
        split,
        "--detector",
        "annotations",
        "-o",
        str(out),
        "--overwrite",
    ]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    subprocess.run(cmd, check=True, capture_output=True)
    frame = pl.read_parquet(out / "cues.parquet")
    records = {}
    for row in frame.iter_rows(named=True):
        cue = json.loads(row["cue"])
        records[row["id"]] = {
            "phrases": [p["text"] for p in cue["phrases"]],
            "cue_text": row["cue_text"],
        }
    return records


def snapshot() -> dict[str, dict[str, object]]:
    records: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for split, limit in SPLITS:
            records.update(_extract(split, limit, Path(tmp) / split))
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("save", "check"))
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    path = args.directory / "cueworld_frozen.json"
    current = snapshot()
    if args.action == "save":
        args.directory.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(current, indent=0, sort_keys=True))
        print(f"saved {len(current)} CueWorld cues to {path}")
        return 0
    frozen = json.loads(path.read_text())
    changed = [k for k in frozen if current.get(k) != frozen[k]]
    missing = set(frozen) ^ set(current)
    for key in changed[:10]:
        print(f"{key}: {frozen[key]} -> {current.get(key)}")
    print(
        f"CueWorld freeze: {len(frozen)} frozen, {len(changed)} changed, "
        f"{len(missing)} missing or new"
    )
    return 1 if changed or missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
