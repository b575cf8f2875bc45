"""``cuekit export`` and ``cuekit export-student``: move cues and students to other tools.

- ``verl``: one parquet (``train.parquet``) with the columns verl-style RL/distillation
  trainers read: ``prompt`` (chat messages, one ``<image>`` placeholder per image before
  the question), ``teacher_prompt`` (the same messages with the hint appended to the user
  turn exactly as distill appends it), ``images`` (``{"bytes", "path"}`` structs, the
  original bytes), ``data_source``, ``ability``, ``reward_model`` (``{"style": "rule",
  "ground_truth"}``) and ``extra_info``.
- ``hf``: a folder ``datasets.load_dataset(folder)`` reads: ``data/<split>.parquet`` with
  an ``Image`` feature and the cue columns, and a README whose YAML lists the splits.
- ``export_student``: the student's weights, its cue recovery module and processor,
  the distill config, and a README showing how to load and generate.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from cuekit.distill.prompts import append_hint
from cuekit.errors import ConfigError
from cuekit.evaluate.inputs import CueItem, iter_cue_items

EXPORT_FORMATS = ("verl", "hf")
IMAGE_PLACEHOLDER = "<image>"
VERL_FILE = "train.parquet"
_IMAGE_STRUCT = pl.Struct({"bytes": pl.Binary(), "path": pl.String()})
VERL_SCHEMA: dict[str, pl.DataType] = {
    "data_source": pl.String(),
    "prompt": pl.List(pl.Struct({"role": pl.String(), "content": pl.String()})),
    "teacher_prompt": pl.List(pl.Struct({"role": pl.String(), "content": pl.String()})),
    "images": pl.List(_IMAGE_STRUCT),
    "ability": pl.String(),
    "reward_model": pl.Struct({"style": pl.String(), "ground_truth": pl.String()}),
    "extra_info": pl.Struct({
        "index": pl.Int64(), "id": pl.String(), "split": pl.String(), "question": pl.String(),
        "answer": pl.String(), "choices": pl.List(pl.String()), "hint": pl.String(),
        "cue_style": pl.String(), "leak": pl.Boolean()}),
}


def _user_content(question: str, num_images: int) -> str:
    """Images first, then the text: the order cuekit's own prompts use."""
    return IMAGE_PLACEHOLDER * num_images + question


def verl_row(item: CueItem, index: int) -> dict[str, Any]:
    """One verl row; ``teacher_prompt`` differs from ``prompt`` only by the appended hint."""
    sample = item.record.sample
    count = len(sample.images)
    return {
        "data_source": sample.source,
        "prompt": [{"role": "user", "content": _user_content(sample.question, count)}],
        "teacher_prompt": [{"role": "user", "content": _user_content(
            append_hint(sample.question, item.hint), count)}],
        "images": [{"bytes": data, "path": ref.path}
                   for data, ref in zip(item.image_bytes, sample.images, strict=True)],
        "ability": "vqa",
        "reward_model": {"style": "rule", "ground_truth": sample.answer},
        "extra_info": {"index": index, "id": sample.id, "split": sample.split,
                       "question": sample.question, "answer": sample.answer,
                       "choices": sample.choices, "hint": item.hint,
                       "cue_style": item.record.cue.cue_style, "leak": item.record.cue.leak},
    }


def export_verl(items: Iterable[CueItem], output: Path) -> Path:
    rows = [verl_row(item, index) for index, item in enumerate(items)]
    if not rows:
        raise ConfigError("nothing to export: the input holds no samples")
    output.mkdir(parents=True, exist_ok=True)
    path = output / VERL_FILE
    pl.DataFrame(rows, schema=VERL_SCHEMA).write_parquet(path)
    return path


def _hf_record(item: CueItem) -> dict[str, Any]:
    sample, cue = item.record.sample, item.record.cue
    return {"id": sample.id, "source": sample.source, "split": sample.split,
            "question": sample.question, "answer": sample.answer, "choices": sample.choices,
            "images": [{"bytes": data, "path": None} for data in item.image_bytes],
            "hint": item.hint, "cue_style": cue.cue_style, "leak": cue.leak,
            "n_phrases": len(cue.phrases), "n_detections": len(cue.detections),
            "cue": cue.model_dump_json(), "metadata": json.dumps(sample.metadata)}


def _hf_features() -> Any:
    import datasets

    text = datasets.Value("string")
    return datasets.Features({
        "id": text, "source": text, "split": text, "question": text, "answer": text,
        "choices": datasets.List(text), "images": datasets.List(datasets.Image()),
        "hint": text, "cue_style": text, "leak": datasets.Value("bool"),
        "n_phrases": datasets.Value("int32"), "n_detections": datasets.Value("int32"),
        "cue": text, "metadata": text})


def export_hf(items: Iterable[CueItem], output: Path) -> list[Path]:
    """One parquet per split under ``output/data`` plus a README declaring the splits."""
    import datasets

    by_split: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_split.setdefault(item.record.sample.split, []).append(_hf_record(item))
    if not by_split:
        raise ConfigError("nothing to export: the input holds no samples")
    (output / "data").mkdir(parents=True, exist_ok=True)
    features, written = _hf_features(), []
    for split, records in sorted(by_split.items()):
        columns = {name: [r[name] for r in records] for name in features}
        dataset = datasets.Dataset.from_dict(columns, features=features, split=split)
        path = output / "data" / f"{split}.parquet"
        dataset.to_parquet(str(path))  # keeps the features (Image) in the parquet metadata
        written.append(path)
    configs = "\n".join(f"  - split: {split}\n    path: data/{split}.parquet"
                        for split in sorted(by_split))
    (output / "README.md").write_text(
        f"---\nconfigs:\n- config_name: default\n  data_files:\n{configs}\n---\n\n"
        "# cuekit cues\n\nExported by `cuekit export --format hf`. Load with\n"
        "`datasets.load_dataset(\"<this folder>\")`. `hint` is the text the privileged teacher "
        "reads; `cue` holds the full cue record (phrases, detections) as JSON.\n")
    return written


def run_export(input_path: str, output: Path, export_format: str, *,
               limit: int | None = None) -> list[Path]:
    """Export an extract folder or shards as ``verl`` or ``hf``."""
    if export_format not in EXPORT_FORMATS:
        raise ConfigError(f"format must be one of {EXPORT_FORMATS}, got {export_format!r}")
    items = iter_cue_items(input_path, limit=limit)
    if export_format == "verl":
        return [export_verl(items, output)]
    return export_hf(items, output)


# ---------------------------------------------------------------- students

_STUDENT_README = """# {name}

A Qwen3-VL student distilled with cuekit (cue-privileged on-policy distillation).
{provenance}
Files: the base weights (`model*.safetensors`, `config.json`), the processor
(tokenizer, image processor, chat template){module_files}{config_files}.

## Load and generate

```python
import torch
from PIL import Image
from cuekit.distill import build_prompt_batch, load_student

model, processor = load_student("{folder}")  # re-attaches the cue recovery module
image = Image.open("figure.png").convert("RGB")
inputs = build_prompt_batch(processor, ["What is the length of AB?"], [[image]])
with torch.no_grad():
    out = model.generate(**inputs, max_new_tokens=512, do_sample=False,
                         eos_token_id=processor.im_end_token_id,
                         pad_token_id=processor.tokenizer.pad_token_id)
print(processor.batch_decode(out[:, inputs["input_ids"].shape[1]:],
                             skip_special_tokens=True)[0])
```

Evaluate it with `cuekit eval --model {folder} --dataset DATA --output EVAL`.
"""


def find_student_folder(run: str | Path) -> Path:
    """``run/student`` for a distill run or a checkpoint, else ``run`` if it is a model folder."""
    from cuekit.distill.models import student_folder

    path = Path(run).expanduser()
    found = student_folder(path)
    if found is not None:
        return found
    raise ConfigError(f"{path} is not a distill run, checkpoint or student folder "
                      "(no student/config.json or config.json)")


def _provenance(run: Path) -> str:
    lines = []
    config_path = run / "config.yaml"
    if config_path.is_file():
        import yaml

        config = yaml.safe_load(config_path.read_text()) or {}
        lines.append(f"Base model `{config.get('student')}`, teacher `{config.get('teacher')}`, "
                     f"privilege `{config.get('privilege')}`, loss `{config.get('loss')}`.")
    metrics = run / "metrics.jsonl"
    if metrics.is_file():
        steps = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        if steps:
            lines.append(f"Trained for {steps[-1].get('step')} steps.")
    return ("\n" + " ".join(lines) + "\n") if lines else ""


def export_student(run: str | Path, output: str | Path, *, overwrite: bool = False) -> Path:
    """Copy a run's student (weights, cue module, processor) into ``output`` with a README."""
    source = find_student_folder(run)
    run_dir = source.parent if source.name == "student" else source
    output = Path(output)
    if output.resolve() == source.resolve():
        raise ConfigError("--output must differ from the student folder")
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise ConfigError(f"{output} is not empty; pass --overwrite or choose another folder")
    weights = list(source.glob("*.safetensors"))
    if not any(p.name.startswith("model") for p in weights):
        raise ConfigError(f"{source} has no model*.safetensors weights")
    output.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file():
            shutil.copy2(path, output / path.name)
    config_files = ""
    if (run_dir / "config.yaml").is_file():
        shutil.copy2(run_dir / "config.yaml", output / "distill_config.yaml")
        config_files = ", and the distill settings (`distill_config.yaml`)"
    has_module = (output / "cue_module.json").is_file()
    (output / "README.md").write_text(_STUDENT_README.format(
        name=output.name, provenance=_provenance(run_dir), folder=output,
        module_files=(", the cue recovery module (`cue_module.json`, "
                      "`cue_module.safetensors`)") if has_module else "",
        config_files=config_files))
    return output
