"""What the distill recipe's ``setup()`` builds, one function per part, in its order.

    check_launch        settings the process group rules out (before anything loads)
    build_student       the student (base weights, or a checkpoint's) + cue module, sharded
    build_teacher       the frozen teacher; the tokenizers must agree (checked once, here)
    select_checkpointing  how many decoder layers recompute their forward (memory plan)
    build_optimizer     AdamW with two groups (backbone lr, cue module lr) + lr schedule
    build_reader        this rank's share of the shards

Each returns what it built; the recipe keeps it. Ordering constraints are said where the
recipe calls them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import torch

from cuekit.devices import dtype_name
from cuekit.distill import distributed as dd
from cuekit.distill.config import DistillConfig
from cuekit.distill.cue_module import (
    CueModuleConfig,
    attach_cue_module,
    load_student,
    split_parameters,
)
from cuekit.distill.memory_plan import (
    ModelShape,
    RunShape,
    fewest_checkpoint_layers,
    startup_plan,
)
from cuekit.distill.models import enable_activation_checkpointing, load_model
from cuekit.distill.prompts import check_same_tokenizer
from cuekit.errors import ConfigError
from cuekit.pipelines.read.reader import ShardReader

logger = logging.getLogger("cuekit.distill")


def check_launch(config: DistillConfig, dist: dd.DistInfo) -> None:
    """Settings that do not run under torchrun (FSDP2) yet: refused before any load."""
    if dist.is_distributed and config.rollout_compile:
        raise ConfigError(
            "--rollout-compile is not supported under torchrun (FSDP2) yet: "
            "drop it, or run on one GPU"
        )
    if dist.is_distributed and dtype_name(config.dtype) == "fp16":
        raise ConfigError(
            "--dtype fp16 is not supported under torchrun (FSDP2) yet: use bf16, or run on one GPU"
        )


class Model(NamedTuple):
    """A loaded model, its processor, and what the step calls: the model itself in one
    process, a view that gathers FSDP shards under torchrun."""

    model: Any
    processor: Any
    view: Any


def build_student(
    config: DistillConfig,
    device: torch.device,
    dist: dd.DistInfo,
    resume_from: Path | None,
    *,
    checkpointing: bool,
) -> Model:
    """The student in training mode: the checkpoint's weights and cue module, or the base
    weights with a fresh (identity) cue module; every layer checkpointed when
    ``checkpointing`` (``select_checkpointing`` keeps the ones needed)."""
    if resume_from is not None:
        student, processor = load_student(resume_from / "student", device=str(device))
    else:
        student, processor = load_model(config.student, device=str(device), seed=config.seed)
        if config.cue_module:
            attach_cue_module(
                student,
                CueModuleConfig(interval=config.cue_interval, layers=config.cue_layers),
                im_start_token_id=processor.im_start_token_id,
            )
    if config.freeze_vision:
        for param in student.model.visual.parameters():
            param.requires_grad_(False)
    if checkpointing:
        enable_activation_checkpointing(student)
    if dist.is_distributed:  # every rank loaded the same full weights: now shard
        dd.shard_model(student)
    student.train()
    return Model(student, processor, dd.model_view(student))


def build_teacher(
    config: DistillConfig,
    device: torch.device,
    dist: dd.DistInfo,
    dtype: torch.dtype | None,
    student_processor: Any,
) -> Model:
    """The frozen teacher (``self``: the student's base checkpoint), never updated."""
    name = config.student if config.teacher == "self" else config.teacher
    teacher, processor = load_model(name, device=str(device), dtype=dtype, seed=config.seed)
    teacher.eval().requires_grad_(False)
    # Both score the same sampled ids, so they must mean the same tokens (checked once:
    # the full-vocabulary comparison is not cheap).
    check_same_tokenizer(student_processor.tokenizer, processor.tokenizer)
    if dist.is_distributed:  # sharded like the student, forward only
        dd.shard_model(teacher)
    return Model(teacher, processor, dd.model_view(teacher))


def device_gb(device: torch.device) -> float | None:
    """The GPU's memory in GB; None off a GPU (no verdict from the memory plan)."""
    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).total_memory / 1e9


def plan_shapes(
    config: DistillConfig, student: Any, teacher: Any
) -> tuple[ModelShape, ModelShape, RunShape]:
    """Student, teacher and step shapes for the memory plan (checkpointing: none yet)."""
    rows = config.batch_size * config.rollouts_per_prompt
    student_shape = ModelShape.from_config("student", student.config, config.cue_interval)
    teacher_shape = ModelShape.from_config("teacher", teacher.config)
    run = RunShape(
        prompt_len=config.max_prompt_len,
        response_len=config.max_new_tokens,
        batch_size=rows,
        micro_batch=-(-rows // config.grad_accum),
        rollout_batch=config.rollout_batch_size or rows,
        chunk_size=config.score_chunk_size,
        compiled_rollout=config.rollout_compile,
    )
    return student_shape, teacher_shape, run


def memory_plan_text(
    config: DistillConfig, student: Any, teacher: Any, checkpoint_layers: int, device: torch.device
) -> str:
    """The startup memory plan (estimated, one GPU, unsharded) as logged."""
    student_shape, teacher_shape, run = plan_shapes(config, student, teacher)
    run = replace(
        run, grad_checkpointing=checkpoint_layers > 0, checkpoint_layers=checkpoint_layers
    )
    return startup_plan(student_shape, teacher_shape, run, device_gb=device_gb(device))


def select_checkpointing(
    config: DistillConfig, student: Any, teacher: Any, device: torch.device, *, enabled: bool
) -> int:
    """How many decoder layers to checkpoint, and mark them: only as many as memory needs,
    since each one checkpointed runs its forward twice. The count comes from
    ``--checkpoint-layers`` or, on a GPU, from the memory plan; the first layers are the
    ones checkpointed."""
    if not enabled:
        return 0
    layers = student.model.language_model.layers
    count = config.checkpoint_layers
    gb = device_gb(device)
    if count is None and gb is not None:
        count = fewest_checkpoint_layers(*plan_shapes(config, student, teacher), device_gb=gb)
    chosen = len(layers) if count is None else min(count, len(layers))
    for index, layer in enumerate(layers):
        layer.gradient_checkpointing = index < chosen
    logger.info("activation checkpointing: %d of %d decoder layers", chosen, len(layers))
    return chosen


def lr_factor(config: DistillConfig) -> Callable[[int], float]:
    """The schedule's lr multiplier at a step: linear warmup, then constant or cosine."""

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.lr_schedule == "cosine":
            span = max(1, config.max_steps - config.warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - config.warmup_steps) / span)))
        return 1.0

    return factor


def build_optimizer(
    config: DistillConfig, student: Any, dist: dd.DistInfo
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the trainable parameters in two named groups, and its lr schedule.
    Call it after sharding: the optimizer holds (and steps) each rank's shards."""
    backbone, module = split_parameters(student)
    # The module group stays (empty) without a module, so lr logging keeps its shape.
    groups = [
        {"params": [p for p in backbone if p.requires_grad], "lr": config.lr, "name": "backbone"},
        {"params": module, "lr": config.module_lr, "name": "cue_module"},
    ]
    # One fused kernel for all parameters (4x the per-tensor path on the tiny CPU
    # benchmark); FSDP2's sharded DTensor parameters keep the default implementation.
    optimizer = torch.optim.AdamW(
        groups, weight_decay=config.weight_decay, fused=not dist.is_distributed
    )
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config))


def apply_optimizer_settings(
    config: DistillConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
) -> None:
    """This run's lr, module lr and weight decay on a restored optimizer, so what
    config.yaml says is what trains (a no-op unless --allow-config-change changed them)."""
    bases = {"backbone": config.lr, "cue_module": config.module_lr}
    factor = lr_factor(config)(scheduler.last_epoch)
    for group in optimizer.param_groups:
        group["initial_lr"] = bases[group["name"]]
        group["lr"] = bases[group["name"]] * factor
        group["weight_decay"] = config.weight_decay
    scheduler.base_lrs = [bases[g["name"]] for g in optimizer.param_groups]


def build_reader(config: DistillConfig, dist: dd.DistInfo) -> ShardReader:
    """This rank's reader; at least one full batch per rank, or a clear error."""
    # One process: None, so the reader keeps its own rule (RANK/WORLD_SIZE if set).
    reader = ShardReader(
        config.shards,
        num_workers=config.num_workers,
        seed=config.seed,
        shuffle_buffer=config.shuffle_buffer,
        rank=dist.rank if dist.is_distributed else None,
        world_size=dist.world_size if dist.is_distributed else None,
    )
    if reader.batches_per_rank(config.batch_size, drop_last=True) == 0:
        raise ConfigError(
            f"the shards hold {reader.samples_per_rank()} samples per "
            f"rank, fewer than one batch of {config.batch_size}"
        )
    return reader
