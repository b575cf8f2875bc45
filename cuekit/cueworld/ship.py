"""Ship two snapshots of one supervised run as ``cueworld-base`` and ``cueworld-teacher``.

Copies ``RUN/steps/step-N`` into ``cuekit/cueworld/weights/<name>/`` with the run's
settings and training curve, measures each model with ``cuekit eval`` on the test split
(greedy, with no hint, with the cue, with the answer hint) and writes its model card::

    cuekit extract --dataset cueworld --split test --detector annotations -o runs/cw-test
    python -m cuekit.cueworld.ship --run runs/sft-base --base-step 1500 \\
        --teacher-step 3000 --test runs/cw-test
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cuekit.cueworld.dataset import CUE_WORDING
from cuekit.cueworld.model import WEIGHTS_DIR
from cuekit.schemas.runs import EvalSummary

SHIPPED_PRIVILEGES = ("none", "cue", "answer")
_COPIED = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "preprocessor_config.json",
    "cuekit_processor.json",
)


def greedy_eval(
    model: str, folder: str | Path, output: Path, privilege: str = "none", max_new_tokens: int = 4
) -> tuple[EvalSummary, Any]:
    """``cuekit eval`` on a CueWorld extract folder, greedy: (summary, predictions sorted
    by id). CueWorld answers are one word, so 4 new tokens always reach ``<|im_end|>``."""
    import polars as pl

    from cuekit.evaluate.eval import EvalConfig, run_eval

    summary = run_eval(
        EvalConfig(
            model=model,
            output=output,
            shards=str(folder),
            temperature=0.0,
            max_new_tokens=max_new_tokens,
            batch_size=50,
            device="cpu",
            privilege=privilege,
        )
    )
    return summary, pl.read_parquet(output / "predictions.parquet").sort("id")


def measure(model: str, test: str, output: Path) -> dict[str, dict[str, Any]]:
    """Greedy test accuracy per privilege, overall and per question family."""
    import polars as pl

    from cuekit.pipelines.extract.layout import read_extracted

    families = {
        record.sample.id: record.sample.metadata.get("family")
        for record in read_extracted(Path(test))
    }
    results = {}
    for privilege in SHIPPED_PRIVILEGES:
        summary, frame = greedy_eval(model, test, output / privilege, privilege)
        frame = frame.with_columns(
            pl.col("id").replace_strict(families, default=None).alias("family")
        )
        per_family = {
            row["family"]: row["correct"]
            for row in frame.group_by("family").agg(pl.col("correct").mean()).iter_rows(named=True)
        }
        results[privilege] = {
            "accuracy": summary.scores.overall.accuracy,
            "samples": summary.scores.overall.samples,
            "per_family": dict(sorted(per_family.items())),
        }
    return results


def description_probe(model: str, test: str, rows: int = 200) -> dict[str, float]:
    """Share of description entries the model gets exactly right on ``rows`` test images,
    greedy: ``grounding`` ("Where is each shape?", one entry per shape: ``star: top
    left``) shows whether it can find a named shape; ``caption`` ("Describe the image.",
    one entry per place: ``top left: large red star 3``) whether it reads each place."""
    from cuekit.cueworld.scenes import grounding_text
    from cuekit.cueworld.sft import CAPTION_PROMPT, GROUNDING_PROMPT, greedy_texts
    from cuekit.distill.models import load_model
    from cuekit.distill.prompts import build_messages
    from cuekit.evaluate.inputs import iter_cue_items

    net, processor = load_model(model)
    items = list(iter_cue_items(test, limit=rows))
    scores = {}
    for name, prompt in (("grounding", GROUNDING_PROMPT), ("caption", CAPTION_PROMPT)):
        text = processor.apply_chat_template(build_messages(prompt, 1), add_generation_prompt=True)
        right = total = 0
        for start in range(0, len(items), 50):
            chunk = items[start : start + 50]
            inputs = processor(
                [text] * len(chunk), [it.images()[0] for it in chunk], padding_side="left"
            )
            decoded = greedy_texts(net, processor, inputs, max_new_tokens=64)
            for item, said in zip(chunk, decoded, strict=True):
                meta = item.record.sample.metadata
                truth = (
                    grounding_text(meta["objects"]) if name == "grounding" else str(meta["caption"])
                )
                expected = _entries(truth)
                right += len(expected & _entries(said))
                total += len(expected)
        scores[name] = right / max(total, 1)
    return scores


def _entries(text: str) -> set[str]:
    return {part.strip() for part in text.split(".") if part.strip()}


def model_card(
    name: str, step: int, run_config: dict[str, Any], results: dict[str, dict[str, Any]]
) -> str:
    acc = {p: 100 * results[p]["accuracy"] for p in SHIPPED_PRIVILEGES}
    shares = run_config["hint_shares"]
    families = sorted(results["none"]["per_family"])
    family_rows = "\n".join(
        f"| {f} | "
        + " | ".join(f"{100 * results[p]['per_family'][f]:.1f}" for p in SHIPPED_PRIVILEGES)
        + " |"
        for f in families
    )
    helped = [
        f
        for f in families
        if results["cue"]["per_family"][f] - results["none"]["per_family"][f] >= 0.05
    ]
    flat = [f for f in families if f not in helped]
    verdict = f"The cue helps on {', '.join(helped) or 'no family'}" + (
        f"; on {', '.join(flat)} it changes the accuracy by less than 5 points." if flat else "."
    )
    grounding = run_config.get("grounding_share", 0.0)
    probe = ""
    if "descriptions" in results:
        found = results["descriptions"]
        probe = f"""
Asked to describe test images (greedy, 200 images), it names each shape's place
("Where is each shape?") with {100 * found["grounding"]:.1f}% of entries exactly right,
and each place's size, colour, shape and digit ("Describe the image.") with
{100 * found["caption"]:.1f}%: the share of the evidence it can find when asked for it.
"""
    role = (
        "the student of the CueWorld experiment and the frozen OPSD teacher"
        if name == "cueworld-base"
        else "the stronger OPD teacher (the same run, trained longer)"
    )
    return f"""# {name}

A 1.05M-parameter Qwen3-VL (`Qwen3VLForConditionalGeneration`: vision tower, DeepStack,
M-RoPE) trained from scratch on CueWorld, cuekit's procedural VQA world. It is {role}.
It loads offline by alias: `cuekit.distill.models.load_model("{name}")`, or
`Qwen3VLForConditionalGeneration.from_pretrained(<this folder>)` with
`cuekit.distill.processor.ImageOnlyProcessor.from_pretrained(<this folder>)`.

## Measured (`cuekit eval`, CueWorld test, {results["none"]["samples"]} questions, greedy)

| prompt | accuracy (%) |
|---|---|
| question only | {acc["none"]:.1f} |
| with the cue (`--privilege cue`) | {acc["cue"]:.1f} |
| with the answer hint (`--privilege answer`) | {acc["answer"]:.1f} |

| family | no hint | with the cue | with the answer hint |
|---|---|---|---|
{family_rows}

{verdict} Answer-hint accuracy shows which families the model can answer once told;
no-hint accuracy near a family's guessing rate (spatial 25%, compare 50%, reading about
10%) means the model has not learnt to find that evidence alone.
{probe}
## How it was trained

Step {step} of one run of the supervised recipe (transformers `Trainer`), from these
settings (`sft_config.json`; the loss and val curve are in `sft_curve.jsonl`):

```bash
cuekit extract --dataset cueworld --split train --detector annotations -o runs/cw-train
cuekit extract --dataset cueworld --split val --detector annotations -o runs/cw-val
python -m cuekit.cueworld.sft --model cueworld-base --train runs/cw-train --val runs/cw-val \\
    --output runs/sft-base --max-steps {run_config["max_steps"]} \\
    --caption-steps {run_config["caption_steps"]} --eval-every {run_config["eval_every"]} \\
    --eval-rows {run_config["eval_rows"]} --threads {run_config["threads"]} \\
    --hint-shares {" ".join(f"{v:g}" for v in shares)} --lr {run_config["lr"]:g} \\
    --grounding-share {grounding:g}
# this model: runs/sft-base/steps/step-{step}
```

The cues are in wording `{CUE_WORDING}` (`cuekit.cues.wording`), which `--dataset cueworld` pins
(`cuekit.cueworld.dataset.CUE_WORDING`), so `cuekit eval --privilege cue` on a fresh
extract reproduces the numbers above. A retrain on a newer wording passes
`--cue-wording` to both extracts and moves the pin with the new weights.

First {run_config["caption_steps"]} steps: dense scene descriptions only ({100 * grounding:.0f}% of
them object-first, "Where is each shape?" → `circle: top left. star: centre.`, the rest
place-first captions, `top left: large red circle 3. ...`); then
{100 * run_config["caption_share"]:.0f}% descriptions and the rest questions, whose prompts carry
no hint ({100 * shares[0]:.0f}%), the extract stage's cue ({100 * shares[1]:.0f}%) or the
answer hint ({100 * shares[2]:.0f}%). lr {run_config["lr"]},
warmup {run_config["warmup_steps"]}, cosine, AdamW (0.9, 0.98),
batch {run_config["batch_size"]}, fp32, {run_config["threads"]} CPU thread.
"""


def ship(run: Path, steps: dict[str, int], test: str, scratch: Path) -> dict[str, Any]:
    run_config = json.loads((run / "sft_config.json").read_text())
    shipped = {}
    for name, step in steps.items():
        source = run / "steps" / f"step-{step}"
        target = WEIGHTS_DIR / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for file in _COPIED:
            if (source / file).is_file():
                shutil.copy2(source / file, target / file)
        (target / "sft_config.json").write_text(json.dumps(run_config, indent=2) + "\n")
        shutil.copy2(run / "curve.jsonl", target / "sft_curve.jsonl")
        results: dict[str, Any] = measure(name, test, scratch / name)
        results["descriptions"] = description_probe(name, test)
        (target / "README.md").write_text(model_card(name, step, run_config, results))
        shipped[name] = {"step": step, **results}
        print(json.dumps({name: shipped[name]}), flush=True)
    return shipped


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--base-step", type=int, required=True)
    parser.add_argument("--teacher-step", type=int, required=True)
    parser.add_argument("--test", required=True, help="extract folder of the test split")
    parser.add_argument("--scratch", type=Path, default=Path("runs/ship-eval"))
    args = parser.parse_args(argv)
    shipped = ship(
        args.run,
        {"cueworld-base": args.base_step, "cueworld-teacher": args.teacher_step},
        args.test,
        args.scratch,
    )
    (args.scratch / "shipped.json").write_text(json.dumps(shipped, indent=2) + "\n")


if __name__ == "__main__":
    main()
