"""The distill recipe: cue-privileged on-policy distillation of a Qwen3-VL student.

One step, read top to bottom in :meth:`DistillRecipe.train_step`::

    B prompts -> x R rollouts (student samples, cue module runs at prefill)
      -> teacher log-probs of the sampled tokens (prompt + hint, inference mode)
      -> student log-probs with gradients (same response ids, chunked lm-head)
      -> loss (k1 / k3 / forward-kl-topk / jsd) -> backward (grad_accum micro-batches)
      -> clip -> AdamW step (two groups: backbone lr, cue module lr) -> log -> checkpoint

How it departs from the released ViCuR code (docs/method.md §1): the sink is found per
sample (padding and batch > 1 are safe), the module starts as an exact identity, it
has its own learning rate, and no module sits after the last layer.

Launch: ``cuekit distill --student qwen3-vl-2b --shards 'DIR/shard-{000000..000012}.tar'
--output RUN``; see ``cuekit distill -h``. Under ``torchrun --nproc-per-node N -m cuekit
distill ...`` the same recipe runs data-parallel with FSDP2 (cuekit.distill.distributed,
docs/distributed.md): each rank reads its own batches, the loss is normalised by the
global number of response tokens, so a step equals one process on the global batch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from cuekit.devices import dtype_name, training_precision
from cuekit.distill import distributed as dd
from cuekit.distill.checkpoint import (
    CHECKPOINTS_DIR,
    list_checkpoints,
    load_trainer_state,
    remove_partial_checkpoints,
    restore_rng,
    resume_checkpoint,
    save_checkpoint,
)
from cuekit.distill.config import DistillConfig
from cuekit.distill.cue_module import (
    CueModuleConfig,
    attach_cue_module,
    load_student,
    save_student,
    split_parameters,
)
from cuekit.distill.evaluation import Evaluator
from cuekit.distill.guards import NonFiniteGuard, UsableBatchGuard
from cuekit.distill.losses import get_loss
from cuekit.distill.memory_plan import (
    ModelShape,
    RunShape,
    fewest_checkpoint_layers,
    startup_plan,
)
from cuekit.distill.metrics import MetricsLogger, peak_memory_mb, truncate_metrics
from cuekit.distill.models import enable_activation_checkpointing, load_model
from cuekit.distill.prompts import (
    Prompts,
    chat_prompt_pair,
    record_chat_pair,
    vision_token_ids,
)
from cuekit.distill.rollout import (
    Rollouts,
    SamplingSettings,
    generate_in_chunks,
    score_responses,
    scoring_pair,
)
from cuekit.errors import ConfigError, CuekitError
from cuekit.outputs import exclusive_lock, share_like_umask
from cuekit.pipelines.reader import ShardBatch, ShardReader
from cuekit.schemas.runs import LOSS_METRICS, StepMetrics

logger = logging.getLogger("cuekit.distill")
OOM_HINT = ("out of memory: reduce --batch-size, --rollouts-per-prompt or --max-new-tokens, "
            "raise --grad-accum, or turn on --grad-checkpointing")


def _lr_lambda(config: DistillConfig):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.lr_schedule == "cosine":
            span = max(1, config.max_steps - config.warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - config.warmup_steps) / span)))
        return 1.0
    return factor


class DistillRecipe:
    """``setup()`` builds everything, ``train()`` runs the loop, ``cleanup()`` closes logs."""

    def __init__(self, config: DistillConfig) -> None:
        self.config = config
        self.run_dir = config.run_dir
        self.step = 0
        self.skipped_long = 0
        self.nonfinite = NonFiniteGuard(config.max_nonfinite_steps)
        self.saved_step: int | None = None  # the step of the newest checkpoint on disk
        self.dist = dd.SINGLE
        self._owns_process_group = False
        self._held = ExitStack()  # the run folder's lock, released in cleanup()

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        cfg = self.config
        # The process group first: the device, the sharding and the reader split need it.
        self.dist, self._owns_process_group = dd.init_distributed(cfg.device)
        if self.dist.is_distributed and cfg.rollout_compile:
            raise ConfigError("--rollout-compile is not supported under torchrun (FSDP2) yet: "
                              "drop it, or run on one GPU")
        if self.dist.is_distributed and dtype_name(cfg.dtype) == "fp16":
            raise ConfigError("--dtype fp16 is not supported under torchrun (FSDP2) yet: use "
                              "bf16, or run on one GPU")
        # auto -> cuda or cpu; under torchrun cuda -> this rank's GPU, cuda:$LOCAL_RANK
        self.device = dd.rank_device(self.dist, cfg.device)
        # fp32 master weights; forwards under autocast (bf16, or fp16 with loss scaling)
        self.precision = training_precision(cfg.dtype, str(self.device))
        self.autocast = self.precision.autocast is not None
        self.scaler = (torch.amp.GradScaler("cuda") if self.precision.loss_scaling else None)
        logger.info("precision: %s", self.precision.describe())
        torch.manual_seed(cfg.seed)  # same on every rank: the cue module init must agree
        if self.dist.is_main:  # one run per folder; then its leftovers are ours to clear
            self._held.enter_context(exclusive_lock(self.run_dir, ".cuekit-distill.lock",
                                                    "distill"))
            for folder in remove_partial_checkpoints(self.run_dir):
                logger.info("removed the unfinished checkpoint %s", folder)
        resume_from = self._resume_point()
        # The student first: the optimizer and the teacher ("self") depend on it.
        self._setup_student(resume_from)
        self._setup_teacher()
        self._select_checkpointing()  # needs both models' shapes for the memory plan
        self._setup_optimizer()
        # The reader depends on nothing else; its state comes from the checkpoint.
        self._setup_data()
        self.loss_fn = get_loss(cfg.loss, **cfg.loss_settings())
        self.sampling = SamplingSettings(cfg.max_new_tokens, cfg.temperature, cfg.top_p,
                                         cfg.top_k, engine=cfg.rollout_engine,
                                         compile=cfg.rollout_compile)
        if self.dist.rank > 0:  # rollouts of different ranks must not share random draws
            torch.manual_seed(dd.rank_seed(cfg.seed, self.dist.rank, 0))
        if resume_from is not None:
            self._restore(resume_from)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = None  # only rank 0 writes files
        if self.dist.is_main:
            if resume_from is None:  # lines of an earlier start that never checkpointed
                truncate_metrics(self.run_dir, -1)
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
            self.metrics = MetricsLogger(self.run_dir, tensorboard=cfg.tensorboard,
                                         wandb=cfg.wandb, config=cfg.to_dict())
            logger.info("memory plan (estimated, one GPU, unsharded):\n%s", self._plan())
        self.evaluator = (Evaluator(cfg, self.student_view, self.teacher_view, self.processor,
                                    self.teacher_processor, self.device)
                          if cfg.eval_shards else None)

    def _plan_shapes(self) -> tuple[ModelShape, ModelShape, RunShape]:
        """Student, teacher and step shapes for the memory plan (checkpointing: none yet)."""
        cfg = self.config
        rows = cfg.batch_size * cfg.rollouts_per_prompt
        student = ModelShape.from_config("student", self.student.config, cfg.cue_interval)
        teacher = ModelShape.from_config("teacher", self.teacher.config)
        run = RunShape(prompt_len=cfg.max_prompt_len, response_len=cfg.max_new_tokens,
                       batch_size=rows, micro_batch=-(-rows // cfg.grad_accum),
                       rollout_batch=cfg.rollout_batch_size or rows,
                       chunk_size=cfg.score_chunk_size, compiled_rollout=cfg.rollout_compile)
        return student, teacher, run

    def _plan(self) -> str:
        student, teacher, run = self._plan_shapes()
        run = replace(run, grad_checkpointing=self.checkpoint_layers > 0,
                      checkpoint_layers=self.checkpoint_layers)
        return startup_plan(student, teacher, run, device_gb=self._device_gb())

    def _device_gb(self) -> float | None:
        if self.device.type != "cuda":
            return None
        return torch.cuda.get_device_properties(self.device).total_memory / 1e9

    def _select_checkpointing(self) -> None:
        """Checkpoint only as many decoder layers as memory needs: each one checkpointed
        runs its forward twice. The count comes from ``--checkpoint-layers`` or, on a GPU,
        from the memory plan; the first layers are the ones checkpointed."""
        layers = self.student.model.language_model.layers
        if not self._checkpointing:
            self.checkpoint_layers = 0
            return
        count = self.config.checkpoint_layers
        device_gb = self._device_gb()
        if count is None and device_gb is not None:
            count = fewest_checkpoint_layers(*self._plan_shapes(), device_gb=device_gb)
        self.checkpoint_layers = len(layers) if count is None else min(count, len(layers))
        for index, layer in enumerate(layers):
            layer.gradient_checkpointing = index < self.checkpoint_layers
        logger.info("activation checkpointing: %d of %d decoder layers",
                    self.checkpoint_layers, len(layers))

    def _resume_point(self) -> Path | None:
        if not self.config.resume and list_checkpoints(self.run_dir):
            raise ConfigError(f"{self.run_dir} already holds checkpoints; pass --resume to "
                              "continue that run, or choose another --output")
        return resume_checkpoint(self.run_dir, self.config, self.dist.world_size)

    def _setup_student(self, resume_from: Path | None) -> None:
        cfg = self.config
        if resume_from is not None:
            self.student, self.processor = load_student(resume_from / "student",
                                                        device=str(self.device))
        else:
            self.student, self.processor = load_model(cfg.student, device=str(self.device),
                                                      seed=cfg.seed)
            if cfg.cue_module:
                attach_cue_module(self.student, CueModuleConfig(
                    interval=cfg.cue_interval, layers=cfg.cue_layers),
                    im_start_token_id=self.processor.im_start_token_id)
        if cfg.freeze_vision:
            for param in self.student.model.visual.parameters():
                param.requires_grad_(False)
        checkpointing = (cfg.grad_checkpointing if cfg.grad_checkpointing is not None
                         else self.device.type == "cuda")
        self._checkpointing = checkpointing
        if checkpointing:  # every layer now; _select_checkpointing keeps the ones needed
            enable_activation_checkpointing(self.student)
        if self.dist.is_distributed:  # every rank loaded the same full weights: now shard
            dd.shard_model(self.student)
        self.student_view = dd.model_view(self.student)  # the model itself in one process
        self.student.train()

    def _setup_teacher(self) -> None:
        cfg = self.config
        name = cfg.student if cfg.teacher == "self" else cfg.teacher
        self.teacher, self.teacher_processor = load_model(name, device=str(self.device),
                                                          dtype=self.precision.teacher,
                                                          seed=cfg.seed)
        self.teacher.eval().requires_grad_(False)  # never updated
        if self.dist.is_distributed:  # sharded like the student, forward only
            dd.shard_model(self.teacher)
        self.teacher_view = dd.model_view(self.teacher)

    def _setup_optimizer(self) -> None:
        # After sharding: the optimizer holds (and steps) each rank's shards.
        cfg = self.config
        backbone, module = split_parameters(self.student)
        # The module group stays (empty) without a module, so lr logging keeps its shape.
        groups = [{"params": [p for p in backbone if p.requires_grad], "lr": cfg.lr,
                   "name": "backbone"},
                  {"params": module, "lr": cfg.module_lr, "name": "cue_module"}]
        # One fused kernel for all parameters (4x the per-tensor path on the tiny CPU
        # benchmark); FSDP2's sharded DTensor parameters keep the default implementation.
        self.optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay,
                                           fused=not self.dist.is_distributed)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(cfg))

    def _setup_data(self) -> None:
        cfg = self.config
        split = ({"rank": self.dist.rank, "world_size": self.dist.world_size}
                 if self.dist.is_distributed else {})
        self.reader = ShardReader(cfg.shards, num_workers=cfg.num_workers, seed=cfg.seed,
                                  shuffle_buffer=cfg.shuffle_buffer, **split)
        if self.reader.batches_per_rank(cfg.batch_size, drop_last=True) == 0:
            raise ConfigError(f"the shards hold {self.reader.samples_per_rank()} samples per "
                              f"rank, fewer than one batch of {cfg.batch_size}")

    def _restore(self, folder: Path) -> None:
        state = load_trainer_state(folder)
        # Checkpoints hold full tensors (any world size wrote them): slice to this rank.
        self.optimizer.load_state_dict(dd.shard_optimizer_state(self.optimizer, state.optimizer)
                                       if self.dist.is_distributed else state.optimizer)
        self.scheduler.load_state_dict(state.scheduler)
        self._apply_optimizer_settings()  # the state brought back the checkpoint's lr
        saved_readers = state.extra.get("reader_ranks") or (
            [state.reader] if state.reader is not None else [])
        reader_state = dd.reader_resume_state(saved_readers, self.reader)
        if reader_state is not None:
            self.reader.load_state_dict(reader_state)
        restore_rng(state)
        self.step = state.step
        if self.dist.is_distributed:
            dd.restore_rank_rng(state.extra_tensors, self.dist, self.config.seed, self.step)
        # A gathered checkpoint holds the sum over ranks: rank 0 carries it on.
        self.skipped_long = int(state.extra.get("skipped_long", 0)) if self.dist.is_main else 0
        self.nonfinite.total = int(state.extra.get("nonfinite_steps", 0))
        if self.scaler is not None and state.extra.get("grad_scaler"):
            self.scaler.load_state_dict(state.extra["grad_scaler"])
        self.saved_step = state.step
        if self.dist.is_main:
            truncate_metrics(self.run_dir, self.step)
        logger.info("resumed from %s at step %d", folder, self.step)

    def _apply_optimizer_settings(self) -> None:
        """This run's lr, module lr and weight decay on the restored optimizer, so what
        config.yaml says is what trains (a no-op unless --allow-config-change changed them)."""
        cfg = self.config
        bases = {"backbone": cfg.lr, "cue_module": cfg.module_lr}
        factor = _lr_lambda(cfg)(self.scheduler.last_epoch)
        for group in self.optimizer.param_groups:
            group["initial_lr"] = bases[group["name"]]
            group["lr"] = bases[group["name"]] * factor
            group["weight_decay"] = cfg.weight_decay
        self.scheduler.base_lrs = [bases[g["name"]] for g in self.optimizer.param_groups]

    # ------------------------------------------------------------------ data

    def _batches(self) -> Iterator[ShardBatch]:
        """Batches forever, epoch after epoch; the reader's state makes this resumable."""
        epoch = self.reader.epoch
        while True:
            self.reader.set_epoch(epoch)
            # A private generator: creating a DataLoader iterator draws a seed, and drawing
            # it from the global RNG would make a resumed run sample different rollouts.
            generator = torch.Generator().manual_seed(self.config.seed + epoch)
            yield from self.reader.loader(self.config.batch_size, drop_last=True,
                                          generator=generator)
            epoch += 1

    def _prompts(self, batch: ShardBatch) -> Prompts | None:
        """Keep samples whose student and teacher prompts fit; repeat each R times."""
        cfg = self.config
        # The one prompt builder: eval and the exports word prompts the same way; with cue
        # style marks the teacher sees the marked image, the student the original.
        rows = [(record_chat_pair(s.record.sample, s.images, cue=s.hint,
                                  marked_image=s.marked_image,
                                  marked_index=s.record.cue.marked_image_index,
                                  privilege=cfg.privilege, style=cfg.prompt_style),
                 s.record.sample.answer) for s in batch.samples]
        pair = chat_prompt_pair(self.processor, self.teacher_processor, [r[0] for r in rows])
        lengths = torch.maximum(pair.student["attention_mask"].sum(1),
                                pair.teacher["attention_mask"].sum(1))
        kept = [row for row, n in zip(rows, lengths.tolist(), strict=True)
                if n <= cfg.max_prompt_len]
        if len(kept) < len(rows):
            self.skipped_long += len(rows) - len(kept)
            logger.warning("skipped %d prompt(s) longer than --max-prompt-len %d "
                           "(never truncated; %d skipped so far)", len(rows) - len(kept),
                           cfg.max_prompt_len, self.skipped_long)
        if not kept:
            return None
        rep = [row for row in kept for _ in range(cfg.rollouts_per_prompt)]
        return Prompts(chats=[row[0] for row in rep], answers=[row[1] for row in rep])

    # ------------------------------------------------------------------ step

    def _loss_step(self, prompts: Prompts, rollouts: Rollouts, rows: list[int],
                   total_tokens: int, timers: dict[str, float], loss_weight: float = 1.0
                   ) -> dict[str, float]:
        """Teacher and student scores for a micro-batch of rows; backward of its loss share.

        ``total_tokens`` is the step's response-token count (over all ranks). FSDP averages
        gradients over ranks, so ranks pass ``loss_weight = world_size`` to get the sum; a
        rank with fewer micro-batches than the others repeats one with ``loss_weight = 0``
        (every rank must run the same number of sharded forwards and backwards).
        """
        cfg = self.config
        pair = chat_prompt_pair(self.processor, self.teacher_processor,
                                [prompts.chats[i] for i in rows])
        mask = rollouts.response_mask[rows]
        width = int(mask.sum(0).nonzero().max()) + 1 if mask.any() else 1  # trim padding
        sub = Rollouts(rollouts.response_ids[rows, :width], mask[:, :width])
        student_batch, teacher_batch = scoring_pair(pair.student, pair.teacher, sub,
                                                    vision_token_ids(self.processor))
        start = time.perf_counter()
        needs_topk = getattr(self.loss_fn, "needs_topk", False)
        with torch.inference_mode(), self._autocast():
            # Both sides at the rollout's temperature: the student's log-probs are then
            # those of the policy that sampled, and the teacher is compared on the same scale.
            teacher, _ = score_responses(self.teacher_view, teacher_batch,
                                         chunk_size=cfg.score_chunk_size,
                                         topk=cfg.topk if needs_topk else 0,
                                         temperature=cfg.temperature)
        timers["teacher"] += self._since(start)
        start = time.perf_counter()
        teacher_lp = teacher.logprobs.clone()  # (b, r): leave inference mode
        teacher_topk = None if teacher.topk_logprobs is None else teacher.topk_logprobs.clone()
        topk_ids = None if teacher.topk_ids is None else teacher.topk_ids.clone()
        with self._autocast():
            student, student_topk = score_responses(self.student_view, student_batch,
                                                    chunk_size=cfg.score_chunk_size,
                                                    at_ids=topk_ids, temperature=cfg.temperature)
            loss, metrics = self.loss_fn(student.logprobs, teacher_lp.to(student.logprobs),
                                         sub.response_mask.to(student.logprobs.device),
                                         student_topk=student_topk,
                                         teacher_topk=None if teacher_topk is None
                                         else teacher_topk.to(student.logprobs))
        share = float(sub.response_mask.sum()) / max(total_tokens, 1)
        scaled = loss * (share * loss_weight)
        (scaled if self.scaler is None else self.scaler.scale(scaled)).backward()
        timers["student"] += self._since(start)
        metric_share = share if loss_weight else 0.0
        return {k: v * metric_share for k, v in metrics.items() if k != "tokens"}

    def _since(self, start: float) -> float:
        """Seconds since ``start``, after the GPU finished the queued work of the phase."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start

    def _autocast(self):
        return torch.autocast("cuda", dtype=self.precision.autocast or torch.bfloat16,
                              enabled=self.autocast)

    def train_step(self, batch: ShardBatch) -> StepMetrics | None:
        cfg = self.config
        timers = {"rollout": 0.0, "teacher": 0.0, "student": 0.0, "optimizer": 0.0}
        prompts = self._prompts(batch)
        if self.dist.is_distributed and dd.all_reduce([prompts is None], "max")[0]:
            prompts = None  # every rank skips together: they share the sharded collectives
        if prompts is None:
            return None
        start = time.perf_counter()
        try:
            with self._autocast():
                rollouts = generate_in_chunks(self.student_view, self.processor,
                                              [c.student_text for c in prompts.chats],
                                              [c.student_images for c in prompts.chats],
                                              self.sampling, cfg.rollout_batch_size,
                                              system=cfg.system_prompt)  # (N, R)
        except RuntimeError as exc:  # sampling from inf/NaN probabilities
            if "inf" not in str(exc) or "nan" not in str(exc):
                raise
            raise CuekitError(f"step {self.step + 1}: the student's token probabilities are "
                              "inf/NaN, so its weights have diverged: resume from the last "
                              "checkpoint with a lower --lr / --module-lr "
                              "(--allow-config-change)") from exc
        timers["rollout"] = self._since(start)
        total_tokens = int(rollouts.response_mask.sum())
        if self.dist.is_distributed:  # normalise by the global batch's response tokens
            total_tokens = int(dd.all_reduce([total_tokens])[0])
        totals: dict[str, float] = {}
        self.optimizer.zero_grad(set_to_none=True)
        for rows, weight in self._micro_batches(rollouts.response_mask.sum(1)):
            for key, value in self._loss_step(prompts, rollouts, rows, total_tokens,
                                              timers, weight).items():
                totals[key] = totals.get(key, 0.0) + value
        start = time.perf_counter()
        if self.scaler is not None:  # true gradients for clipping and the finite check
            self.scaler.unscale_(self.optimizer)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        grad_norm = float(dd.full_value(torch.nn.utils.clip_grad_norm_(
            params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf"))))
        loss_value = totals.get("loss", 0.0)
        bad = NonFiniteGuard.is_bad(loss_value, grad_norm)
        if self.dist.is_distributed:  # every rank skips together
            bad = bool(dd.all_reduce([bad], "max")[0])
        # With fp16 loss scaling, inf gradients under a finite loss mean the scale was too
        # high: the scaler lowers it; that step is skipped but is no sign of divergence.
        overflow = bad and self.scaler is not None and math.isfinite(loss_value)
        if not overflow:
            self.nonfinite.update(self.step + 1, bad, loss=loss_value, grad_norm=grad_norm)
        if bad:  # an inf/NaN update would poison the weights: drop it
            self.optimizer.zero_grad(set_to_none=True)
        else:
            self.optimizer.step()
        if self.scaler is not None:
            self.scaler.update()  # after unscale_ alone, too: it records the overflow
        self.scheduler.step()
        timers["optimizer"] = self._since(start)
        self.step += 1
        elapsed = sum(timers.values())
        lengths = rollouts.response_mask.sum(1).float()
        response_len, rows, skipped = float(lengths.mean()), len(prompts.chats), \
            self.skipped_long
        peak = peak_memory_mb(self.device)
        if self.dist.is_distributed:  # global figures: sums over ranks, the slowest rank
            keys = sorted(totals)
            *sums, length_sum, rows, skipped = dd.all_reduce(
                [*(totals[k] for k in keys), float(lengths.sum()), rows, skipped])
            totals, response_len = dict(zip(keys, sums, strict=True)), length_sum / max(rows, 1)
            rows, skipped = int(rows), int(skipped)
            elapsed, peak = dd.all_reduce([elapsed, peak], "max")
        lrs = self.scheduler.get_last_lr()
        return StepMetrics(
            step=self.step, **{k: totals.get(k, 0.0) for k in LOSS_METRICS},
            grad_norm=grad_norm, skipped_update=int(bad),
            nonfinite_steps=self.nonfinite.total, response_len=response_len,
            response_tokens=total_tokens, rollouts=rows, skipped_long_prompts=skipped,
            **{f"time_{k}": round(v, 4) for k, v in timers.items()},
            tokens_per_s=total_tokens / elapsed if elapsed > 0 else 0.0,
            peak_mem_mb=round(peak, 1), lr=lrs[0], module_lr=lrs[1])

    def _micro_batches(self, lengths: torch.Tensor) -> list[tuple[list[int], float]]:
        """(rows, loss weight) per micro-batch, from the rows' response lengths (N,).

        Length bucketing: rows are grouped longest first, so each micro-batch is trimmed to
        lengths close to its own and little compute goes to padding (the loss is a sum
        over the step's tokens, so the grouping does not change it). Ranks may hold
        different row counts (long prompts are skipped per rank), so all run the largest
        micro-batch count; extra ones repeat the last with weight 0. The weight is
        world_size: FSDP averages gradients."""
        order = torch.argsort(lengths.cpu(), descending=True, stable=True)
        chunks = [rows.tolist() for rows in order.chunk(self.config.grad_accum)]
        if not self.dist.is_distributed:
            return [(rows, 1.0) for rows in chunks]
        count = int(dd.all_reduce([len(chunks)], "max")[0])
        weight = float(self.dist.world_size)
        return [(rows, weight) for rows in chunks] + [(chunks[-1], 0.0)] * (count - len(chunks))

    # ------------------------------------------------------------------ loop

    def save(self) -> Path:
        self.saved_step = self.step
        if self.dist.is_distributed:
            return self._save_gathered()
        return save_checkpoint(
            self.run_dir, self.step,
            save_student_fn=lambda folder: save_student(self.student, self.processor, folder),
            optimizer=self.optimizer, scheduler=self.scheduler,
            reader_state=self.reader.state_dict(), config=self.config.to_dict(),
            keep=self.config.keep_checkpoints,
            extra={"skipped_long": self.skipped_long, "nonfinite_steps": self.nonfinite.total,
                   **self._scaler_state()})

    def _scaler_state(self) -> dict[str, Any]:
        """fp16's loss scale, so a resumed run does not relearn it through skipped steps."""
        return {} if self.scaler is None else {"grad_scaler": self.scaler.state_dict()}

    def _save_gathered(self) -> Path:
        """Every rank gathers (FSDP shards, reader positions, RNG states); rank 0 writes the
        single-process layout, so any world size can resume from it."""
        student_state = dd.full_model_state(self.student)
        optimizer_state = dd.full_optimizer_state(self.optimizer, keep=self.dist.is_main)
        readers = dd.all_gather_json(self.reader.state_dict())
        rng_states = dd.gather_rng_states()
        skipped = int(dd.all_reduce([self.skipped_long])[0])
        path = self.run_dir / CHECKPOINTS_DIR / f"step-{self.step:06d}"
        if self.dist.is_main:
            path = save_checkpoint(
                self.run_dir, self.step,
                save_student_fn=lambda folder: dd.save_full_student(
                    self.student, self.processor, student_state, folder),
                optimizer=None, optimizer_state=optimizer_state, scheduler=self.scheduler,
                reader_state=readers[0], config=self.config.to_dict(),
                keep=self.config.keep_checkpoints, extra_tensors=rng_states,
                extra={"skipped_long": skipped, "nonfinite_steps": self.nonfinite.total,
                       "reader_ranks": readers,
                       "world_size": self.dist.world_size})
        dd.barrier()  # no rank goes on (or resumes) before the checkpoint exists
        return path

    def _save_final_student(self) -> None:
        folder = self.run_dir / "student"
        if not self.dist.is_distributed:
            save_student(self.student, self.processor, folder)
            share_like_umask(folder)
            return
        student_state = dd.full_model_state(self.student)
        if self.dist.is_main:
            dd.save_full_student(self.student, self.processor, student_state, folder)
            share_like_umask(folder)
        dd.barrier()

    def _evaluate(self) -> dict[str, float]:
        """Held-out metrics; with several ranks, each evaluates its split and the means are
        averaged over ranks (every rank holds the same number of eval samples)."""
        result = self.evaluator.run()
        if not self.dist.is_distributed:
            return result
        keys = sorted(result)
        sums = dd.all_reduce([result[k] for k in keys])
        return {k: v if k == "eval_samples" else v / self.dist.world_size
                for k, v in zip(keys, sums, strict=True)}

    def train(self, progress: Any = None) -> list[StepMetrics]:
        """Run until ``max_steps``; return the step records (also in metrics.jsonl)."""
        cfg = self.config
        records = []
        if self.evaluator is not None and self.step == 0:
            evaluation = self._evaluate()
            if self.metrics is not None:
                self.metrics.log({"step": 0, **evaluation})
        batches = self._batches()
        usable = UsableBatchGuard(lambda epoch: self.reader.batches_per_rank(
            cfg.batch_size, drop_last=True, epoch=epoch), cfg.max_prompt_len)
        try:
            while self.step < cfg.max_steps:
                batch = next(batches)
                record = self.train_step(batch)
                self.reader.mark_consumed(batch)
                usable.update(batch.samples[0].epoch, record is not None)
                if record is None:
                    continue
                if self.evaluator is not None and cfg.eval_every and \
                        self.step % cfg.eval_every == 0:
                    record = record.with_evaluation(self._evaluate())
                records.append(record)
                if self.metrics is not None and (
                        self.step % cfg.log_every == 0 or self.step == cfg.max_steps):
                    self.metrics.log(record)
                if progress is not None and self.dist.is_main:
                    progress(record)
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self.save()
        except torch.cuda.OutOfMemoryError:
            raise CuekitError(OOM_HINT) from None
        if self.saved_step != self.step:  # --save-every may have just written it
            self.save()
        self._save_final_student()
        return records

    def cleanup(self) -> None:
        metrics = getattr(self, "metrics", None)
        if metrics is not None:
            metrics.close()
        self._held.close()
        dd.teardown(self._owns_process_group)


def run_distill(config: DistillConfig, progress: Any = None) -> list[StepMetrics]:
    recipe = DistillRecipe(config)
    try:
        recipe.setup()
        return recipe.train(progress)
    finally:
        recipe.cleanup()
