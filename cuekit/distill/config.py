"""The one validated settings object of a distill run.

Every field is documented once, here; the CLI's `--help` and the YAML config file
use the same names (dashes or underscores). Precedence: built-in defaults, then the
YAML file (``--config``), then flags given on the command line. The resolved config
is saved as ``RUN/config.yaml``.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, get_args, get_type_hints

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    FiniteFloat,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
)

from cuekit.devices import DTYPE_ALIASES, check_device, check_training_dtype
from cuekit.devices import DTYPES as DTYPE_NAMES
from cuekit.distill.prompts import PromptStyle
from cuekit.errors import ConfigError

PRIVILEGES = ("cue", "answer", "none")
SCHEDULES = ("constant", "cosine")
ROLLOUT_ENGINES = ("cuekit", "cuekit-continuous", "generate", "generate-static")
MAX_LR = 1.0
# "auto": bf16 autocast on GPU, fp32 on CPU (cuekit.devices.training_precision).
DTYPES = (*DTYPE_NAMES, *DTYPE_ALIASES)
MAX_SEED = 2**32 - 1  # numpy's limit; seeds are offset by rank and epoch, so stay far from 2**63


@dataclass(frozen=True)
class DistillConfig:
    # -- models
    student: str = "qwen3-vl-2b"  # alias, HF id, local folder or tiny-random
    teacher: str = "self"  # "self": the frozen base of the student (OPSD); else alias/id/path
    privilege: str = "cue"  # what the teacher sees extra: cue | answer | none
    dtype: str = "auto"  # auto: bf16 on GPU, fp32 on CPU
    device: str = "auto"  # auto: cuda when available
    seed: int = 0
    # -- cue recovery module
    cue_module: bool = True  # False: plain OPD/OPSD, the student without the module
    cue_interval: int = 5  # module after decoder layers i % interval == 0 (never the last)
    cue_layers: tuple[int, ...] | None = None  # explicit layer list instead of the interval
    # -- data
    shards: str = ""  # shard folder, brace pattern or URLs from `cuekit shard`
    output: str = ""  # run folder
    eval_shards: str | None = None
    num_workers: int = 0  # DataLoader workers decoding shards
    shuffle_buffer: int = 256
    max_prompt_len: int = 2048  # longer prompts are skipped with a warning, never truncated
    # -- prompt (the one wording shared with eval and the exports: cuekit.distill.prompts)
    system_prompt: str | None = None  # system turn of student and teacher (None: none)
    instruction: str | None = None  # answer-format line after the question (None: none)
    # -- rollouts
    batch_size: int = 8  # prompts per optimizer step
    rollouts_per_prompt: int = 1
    rollout_batch_size: int = 0  # rows generated at once (0: the whole step); caps KV cache
    # cuekit (static-cache loop) | cuekit-continuous (refilled slots) | generate | generate-static
    rollout_engine: str = "cuekit"
    rollout_compile: bool = False  # cuekit engine: compile the decode step (CUDA graphs)
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    # -- loss
    loss: str = "k1"  # k1 | k3 | forward-kl-topk | jsd
    topk: int = 32  # teacher top-k for forward-kl-topk and jsd
    # forward-kl-topk: renormalise the teacher over its top-k (an exact KL, >= 0), or use
    # its raw top-k probabilities as the released code does (a truncated sum, can be < 0)
    topk_renormalize: bool = True
    beta: float = 0.5  # jsd interpolation
    adv_clip: float = 10.0  # k1: clamp of the per-token advantage
    lp_floor: float = -10.0  # log-probs are clamped from below at this value
    # -- optimisation
    max_steps: int = 100
    lr: float = 1e-6  # backbone learning rate (paper setting)
    module_lr: float = 1e-4  # cue recovery module learning rate
    weight_decay: float = 0.0
    warmup_steps: int = 0
    lr_schedule: str = "constant"  # constant | cosine (after warmup)
    max_grad_norm: float = 1.0  # 0: no clipping
    # A step whose loss or gradient is inf/NaN is skipped (no update) and counted; this
    # many in a row stop the run.
    max_nonfinite_steps: int = 3
    grad_accum: int = 1  # micro-batches per step for the student update
    freeze_vision: bool = False
    grad_checkpointing: bool | None = None  # None: on for GPU, off for CPU
    # Decoder layers that recompute in backward when checkpointing is on. None: on GPU the
    # fewest the memory plan needs on this device (each costs a second forward), else all.
    checkpoint_layers: int | None = None
    score_chunk_size: int = 512  # tokens per chunk of log-prob computation
    # -- bookkeeping
    save_every: int = 0  # 0: only at the end
    keep_checkpoints: int = 2
    eval_every: int = 0
    eval_batches: int = 1
    log_every: int = 1
    tensorboard: bool = True
    wandb: bool = False
    resume: bool = False
    # --resume refuses settings that change what training computes (lr, loss, batch...)
    # unless this is set; then the new values take effect and config.yaml records them.
    allow_config_change: bool = False

    @property
    def prompt_style(self) -> PromptStyle:
        """The wording of every prompt of this run (eval and exports take the same)."""
        return PromptStyle(system=self.system_prompt, instruction=self.instruction)

    def __post_init__(self) -> None:
        _check_types(self)
        if self.privilege not in PRIVILEGES:
            raise ConfigError(f"privilege must be one of {', '.join(PRIVILEGES)}, "
                              f"got {self.privilege!r}")
        if self.rollout_engine not in ROLLOUT_ENGINES:
            raise ConfigError(f"rollout_engine must be one of {', '.join(ROLLOUT_ENGINES)}, "
                              f"got {self.rollout_engine!r}")
        if self.rollout_compile and self.rollout_engine != "cuekit":
            raise ConfigError("rollout_compile needs rollout_engine cuekit, "
                              f"not {self.rollout_engine!r}")
        check_device(self.device)
        # An unknown name, or fp16 off CUDA, would silently train in fp32.
        check_training_dtype(self.dtype, self.device)
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {self.seed}")
        if self.lr_schedule not in SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(SCHEDULES)}, "
                              f"got {self.lr_schedule!r}")
        from cuekit.distill.losses import loss_names

        if self.loss not in loss_names():
            raise ConfigError(f"loss must be one of {', '.join(loss_names())}, got {self.loss!r}")
        positive = {"batch_size": self.batch_size, "rollouts_per_prompt": self.rollouts_per_prompt,
                    "max_new_tokens": self.max_new_tokens, "max_steps": self.max_steps,
                    "grad_accum": self.grad_accum, "max_prompt_len": self.max_prompt_len,
                    "cue_interval": self.cue_interval, "topk": self.topk,
                    "score_chunk_size": self.score_chunk_size, "eval_batches": self.eval_batches,
                    "log_every": self.log_every, "keep_checkpoints": self.keep_checkpoints,
                    "max_nonfinite_steps": self.max_nonfinite_steps}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        non_negative = {"save_every": self.save_every, "eval_every": self.eval_every,
                        "warmup_steps": self.warmup_steps, "num_workers": self.num_workers,
                        "top_k": self.top_k, "max_grad_norm": self.max_grad_norm,
                        "rollout_batch_size": self.rollout_batch_size,
                        "weight_decay": self.weight_decay, "shuffle_buffer": self.shuffle_buffer}
        for name, number in non_negative.items():  # ints and floats
            if number < 0:
                raise ConfigError(f"{name} must be >= 0, got {number}")
        if self.checkpoint_layers is not None and self.checkpoint_layers < 0:
            raise ConfigError(f"checkpoint_layers must be >= 0, got {self.checkpoint_layers}")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ConfigError(f"need temperature > 0 and 0 < top_p <= 1, got temperature="
                              f"{self.temperature}, top_p={self.top_p}")
        if not 0 <= self.beta <= 1:
            raise ConfigError(f"beta must be in [0, 1], got {self.beta}")
        if not (0 <= self.lr <= MAX_LR and 0 <= self.module_lr <= MAX_LR):
            raise ConfigError(f"learning rates must be in [0, {MAX_LR}] (AdamW diverges "
                              f"above), got lr={self.lr}, module_lr={self.module_lr}")
        if self.grad_accum > self.batch_size * self.rollouts_per_prompt:
            raise ConfigError(f"grad_accum ({self.grad_accum}) cannot exceed the rollouts per "
                              f"step ({self.batch_size * self.rollouts_per_prompt})")
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
RESUME_NEUTRAL = frozenset({
    "output", "resume", "allow_config_change", "max_steps", "device", "num_workers",
    "rollout_batch_size", "rollout_compile", "grad_checkpointing", "checkpoint_layers",
    "score_chunk_size", "grad_accum", "save_every", "keep_checkpoints", "eval_shards",
    "eval_every", "eval_batches", "log_every", "tensorboard", "wandb", "max_nonfinite_steps"})


def changed_settings(saved: dict[str, Any], config: DistillConfig, *, saved_world_size: int = 1,
                     world_size: int = 1) -> dict[str, tuple[Any, Any]]:
    """``{name: (saved, now)}`` for the training settings that differ from a checkpoint's.

    ``batch_size`` counts per rank, so the global batch (times the world size) is what
    must match; ``max_steps`` only counts under a cosine schedule, where it shapes every
    step's lr; settings the checkpoint predates are not compared."""
    now = config.to_dict()
    neutral = RESUME_NEUTRAL - ({"max_steps"} if config.lr_schedule == "cosine" else set())
    changed = {name: (saved[name], value) for name, value in now.items()
               if name not in neutral | {"batch_size"} and name in saved
               and saved[name] != value}
    if "batch_size" in saved and saved["batch_size"] * saved_world_size != \
            config.batch_size * world_size:
        changed["global batch_size"] = (saved["batch_size"] * saved_world_size,
                                        config.batch_size * world_size)
    return changed


def field_names() -> list[str]:
    return [f.name for f in fields(DistillConfig)]


# ---------------------------------------------------------------- the typed schema
# YAML and flags pass through one pydantic model built from the dataclass, so a value of
# the wrong kind is refused with its field and the expected type, never coerced by
# truthiness (YAML's "no" is a string) or rounded (2.5 steps). Numbers written the way
# YAML users write them (PyYAML reads 1e-6 as a string) are accepted.


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


_FLOAT = Annotated[FiniteFloat, BeforeValidator(_not_bool)]
_KINDS: dict[Any, tuple[Any, str]] = {
    int: (StrictInt, "an integer"),
    float: (_FLOAT, "a finite number"),
    bool: (StrictBool, "true or false"),
    str: (StrictStr, "a string"),
    tuple[int, ...]: (tuple[StrictInt, ...], "a list of integers"),
}


def _kind(annotation: Any) -> tuple[Any, str]:
    """(pydantic type, words for the error message) of a field annotation."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and len(args) < len(get_args(annotation)):  # X | None
        inner, words = _KINDS[args[0]]
        return inner | None, f"{words} or null"
    return _KINDS[annotation]


@functools.cache
def _schema() -> tuple[type[BaseModel], dict[str, str]]:
    hints = get_type_hints(DistillConfig)
    kinds = {f.name: _kind(hints[f.name]) for f in fields(DistillConfig)}
    # pydantic's overloads cannot type field definitions passed as **dict.
    model = create_model(  # type: ignore[call-overload]
        "DistillSettings", __config__=ConfigDict(extra="forbid"),
        **{name: (kind, None) for name, (kind, _) in kinds.items()})
    return model, {name: words for name, (_, words) in kinds.items()}


def typed_settings(data: dict[str, Any], origin: str) -> dict[str, Any]:
    """``data`` (known setting names) checked and converted to each field's type."""
    model, words = _schema()
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0])
            problems.append(f"{name} must be {words[name]}, got {error['input']!r}")
        raise ConfigError(f"{origin}: {'; '.join(problems)}") from None
    return {name: getattr(parsed, name) for name in data}


def _check_types(config: DistillConfig) -> None:
    """A config built in Python holds values of the declared kinds (no conversion)."""
    given = {f.name: getattr(config, f.name) for f in fields(config)}
    _, words = _schema()
    for name, value in typed_settings(given, "settings").items():
        original = given[name]
        if isinstance(original, list):  # a list of layers is as good as a tuple
            original = tuple(original)
        if value != original or type(value) is not type(original) and not (
                isinstance(value, float) and type(original) is int):
            raise ConfigError(f"settings: {name} must be {words[name]}, got {original!r} "
                              f"({type(original).__name__})")


def _normalise_keys(data: dict[str, Any], origin: str) -> dict[str, Any]:
    known = set(field_names())
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
        out[name] = value
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Settings from a YAML file (safe loader: plain data only)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return typed_settings(_normalise_keys(data, str(path)), f"config file {path}")


def resolve_config(file_settings: dict[str, Any] | None = None,
                   cli_settings: dict[str, Any] | None = None) -> DistillConfig:
    """Defaults < YAML file < command-line flags. ``cli_settings`` holds only flags the
    user actually gave, so a default never overrides the file."""
    flags = typed_settings(_normalise_keys(cli_settings or {}, "command line"), "command line")
    merged = {**(file_settings or {}), **flags}
    try:
        return DistillConfig(**merged)
    except TypeError as exc:
        raise ConfigError(f"bad settings: {exc}") from None
