"""``cuekit export`` and ``cuekit export-student``: move cues and students to other tools.

- ``verl``: one parquet (``train.parquet``) with the columns verl's ``RLHFDataset`` (and
  the ViCuR fork's, which adds ``teacher_prompt``) reads. ``prompt`` and ``teacher_prompt``
  are the messages of distill's own prompt builder (:func:`~cuekit.distill.prompts.
  build_chat_pair`: system turn, question, options, instruction, hint), written the way
  verl reads them: string contents with one ``<image>`` per image, which verl splits back
  into image and text items, so a row renders to the tokens distill trains on.
  ``images`` (``{"bytes", "path"}`` structs, the original bytes) feed both prompts: verl
  has no teacher image column, so cue style ``marks`` is refused. ``data_source`` is
  ``hiyouga/geometry3k`` for geometry3k-schema samples (verl's default reward scores
  them); other sources need :mod:`cuekit.evaluate.verl_reward`.
- ``hf``: a folder ``datasets.load_dataset(folder)`` reads: ``data/<split>.parquet`` with
  an ``Image`` feature and the cue columns, and a README whose YAML lists the splits.
- ``export_student``: the student's weights, its cue recovery module and processor,
  the distill config, and a README showing how to load and generate.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from cuekit.distill.prompts import PromptStyle, record_chat_pair
from cuekit.errors import ConfigError, SampleError
from cuekit.evaluate.config import EXPORT_FORMATS
from cuekit.evaluate.inputs import CueItem, iter_cue_items

logger = logging.getLogger("cuekit.export")

REMOTE_CODE_MODULE = "modeling_cuekit_student"  # shipped model code of an exported student
IMAGE_PLACEHOLDER = "<image>"
# verl splits message strings on these; any other occurrence breaks its image count.
_VERL_PLACEHOLDERS = (IMAGE_PLACEHOLDER, "<video>")
# The data_source verl's default reward scores, per cuekit schema preset.
VERL_DATA_SOURCES = {"geometry3k": "hiyouga/geometry3k"}
VERL_FILE = "train.parquet"
_IMAGE_STRUCT = pl.Struct({"bytes": pl.Binary(), "path": pl.String()})
VERL_SCHEMA: dict[str, pl.DataType] = {
    "data_source": pl.String(),
    "prompt": pl.List(pl.Struct({"role": pl.String(), "content": pl.String()})),
    "teacher_prompt": pl.List(pl.Struct({"role": pl.String(), "content": pl.String()})),
    "images": pl.List(_IMAGE_STRUCT),
    "ability": pl.String(),
    "reward_model": pl.Struct({"style": pl.String(), "ground_truth": pl.String()}),
    "extra_info": pl.Struct(
        {
            "index": pl.Int64(),
            "id": pl.String(),
            "split": pl.String(),
            "question": pl.String(),
            "answer": pl.String(),
            "choices": pl.List(pl.String()),
            "hint": pl.String(),
            "cue_style": pl.String(),
            "leak": pl.Boolean(),
            "question_type": pl.String(),
            "answer_type": pl.String(),
            "precision": pl.Int64(),
            "unit": pl.String(),
        }
    ),
}


def verl_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Builder messages as verl stores them: each image item becomes ``<image>`` in place."""
    out = []
    for message in messages:
        content = message["content"]
        if not isinstance(content, str):
            content = "".join(
                IMAGE_PLACEHOLDER if part["type"] == "image" else part["text"] for part in content
            )
        out.append({"role": message["role"], "content": content})
    return out


def _check_placeholders(
    messages: list[dict[str, str]], images: int, sample_id: str, column: str
) -> None:
    """verl asserts one ``<image>`` per image and drops the row otherwise: refuse it here."""
    counts = {p: sum(m["content"].count(p) for m in messages) for p in _VERL_PLACEHOLDERS}
    if counts[IMAGE_PLACEHOLDER] != images or counts["<video>"]:
        raise SampleError(
            f"{column} holds {counts[IMAGE_PLACEHOLDER]} <image> and {counts['<video>']} "
            f"<video> placeholder(s) for {images} image(s); verl would drop the row. The "
            "question or hint contains a literal placeholder: re-run `cuekit extract`, which "
            "maps dataset placeholders out of questions",
            sample_id=sample_id,
            field=column,
            stage="export",
        )


def verl_row(item: CueItem, index: int, style: PromptStyle | None = None) -> dict[str, Any]:
    """One verl row: both prompts from distill's prompt builder, original image bytes."""
    sample, cue = item.record.sample, item.record.cue
    if item.marked_bytes is not None:
        raise SampleError(
            "cue style 'marks' gives the teacher a marked image, but verl's rows have one "
            "`images` column that feeds both prompt and teacher_prompt; export `hint` or "
            "`boxes` cues, or train on these with `cuekit distill`",
            sample_id=sample.id,
            field="cue.marked_image",
            stage="export",
        )
    pair = record_chat_pair(sample, item.image_bytes, cue=item.hint, style=style)
    prompt, teacher = verl_messages(pair.student_messages()), verl_messages(pair.teacher_messages())
    _check_placeholders(prompt, len(sample.images), sample.id, "prompt")
    _check_placeholders(teacher, len(sample.images), sample.id, "teacher_prompt")
    preset = str(sample.metadata.get("cuekit_preset"))
    return {
        "data_source": VERL_DATA_SOURCES.get(preset, sample.source),
        "prompt": prompt,
        "teacher_prompt": teacher,
        "images": [
            {"bytes": data, "path": ref.path}
            for data, ref in zip(item.image_bytes, sample.images, strict=True)
        ],
        "ability": "vqa",
        "reward_model": {"style": "rule", "ground_truth": sample.answer},
        "extra_info": {
            "index": index,
            "id": sample.id,
            "split": sample.split,
            "question": sample.question,
            "answer": sample.answer,
            "choices": sample.choices,
            "hint": item.hint,
            "cue_style": cue.cue_style,
            "leak": cue.leak,
            "question_type": sample.question_type,
            "answer_type": sample.answer_type,
            "precision": sample.precision,
            "unit": sample.unit,
        },
    }


def export_verl(items: Iterable[CueItem], output: Path, style: PromptStyle | None = None) -> Path:
    """``output/train.parquet``; refuses (naming the sample) any row verl would drop."""
    rows = [verl_row(item, index, style) for index, item in enumerate(items)]
    if not rows:
        raise ConfigError("nothing to export: the input holds no samples")
    scored = sum(row["data_source"] in VERL_DATA_SOURCES.values() for row in rows)
    if scored and "\\boxed" not in ((style or PromptStyle()).instruction or ""):
        # verl's geometry3k reward reads only a \boxed{} answer: unprompted, it scores ~0.
        logger.warning(
            "%d rows are scored by verl's hiyouga/geometry3k reward, which reads "
            "the answer from \\boxed{}, but the prompt does not ask for it; "
            "distill and export with e.g. --instruction 'Put the final answer in "
            "\\boxed{}.'",
            scored,
        )
    output.mkdir(parents=True, exist_ok=True)
    path = output / VERL_FILE
    pl.DataFrame(rows, schema=VERL_SCHEMA).write_parquet(path)
    return path


def _hf_record(item: CueItem) -> dict[str, Any]:
    sample, cue = item.record.sample, item.record.cue
    return {
        **sample.lead_columns(),
        "choices": sample.choices,
        "images": [{"bytes": data, "path": None} for data in item.image_bytes],
        "hint": item.hint,
        "cue_style": cue.cue_style,
        "leak": cue.leak,
        "n_phrases": len(cue.phrases),
        "n_detections": len(cue.detections),
        "cue": cue.model_dump_json(),
        "metadata": json.dumps(sample.metadata),
    }


def _hf_features() -> Any:
    import datasets

    text = datasets.Value("string")
    return datasets.Features(
        {
            "id": text,
            "source": text,
            "split": text,
            "question": text,
            "answer": text,
            "choices": datasets.List(text),
            "images": datasets.List(datasets.Image()),
            "hint": text,
            "cue_style": text,
            "leak": datasets.Value("bool"),
            "n_phrases": datasets.Value("int32"),
            "n_detections": datasets.Value("int32"),
            "cue": text,
            "metadata": text,
        }
    )


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
    configs = "\n".join(
        f"  - split: {split}\n    path: data/{split}.parquet" for split in sorted(by_split)
    )
    (output / "README.md").write_text(
        f"---\nconfigs:\n- config_name: default\n  data_files:\n{configs}\n---\n\n"
        "# cuekit cues\n\nExported by `cuekit export --format hf`. Load with\n"
        '`datasets.load_dataset("<this folder>")`. `hint` is the text the privileged teacher '
        "reads; `cue` holds the full cue record (phrases, detections) as JSON.\n"
    )
    return written


def run_export(
    input_path: str,
    output: Path,
    export_format: str,
    *,
    limit: int | None = None,
    style: PromptStyle | None = None,
) -> list[Path]:
    """Export an extract folder or shards as ``verl`` (prompts worded by ``style``, the
    distill run's) or ``hf``."""
    if export_format not in EXPORT_FORMATS:
        raise ConfigError(f"format must be one of {EXPORT_FORMATS}, got {export_format!r}")
    items = iter_cue_items(input_path, limit=limit)
    if export_format == "verl":
        return [export_verl(items, output, style)]
    return export_hf(items, output)


# ---------------------------------------------------------------- students

_STUDENT_README = """# {name}

A Qwen3-VL student distilled with cuekit (cue-privileged on-policy distillation).
{provenance}
Files: the base weights (`model*.safetensors`, `config.json`), the processor
(tokenizer, image processor, chat template){module_files}{config_files}.
{module_section}
## Load and generate with cuekit

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

Evaluate it with `cuekit eval --model {folder} --dataset DATA --output EVAL`; pass the
same `--system-prompt` / `--instruction` the run was trained with (`distill_config.yaml`).
"""

_MODULE_SECTION = """
## The cue recovery module, and what can run this model

The student is a stock Qwen3-VL plus a cue recovery module ({params:,} parameters in
{modules} blocks after decoder layers {layers}). At prefill, after each of those layers,
the hidden state of each sample's first `<|im_start|>` token (the sink) attends to that
sample's own visual tokens and is updated; decoding then reuses the cached keys and
values, so only prefill costs more. Without the module the model computes a different
function: its outputs are not this student's. So no loader gets it without the module:

- **cuekit** (`cuekit.distill.load_student(folder)`, `cuekit eval --model folder`): the
  full model.
- **transformers Auto classes**: `AutoModelForImageTextToText.from_pretrained(folder,
  trust_remote_code=True)` gives the full model (logits equal to load_student's)
  through the shipped `modeling_cuekit_student.py`, which imports cuekit (install it).
  Without `trust_remote_code=True` loading stops with transformers' "contains custom
  code" error (an interactive session is asked first; the default, N, stops):
  `config.json` names its own model type, `cuekit_qwen3_vl`.
- **The stock classes** `Qwen3VLForConditionalGeneration.from_pretrained(folder)` (as
  in Qwen's model cards) and `Qwen3VLModel.from_pretrained(folder)` stop with a
  `ValueError` whose message ends:

  > {refusal}

  The text is `config.json`'s `transformers_weights` entry, which transformers reads
  before any weight (no code from this folder runs); only the shipped model code and
  cuekit drop it.
- **vLLM, SGLang, TGI, llama.cpp/GGUF**: cannot run it. They do not know the
  `cuekit_qwen3_vl` type (so they refuse the folder instead of serving the base model),
  and none of them runs the module at prefill.
"""


def _mark_for_transformers(folder: Path) -> None:
    """Give the config its own model type, ship the model code that adds the module, and
    make the stock class refuse the folder, so plain transformers gives the full model or
    stops, naming load_student (cuekit.distill.remote_code says how)."""
    from cuekit.distill import remote_code

    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.update(
        model_type=remote_code.STUDENT_MODEL_TYPE,
        architectures=[remote_code.CuekitStudentForConditionalGeneration.__name__],
        auto_map={
            "AutoConfig": f"{REMOTE_CODE_MODULE}.{remote_code.CuekitStudentConfig.__name__}",
            "AutoModelForImageTextToText": f"{REMOTE_CODE_MODULE}."
            f"{remote_code.CuekitStudentForConditionalGeneration.__name__}",
        },
    )
    config[remote_code.WEIGHTS_KEY] = remote_code.STOCK_CLASS_REFUSAL
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    shutil.copy2(remote_code.__file__, folder / f"{REMOTE_CODE_MODULE}.py")


def _module_section(folder: Path) -> str:
    from safetensors.torch import load_file

    from cuekit.distill import remote_code
    from cuekit.distill.cue_module import CUE_CONFIG_FILE, CUE_WEIGHTS_FILE

    record = json.loads((folder / CUE_CONFIG_FILE).read_text(encoding="utf-8"))
    params = sum(t.numel() for t in load_file(str(folder / CUE_WEIGHTS_FILE)).values())
    layers = (
        ", ".join(str(i) for i in record["layers"])
        if record["layers"]
        else f"i with i % {record['interval']} == 0"
    )
    count = len(record["layers"]) if record["layers"] else "the"
    return _MODULE_SECTION.format(
        params=params, modules=count, layers=layers, refusal=remote_code.STOCK_CLASS_REFUSAL
    )


def find_student_folder(run: str | Path) -> Path:
    """``run/student`` for a distill run or a checkpoint, else ``run`` if it is a model folder."""
    from cuekit.distill.models import student_folder

    path = Path(run).expanduser()
    found = student_folder(path)
    if found is not None:
        return found
    raise ConfigError(
        f"{path} is not a distill run, checkpoint or student folder "
        "(no student/config.json or config.json)"
    )


def _provenance(run: Path) -> str:
    lines = []
    config_path = run / "config.yaml"
    if config_path.is_file():
        import yaml

        config = yaml.safe_load(config_path.read_text()) or {}
        lines.append(
            f"Base model `{config.get('student')}`, teacher `{config.get('teacher')}`, "
            f"privilege `{config.get('privilege')}`, loss `{config.get('loss')}`."
        )
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
    if has_module:
        _mark_for_transformers(output)
    (output / "README.md").write_text(
        _STUDENT_README.format(
            name=output.name,
            provenance=_provenance(run_dir),
            folder=output,
            module_files=(
                ", the cue recovery module (`cue_module.json`, "
                "`cue_module.safetensors`) and the model code that attaches it for "
                f"transformers (`{REMOTE_CODE_MODULE}.py`)"
            )
            if has_module
            else "",
            config_files=config_files,
            module_section=_module_section(output) if has_module else "",
        )
    )
    return output
