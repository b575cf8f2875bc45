"""What a distill run saves and brings back: the recipe's side of checkpointing.

The on-disk format is :mod:`cuekit.distill.checkpoint`; this module decides what goes in
(student, optimizer, schedule, reader position, RNG, the loop's counters) and puts it
back. Under torchrun every rank gathers its shards and rank 0 writes the one-process
layout, so any world size resumes from any checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cuekit.distill import distributed as dd
from cuekit.distill.build import apply_optimizer_settings
from cuekit.distill.checkpoint import (
    CHECKPOINTS_DIR,
    list_checkpoints,
    load_trainer_state,
    restore_rng,
    resume_checkpoint,
    save_checkpoint,
)
from cuekit.distill.config import DistillConfig
from cuekit.distill.cue_module import save_student
from cuekit.distill.metrics import truncate_metrics
from cuekit.errors import ConfigError
from cuekit.outputs import share_like_umask
from cuekit.pipelines.read.reader import ShardReader

logger = logging.getLogger("cuekit.distill")


@dataclass(frozen=True)
class RunParts:
    """The stateful parts a checkpoint holds (the recipe owns them)."""

    student: Any
    processor: Any
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    reader: ShardReader
    scaler: torch.amp.GradScaler | None


@dataclass(frozen=True)
class RunCounters:
    """The loop's counters a checkpoint carries on."""

    step: int
    skipped_long: int  # prompts over --max-prompt-len so far (the sum over ranks on disk)
    nonfinite_steps: int


def resume_point(config: DistillConfig, world_size: int) -> Path | None:
    """The checkpoint to continue from (see ``resume_checkpoint``); a folder that already
    holds checkpoints is never started over without ``--resume``."""
    if not config.resume and list_checkpoints(config.run_dir):
        raise ConfigError(
            f"{config.run_dir} already holds checkpoints; pass --resume to "
            "continue that run, or choose another --output"
        )
    return resume_checkpoint(config.run_dir, config, world_size)


def _scaler_state(scaler: torch.amp.GradScaler | None) -> dict[str, Any]:
    """fp16's loss scale, so a resumed run does not relearn it through skipped steps."""
    return {} if scaler is None else {"grad_scaler": scaler.state_dict()}


def save_run(
    config: DistillConfig, dist: dd.DistInfo, parts: RunParts, counters: RunCounters
) -> Path:
    """Checkpoint ``counters.step`` (every rank calls it under torchrun)."""
    if dist.is_distributed:
        return _save_gathered(config, dist, parts, counters)
    return save_checkpoint(
        config.run_dir,
        counters.step,
        save_student_fn=lambda folder: save_student(parts.student, parts.processor, folder),
        optimizer=parts.optimizer,
        scheduler=parts.scheduler,
        reader_state=parts.reader.state_dict(),
        config=config.to_dict(),
        keep=config.keep_checkpoints,
        extra={
            "skipped_long": counters.skipped_long,
            "nonfinite_steps": counters.nonfinite_steps,
            **_scaler_state(parts.scaler),
        },
    )


def _save_gathered(
    config: DistillConfig, dist: dd.DistInfo, parts: RunParts, counters: RunCounters
) -> Path:
    """Every rank gathers (FSDP shards, reader positions, RNG states); rank 0 writes the
    single-process layout, so any world size can resume from it."""
    student_state = dd.full_model_state(parts.student)
    optimizer_state = dd.full_optimizer_state(parts.optimizer, keep=dist.is_main)
    readers = dd.all_gather_json(parts.reader.state_dict())
    rng_states = dd.gather_rng_states()
    skipped = int(dd.all_reduce([counters.skipped_long])[0])
    path = config.run_dir / CHECKPOINTS_DIR / f"step-{counters.step:06d}"
    if dist.is_main:
        path = save_checkpoint(
            config.run_dir,
            counters.step,
            save_student_fn=lambda folder: dd.save_full_student(
                parts.student, parts.processor, student_state, folder
            ),
            optimizer=None,
            optimizer_state=optimizer_state,
            scheduler=parts.scheduler,
            reader_state=readers[0],
            config=config.to_dict(),
            keep=config.keep_checkpoints,
            extra_tensors=rng_states,
            extra={
                "skipped_long": skipped,
                "nonfinite_steps": counters.nonfinite_steps,
                "reader_ranks": readers,
                "world_size": dist.world_size,
            },
        )
    dd.barrier()  # no rank goes on (or resumes) before the checkpoint exists
    return path


def restore_run(
    folder: Path, config: DistillConfig, dist: dd.DistInfo, parts: RunParts
) -> RunCounters:
    """Load ``folder``'s optimizer, schedule, reader position, RNG and loss scale into
    ``parts`` (the student was loaded from it already); return its counters."""
    state = load_trainer_state(folder)
    # Checkpoints hold full tensors (any world size wrote them): slice to this rank.
    parts.optimizer.load_state_dict(
        dd.shard_optimizer_state(parts.optimizer, state.optimizer)
        if dist.is_distributed
        else state.optimizer
    )
    parts.scheduler.load_state_dict(state.scheduler)
    # The state brought back the checkpoint's lr: this run's settings win.
    apply_optimizer_settings(config, parts.optimizer, parts.scheduler)
    saved_readers = state.extra.get("reader_ranks") or (
        [state.reader] if state.reader is not None else []
    )
    reader_state = dd.reader_resume_state(saved_readers, parts.reader)
    if reader_state is not None:
        parts.reader.load_state_dict(reader_state)
    restore_rng(state)
    if dist.is_distributed:
        dd.restore_rank_rng(state.extra_tensors, dist, config.seed, state.step)
    if parts.scaler is not None and state.extra.get("grad_scaler"):
        parts.scaler.load_state_dict(state.extra["grad_scaler"])
    if dist.is_main:
        truncate_metrics(config.run_dir, state.step)
    logger.info("resumed from %s at step %d", folder, state.step)
    # A gathered checkpoint holds the sum over ranks: rank 0 carries it on.
    return RunCounters(
        step=state.step,
        skipped_long=int(state.extra.get("skipped_long", 0)) if dist.is_main else 0,
        nonfinite_steps=int(state.extra.get("nonfinite_steps", 0)),
    )


def save_final_student(config: DistillConfig, dist: dd.DistInfo, parts: RunParts) -> None:
    """RUN/student: the trained student, loadable by ``cuekit eval`` and HF."""
    folder = config.run_dir / "student"
    if not dist.is_distributed:
        save_student(parts.student, parts.processor, folder)
        share_like_umask(folder)
        return
    student_state = dd.full_model_state(parts.student)
    if dist.is_main:
        dd.save_full_student(parts.student, parts.processor, student_state, folder)
        share_like_umask(folder)
    dd.barrier()
