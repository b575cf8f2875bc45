"""The one validated settings object of a distill run.

Every field is documented once, here (see :mod:`cuekit.settings`); the CLI's `--help`
and the YAML config file use the same names (dashes or underscores). Precedence:
built-in defaults, then the YAML file (``--config``), then flags given on the command
line. The resolved config is saved as ``RUN/config.yaml``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import click
import yaml

from cuekit.devices import DTYPE_CHOICES, check_device, check_training_dtype
from cuekit.distill.prompts import PromptStyle
from cuekit.errors import ConfigError
from cuekit.settings import (
    INT_LIST,
    expected_kind,
    load_file,
    normalise_keys,
    setting,
    typed_values,
)

PRIVILEGES = ("cue", "answer", "none")
SCHEDULES = ("constant", "cosine")
ROLLOUT_ENGINES = ("cuekit", "cuekit-continuous", "generate", "generate-static")
MAX_LR = 1.0
# "auto": bf16 autocast on GPU, fp32 on CPU (cuekit.devices.training_precision).
MAX_SEED = 2**32 - 1  # numpy's limit; seeds are offset by rank and epoch, so stay far from 2**63


# The lower bound of each count and rate setting.
_AT_LEAST: dict[str, int] = {
    "batch_size": 1,
    "rollouts_per_prompt": 1,
    "max_new_tokens": 1,
    "max_steps": 1,
    "grad_accum": 1,
    "max_prompt_len": 1,
    "cue_interval": 1,
    "topk": 1,
    "score_chunk_size": 1,
    "eval_batches": 1,
    "log_every": 1,
    "keep_checkpoints": 1,
    "max_nonfinite_steps": 1,
    "save_every": 0,
    "eval_every": 0,
    "warmup_steps": 0,
    "num_workers": 0,
    "top_k": 0,
    "max_grad_norm": 0,
    "rollout_batch_size": 0,
    "weight_decay": 0,
    "shuffle_buffer": 0,
}


@dataclass(frozen=True)
class DistillConfig:
    # -- models
    student: str = setting(
        "qwen3-vl-2b",
        "Student: qwen3-vl-2b/-4b/-8b/-32b, an HF id, a local folder, or tiny-random.",
    )
    teacher: str = setting(
        "self", "'self' (frozen base of the student, OPSD) or a stronger model (OPD)."
    )
    privilege: str = setting(
        "cue",
        "What the teacher sees extra: cue (ViCuR), answer (OPSD baseline), none.",
        click_type=click.Choice(PRIVILEGES),
    )
    dtype: str = setting(
        "auto",
        "Compute precision: auto (bf16 autocast on GPU, fp32 on CPU), "
        "bf16, fp16 (CUDA only, with loss scaling) or fp32; the student "
        "keeps fp32 master weights.",
        click_type=click.Choice(DTYPE_CHOICES),
    )
    device: str = setting("auto", "Torch device: auto, cpu, cuda, cuda:1...")
    seed: int = setting(0, "Seed of the data order, sampling and tiny-random weights.")
    # -- cue recovery module
    cue_module: bool = setting(
        True, "Give the student the cue recovery module (off: the plain student).", switch=True
    )
    cue_interval: int = setting(
        5, "Cue recovery module after decoder layers i % N == 0 (never the last)."
    )
    cue_layers: tuple[int, ...] | None = setting(
        None,
        "Explicit comma-separated decoder layers for the module (overrides interval).",
        click_type=INT_LIST,
    )
    # -- data
    shards: str = setting("", "Training shards: a `cuekit shard` folder, brace pattern or URLs.")
    output: str = setting("", "Run folder: config.yaml, metrics.jsonl, checkpoints/, student/.")
    eval_shards: str | None = setting(None, "Held-out shards for --eval-every.")
    num_workers: int = setting(0, "DataLoader workers decoding shards.")
    shuffle_buffer: int = setting(256, "Samples in the shuffle buffer.")
    max_prompt_len: int = setting(
        2048, "Skip (with a warning) prompts longer than this; never truncate."
    )
    # -- prompt (the one wording shared with eval and the exports: cuekit.distill.prompts)
    system_prompt: str | None = setting(
        None,
        "System turn of student and teacher prompts "
        "[default: none]; pass the same to eval and export.",
    )
    instruction: str | None = setting(
        None,
        "Answer-format line after the question, e.g. 'Put the "
        "final answer in \\boxed{}.' [default: none]; pass "
        "the same to eval and export.",
    )
    # -- rollouts
    batch_size: int = setting(8, "Prompts per optimizer step.")
    rollouts_per_prompt: int = setting(1, "Sampled responses per prompt.")
    rollout_batch_size: int = setting(
        0, "Rows generated at once (0: the whole step); bounds the KV cache."
    )
    rollout_engine: str = setting(
        "cuekit",
        "Rollout sampler: cuekit (static-cache decode loop, "
        "same tokens as generate), cuekit-continuous "
        "(--rollout-batch-size slots refilled as rows stop), "
        "generate (HF, dynamic cache) or generate-static.",
        click_type=click.Choice(ROLLOUT_ENGINES),
    )
    rollout_compile: bool = setting(
        False,
        "cuekit engine: compile the decode step (CUDA graphs "
        "on GPU; keeps a full-length KV cache between "
        "rollouts).",
        switch=True,
    )
    max_new_tokens: int = setting(256, "Longest rollout, in tokens.")
    temperature: float = setting(
        1.0, "Rollout sampling temperature; both models are scored at it too."
    )
    top_p: float = setting(1.0, "Rollout nucleus sampling.")
    top_k: int = setting(0, "Rollout top-k sampling (0: off).")
    # -- loss
    loss: str = setting("k1", "k1 (policy gradient, paper default), k3, forward-kl-topk or jsd.")
    topk: int = setting(32, "Teacher top-k tokens for forward-kl-topk and jsd.")
    topk_renormalize: bool = setting(
        True,
        "forward-kl-topk: renormalise the teacher over its "
        "top-k (exact KL, >= 0) or use its raw top-k "
        "probabilities as the released code does.",
        switch=True,
    )
    beta: float = setting(0.5, "JSD interpolation (0: forward KL, 1: reverse KL).")
    adv_clip: float = setting(10.0, "k1: clamp of the per-token advantage lT - lS.")
    lp_floor: float = setting(-10.0, "Clamp log-probs from below at this value.")
    # -- optimisation
    max_steps: int = setting(100, "Optimizer steps to run.")
    lr: float = setting(1e-6, "Backbone learning rate.")
    module_lr: float = setting(1e-4, "Cue recovery module learning rate.")
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    warmup_steps: int = setting(0, "Linear warmup steps.")
    lr_schedule: str = setting(
        "constant", "After warmup: constant or cosine.", click_type=click.Choice(SCHEDULES)
    )
    max_grad_norm: float = setting(1.0, "Gradient clipping norm (0: off).")
    max_nonfinite_steps: int = setting(
        3,
        "Stop after this many steps in a row with an inf/NaN "
        "loss or gradient (each such step is skipped and "
        "counted).",
    )
    grad_accum: int = setting(1, "Micro-batches per step for the student update (memory vs speed).")
    freeze_vision: bool = setting(False, "Do not train the vision tower.", switch=True)
    grad_checkpointing: bool | None = setting(
        None, "Activation checkpointing [default: on for GPU, off for CPU].", switch=True
    )
    checkpoint_layers: int | None = setting(
        None,
        "Decoder layers to checkpoint when "
        "checkpointing is on [default: on GPU the "
        "fewest the memory plan needs on this device, "
        "else all].",
        click_type=click.IntRange(min=0),
    )
    score_chunk_size: int = setting(
        512, "Tokens per chunk when computing log-probs (caps logits memory)."
    )
    # -- bookkeeping
    save_every: int = setting(0, "Checkpoint every N steps (0: only at the end).")
    keep_checkpoints: int = setting(2, "Checkpoints to keep.")
    eval_every: int = setting(0, "Evaluate on --eval-shards every N steps (0: off).")
    eval_batches: int = setting(1, "Eval batches (fixed) per evaluation.")
    log_every: int = setting(1, "Write metrics every N steps.")
    tensorboard: bool = setting(
        True, "Also write TensorBoard logs to RUN/tensorboard.", switch=True
    )
    wandb: bool = setting(False, "Also log to Weights & Biases (needs wandb).", switch=True)
    resume: bool = setting(
        False, "Continue from the run's latest intact checkpoint, if it has one.", switch=True
    )
    allow_config_change: bool = setting(
        False,
        "With --resume: accept training settings (lr, "
        "loss, batch size...) that differ from the "
        "checkpoint's, and train with them.",
        switch=True,
    )

    @property
    def prompt_style(self) -> PromptStyle:
        """The wording of every prompt of this run (eval and exports take the same)."""
        return PromptStyle(system=self.system_prompt, instruction=self.instruction)

    def __post_init__(self) -> None:
        _check_types(self)
        if self.privilege not in PRIVILEGES:
            raise ConfigError(
                f"privilege must be one of {', '.join(PRIVILEGES)}, got {self.privilege!r}"
            )
        if self.rollout_engine not in ROLLOUT_ENGINES:
            raise ConfigError(
                f"rollout_engine must be one of {', '.join(ROLLOUT_ENGINES)}, "
                f"got {self.rollout_engine!r}"
            )
        if self.rollout_compile and self.rollout_engine != "cuekit":
            raise ConfigError(
                f"rollout_compile needs rollout_engine cuekit, not {self.rollout_engine!r}"
            )
        check_device(self.device)
        # An unknown name, or fp16 off CUDA, would silently train in fp32.
        check_training_dtype(self.dtype, self.device)
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {self.seed}")
        if self.lr_schedule not in SCHEDULES:
            raise ConfigError(
                f"lr_schedule must be one of {', '.join(SCHEDULES)}, got {self.lr_schedule!r}"
            )
        from cuekit.distill.losses import loss_names

        if self.loss not in loss_names():
            raise ConfigError(f"loss must be one of {', '.join(loss_names())}, got {self.loss!r}")
        for name, least in _AT_LEAST.items():  # ints and floats
            value = getattr(self, name)
            if value < least:
                raise ConfigError(f"{name} must be >= {least}, got {value}")
        if self.checkpoint_layers is not None and self.checkpoint_layers < 0:
            raise ConfigError(f"checkpoint_layers must be >= 0, got {self.checkpoint_layers}")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ConfigError(
                f"need temperature > 0 and 0 < top_p <= 1, got temperature="
                f"{self.temperature}, top_p={self.top_p}"
            )
        if not 0 <= self.beta <= 1:
            raise ConfigError(f"beta must be in [0, 1], got {self.beta}")
        if not (0 <= self.lr <= MAX_LR and 0 <= self.module_lr <= MAX_LR):
            raise ConfigError(
                f"learning rates must be in [0, {MAX_LR}] (AdamW diverges "
                f"above), got lr={self.lr}, module_lr={self.module_lr}"
            )
        if self.grad_accum > self.batch_size * self.rollouts_per_prompt:
            raise ConfigError(
                f"grad_accum ({self.grad_accum}) cannot exceed the rollouts per "
                f"step ({self.batch_size * self.rollouts_per_prompt})"
            )
        if not self.shards:
            raise ConfigError("shards is required (--shards DIR or a brace pattern)")
        if not self.output:
            raise ConfigError("output is required (--output RUN)")
        if self.eval_every and not self.eval_shards:
            raise ConfigError("eval_every needs eval_shards")

    @property
    def run_dir(self) -> Path:
        return Path(self.output)

    def loss_settings(self) -> dict[str, Any]:
        """The settings the chosen loss accepts."""
        settings: dict[str, Any] = {"lp_floor": self.lp_floor}
        if self.loss == "k1":
            settings["adv_clip"] = self.adv_clip
        elif self.loss == "jsd":
            settings["beta"] = self.beta
        elif self.loss == "forward-kl-topk":
            settings["renormalize"] = self.topk_renormalize
        return settings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cue_layers"] = list(self.cue_layers) if self.cue_layers is not None else None
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# Settings a resumed run may change freely: where and how fast it runs, how often it
# logs, saves and evaluates. Everything else changes what training computes.
RESUME_NEUTRAL = frozenset(
    {
        "output",
        "resume",
        "allow_config_change",
        "max_steps",
        "device",
        "num_workers",
        "rollout_batch_size",
        "rollout_compile",
        "grad_checkpointing",
        "checkpoint_layers",
        "score_chunk_size",
        "grad_accum",
        "save_every",
        "keep_checkpoints",
        "eval_shards",
        "eval_every",
        "eval_batches",
        "log_every",
        "tensorboard",
        "wandb",
        "max_nonfinite_steps",
    }
)


def changed_settings(
    saved: dict[str, Any], config: DistillConfig, *, saved_world_size: int = 1, world_size: int = 1
) -> dict[str, tuple[Any, Any]]:
    """``{name: (saved, now)}`` for the training settings that differ from a checkpoint's.

    ``batch_size`` counts per rank, so the global batch (times the world size) is what
    must match; ``max_steps`` only counts under a cosine schedule, where it shapes every
    step's lr; settings the checkpoint predates are not compared."""
    now = config.to_dict()
    neutral = RESUME_NEUTRAL - ({"max_steps"} if config.lr_schedule == "cosine" else set())
    changed = {
        name: (saved[name], value)
        for name, value in now.items()
        if name not in neutral | {"batch_size"} and name in saved and saved[name] != value
    }
    if (
        "batch_size" in saved
        and saved["batch_size"] * saved_world_size != config.batch_size * world_size
    ):
        changed["global batch_size"] = (
            saved["batch_size"] * saved_world_size,
            config.batch_size * world_size,
        )
    return changed


# ---------------------------------------------------------------- the typed schema
# YAML and flags pass through the one schema of cuekit.settings, so a value of the wrong
# kind is refused with its field and the expected type, never coerced or rounded.


def _check_types(config: DistillConfig) -> None:
    """A config built in Python holds values of the declared kinds (no conversion)."""
    given = {f.name: getattr(config, f.name) for f in fields(config)}
    for name, value in typed_values([DistillConfig], given, "settings").items():
        original = given[name]
        if isinstance(original, list):  # a list of layers is as good as a tuple
            original = tuple(original)
        if (
            value != original
            or type(value) is not type(original)
            and not (isinstance(value, float) and type(original) is int)
        ):
            raise ConfigError(
                f"settings: {name} must be {expected_kind([DistillConfig], name)}, "
                f"got {original!r} ({type(original).__name__})"
            )


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Settings from a YAML file (safe loader: plain data only)."""
    return load_file([DistillConfig], path)


def resolve_config(
    file_settings: dict[str, Any] | None = None, cli_settings: dict[str, Any] | None = None
) -> DistillConfig:
    """Defaults < YAML file < command-line flags. ``cli_settings`` holds only flags the
    user actually gave, so a default never overrides the file."""
    given = normalise_keys([DistillConfig], cli_settings or {}, "command line")
    flags = typed_values([DistillConfig], given, "command line")
    merged = {**(file_settings or {}), **flags}
    try:
        return DistillConfig(**merged)
    except TypeError as exc:
        raise ConfigError(f"bad settings: {exc}") from None
