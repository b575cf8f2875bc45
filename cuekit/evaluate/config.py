"""The settings of `cuekit eval`, `audit`, `compare` and `export`, each documented once.

The command line, ``--config`` YAML and Python callers use these dataclasses (see
:mod:`cuekit.settings`); device and dtype are checked by :mod:`cuekit.devices`. This
module imports nothing heavy, so building the CLI stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cuekit.devices import DTYPES, check_device, dtype_name
from cuekit.distill.config import PRIVILEGES
from cuekit.distill.prompts import PromptStyle
from cuekit.errors import ConfigError
from cuekit.settings import setting

EXPORT_FORMATS = ("verl", "hf")
SUMMARY_FILE = "summary.json"  # what `cuekit eval` and `cuekit audit` write beside their rows
_FOLDER = click.Path(path_type=Path, file_okay=False)
_CUE_INPUT = "A `cuekit extract` folder, a `cuekit shard` folder, a brace pattern or URLs."


def _system_prompt() -> Any:
    """``--system-prompt``: the wording distill trained with (its config.yaml)."""
    return setting(None, "System turn of the prompts, as given to distill [default: none].")


def _instruction() -> Any:
    """``--instruction``: the answer-format line distill trained with (its config.yaml)."""
    return setting(
        None, "Answer-format line after the question, as given to distill [default: none]."
    )


def _device() -> Any:
    return setting("auto", "auto, cpu, cuda, cuda:1...")


def _dtype() -> Any:
    return setting("auto", "auto: bf16 on GPU, fp32 on CPU.", choices=DTYPES)


def _check_device_and_dtype(device: str, dtype: str) -> None:
    check_device(device)
    dtype_name(dtype)


@dataclass(frozen=True)
class EvalConfig:
    """Settings of one ``cuekit eval`` run.

    ``shards`` and ``dataset`` are the evaluation samples (exactly one of them).
    ``privilege`` measures how much a privileged teacher gains from its hint: ``cue`` adds
    the extract stage's cue (and the marked image for cue style marks), ``answer`` the
    answer hint. Decoding defaults are the paper's evaluation settings (docs/method.md §1).
    """

    model: str = setting(
        description="Distill run folder (uses RUN/student), student or HF "
        "folder, alias (qwen3-vl-2b...), hub id or tiny-random.",
        envvar="CUEKIT_MODEL",
        mark_required=False,
    )  # not with --compare
    output: Path = setting(
        description="Folder for predictions.parquet and summary.json "
        "(compare.json with --compare).",
        short="-o",
        click_type=_FOLDER,
        mark_required=False,
    )
    shards: str | None = setting(
        None, "Samples from a `cuekit shard` or `cuekit extract` folder, brace pattern or URLs."
    )
    dataset: str | None = setting(
        None, "Samples from anything `cuekit extract --dataset` reads (sample, HF id, file)."
    )
    split: str = setting("test", "Split of --dataset.")
    name: str | None = setting(None, "HF configuration name of --dataset.")
    max_new_tokens: int = setting(4096, "Longest answer, in tokens.")
    temperature: float = setting(
        0.7, "Sampling temperature (0: greedy). Defaults are the paper's eval settings."
    )
    top_p: float = setting(0.8, "Nucleus sampling.")
    top_k: int = setting(20, "Top-k sampling (0: off).")
    batch_size: int = setting(8, "Prompts generated together.")
    limit: int | None = setting(None, "Evaluate only the first N samples.")
    seed: int = setting(0, "Sampling seed.")
    device: str = _device()
    dtype: str = _dtype()
    choices_in_prompt: bool = setting(
        True, "Append a multiple-choice question's options when it does not list them.", switch=True
    )
    privilege: str = setting(
        "none",
        "Add the cue (needs --shards) or the answer hint to the "
        "prompt, as a privileged teacher sees it; none is the student's "
        "prompt.",
        choices=PRIVILEGES,
    )
    rollout_compile: bool = setting(
        False, "Compile the decode step (CUDA graphs on GPU); falls back to eager.", switch=True
    )
    system_prompt: str | None = _system_prompt()
    instruction: str | None = _instruction()

    @property
    def prompt_style(self) -> PromptStyle:
        return PromptStyle(
            system=self.system_prompt,
            instruction=self.instruction,
            choices_in_prompt=self.choices_in_prompt,
        )

    def __post_init__(self) -> None:
        if (self.shards is None) == (self.dataset is None):
            raise ConfigError("pass exactly one of --shards and --dataset")
        if self.privilege not in PRIVILEGES:
            raise ConfigError(
                f"privilege must be one of {', '.join(PRIVILEGES)}, got {self.privilege!r}"
            )
        if self.privilege == "cue" and self.shards is None:
            raise ConfigError(
                "--privilege cue needs the cues: pass --shards with a `cuekit "
                "extract` or `cuekit shard` folder instead of --dataset"
            )
        for name in ("max_new_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ConfigError(
                f"need temperature >= 0, 0 < top_p <= 1 and top_k >= 0; got "
                f"{self.temperature}, {self.top_p}, {self.top_k}"
            )
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1, got {self.limit}")
        _check_device_and_dtype(self.device, self.dtype)


@dataclass(frozen=True)
class BootstrapSettings:
    """The paired bootstrap of `cuekit compare` (and `eval --compare`)."""

    resamples: int = setting(10_000, "Bootstrap resamples of the comparison.")
    confidence: float = setting(0.95, "Confidence level of the comparison's interval.")


@dataclass(frozen=True)
class CompareSettings(BootstrapSettings):
    """Settings of `cuekit compare` (the two run folders are its arguments)."""

    output: Path | None = setting(None, "Folder for compare.json.", short="-o", click_type=_FOLDER)
    seed: int = setting(0, "Bootstrap seed.")


@dataclass(frozen=True)
class AuditConfig:
    """Settings of one ``cuekit audit`` run; without a teacher, the cue advantage is skipped."""

    input: str = setting(description=_CUE_INPUT, short="-i")
    output: Path = setting(
        description="Folder for audit.parquet, summary.json and the PNG plots.",
        short="-o",
        click_type=_FOLDER,
    )
    teacher: str | None = setting(
        None,
        "Teacher for the cue advantage (alias, hub id, folder, run or tiny-random).",
        envvar="CUEKIT_TEACHER",
    )
    responses: Path | None = setting(
        None,
        "Score these responses (parquet/jsonl with id, response; e.g. an eval "
        "predictions.parquet) instead of the reference answers.",
        click_type=click.Path(path_type=Path, dir_okay=False, exists=True),
    )
    batch_size: int = setting(8, "Samples per teacher forward.")
    limit: int | None = setting(None, "Audit only the first N samples.")
    device: str = _device()
    dtype: str = _dtype()
    chunk_size: int = 512  # tokens per chunk of log-prob computation; not a flag
    plots: bool = setting(True, "Write PNG plots.", switch=True)
    system_prompt: str | None = _system_prompt()
    instruction: str | None = _instruction()

    @property
    def style(self) -> PromptStyle:
        """The prompt wording distill trained with."""
        return PromptStyle(self.system_prompt, self.instruction)

    def __post_init__(self) -> None:
        if self.responses is not None and self.teacher is None:
            raise ConfigError("--responses needs --teacher")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        _check_device_and_dtype(self.device, self.dtype)


@dataclass(frozen=True)
class ExportSettings:
    """Settings of `cuekit export`."""

    input: str = setting(description=_CUE_INPUT, short="-i")
    output: Path = setting(description="Output folder.", short="-o", click_type=_FOLDER)
    export_format: str = setting(
        description="verl: train.parquet with prompt/teacher_prompt/"
        "images/reward_model rows; hf: a folder datasets.load_dataset "
        "reads (Image feature + cue columns).",
        flag="format",
        choices=EXPORT_FORMATS,
    )
    limit: int | None = setting(None, "Export only the first N samples.")
    system_prompt: str | None = _system_prompt()
    instruction: str | None = _instruction()

    @property
    def style(self) -> PromptStyle:
        return PromptStyle(self.system_prompt, self.instruction)
