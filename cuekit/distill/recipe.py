"""The distill recipe: cue-privileged on-policy distillation of a Qwen3-VL student.

One step, read top to bottom in :meth:`DistillRecipe.train_step`, through the functions
defined just above the class, in the order it calls them::

    step_prompts    B samples -> N = B x R rows of (student, teacher) prompts, tokenized once
    rollout         the student samples (N, R) responses (the cue module runs at prefill)
    micro_batch     per micro-batch: both sides' prompt + the same response ids
    score_teacher   teacher log-probs of the sampled tokens (prompt + hint, inference mode)
    student_loss    student log-probs with gradients (chunked lm-head) -> loss
                    (k1 / k3 / forward-kl-topk / jsd) -> backward
    update          clip -> AdamW step (two groups: backbone lr, cue module lr)
                    -> log -> checkpoint

Scoring is :mod:`cuekit.distill.scoring`, the losses :mod:`cuekit.distill.losses`; what
``setup()`` builds is :mod:`cuekit.distill.build`, what a checkpoint saves and brings back
:mod:`cuekit.distill.resume`.

How it departs from the released ViCuR code (docs/method.md §1): the sink is found per
sample (padding and batch > 1 are safe), the module starts as an exact identity, it
has its own learning rate, and no module sits after the last layer.

Launch: ``cuekit distill --student qwen3-vl-2b --shards 'DIR/shard-{000000..000012}.tar'
--output RUN``; see ``cuekit distill -h``. Under ``torchrun --nproc-per-node N -m cuekit
distill ...`` the same recipe runs data-parallel with FSDP2 (cuekit.distill.distributed,
docs/distributed.md): each rank reads its own batches, the loss is normalised by the
global number of response tokens, so a step equals one process on the global batch.
What a step asks of the other ranks goes through one seam, :class:`~cuekit.distill.
parallel.Parallel`, which does nothing in one process.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import torch

from cuekit.devices import training_precision
from cuekit.distill import build
from cuekit.distill import distributed as dd
from cuekit.distill.checkpoint import remove_partial_checkpoints
from cuekit.distill.config import DistillConfig
from cuekit.distill.evaluation import Evaluator
from cuekit.distill.guards import NonFiniteGuard, UsableBatchGuard
from cuekit.distill.losses import get_loss
from cuekit.distill.metrics import MetricsLogger, peak_memory_mb, truncate_metrics
from cuekit.distill.parallel import Parallel, StepTotals
from cuekit.distill.prompts import (
    ScoringBatch,
    StepBatch,
    build_step_batch,
    decoded_chat_pairs,
    vision_token_ids,
)
from cuekit.distill.resume import (
    RunCounters,
    RunParts,
    restore_run,
    resume_point,
    save_final_student,
    save_run,
)
from cuekit.distill.rollout import Rollouts, SamplingSettings, rollout_rows
from cuekit.distill.scoring import Scores, score_responses, scoring_pair
from cuekit.errors import CuekitError
from cuekit.outputs import exclusive_lock
from cuekit.pipelines.read.reader import ShardBatch
from cuekit.schemas.runs import StepMetrics

logger = logging.getLogger("cuekit.distill")
OOM_HINT = (
    "out of memory: reduce --batch-size, --rollouts-per-prompt or --max-new-tokens, "
    "raise --grad-accum, or turn on --grad-checkpointing"
)


# ---------------------------------------------------------------------------- one step
# What train_step calls, in its order: prompts -> rollout -> (per micro-batch) teacher
# scores -> student loss -> backward -> update. Shapes: N rows (kept prompts x R
# rollouts), R response tokens, P prompt tokens, k the teacher's top-k.


def step_prompts(
    batch: ShardBatch, config: DistillConfig, student_processor: Any, teacher_processor: Any
) -> StepBatch:
    """The step's rows: each sample's prompt pair from the one prompt builder (eval and
    the exports word prompts the same way; with cue style marks the teacher sees the
    marked image, the student the original), those that fit ``--max-prompt-len`` (never
    truncated), each ``--rollouts-per-prompt`` times, tokenized once."""
    pairs = decoded_chat_pairs(batch.samples, privilege=config.privilege, style=config.prompt_style)
    return build_step_batch(
        student_processor,
        teacher_processor,
        pairs,
        [s.record.sample.answer for s in batch.samples],
        max_prompt_len=config.max_prompt_len,
        repeats=config.rollouts_per_prompt,
    )


def rollout(
    student: Any, processor: Any, step: StepBatch, sampling: SamplingSettings, chunk_rows: int
) -> Rollouts:
    """(N, R) responses the student samples from its own prompts; the cue recovery module
    runs at each prefill, as in the training forward."""
    return rollout_rows(student, processor, step.student, sampling, chunk_rows)


def length_buckets(lengths: torch.Tensor, grad_accum: int) -> list[list[int]]:
    """Rows per micro-batch from the rows' response lengths (N,), longest first: each
    micro-batch is trimmed to lengths close to its own, so little compute goes to padding
    (the loss is a sum over the step's tokens, so the grouping does not change it)."""
    order = torch.argsort(lengths.cpu(), descending=True, stable=True)
    return [rows.tolist() for rows in order.chunk(grad_accum)]


def micro_batch(
    step: StepBatch, rollouts: Rollouts, rows: list[int], forbidden: list[int]
) -> tuple[ScoringBatch, ScoringBatch]:
    """The student's and the teacher's prompt + response batches of ``rows``: the same
    response ids after each side's own prompt, cut to the rows' longest response."""
    mask = rollouts.response_mask[rows]  # (b, R)
    width = int(mask.sum(0).nonzero().max()) + 1 if mask.any() else 1
    sub = Rollouts(rollouts.response_ids[rows, :width], mask[:, :width])  # (b, r)
    return scoring_pair(
        step.student.select(rows).inputs, step.teacher.select(rows).inputs, sub, forbidden
    )


def score_teacher(
    teacher: Any, batch: ScoringBatch, *, chunk_size: int, topk: int, temperature: float
) -> Scores:
    """The frozen teacher's log-probs (b, r) of the sampled tokens, with its top-k (b, r, k)
    when the loss reads them. At the rollout's temperature, like the student: the
    student's log-probs are then those of the policy that sampled, and the two are
    compared on one scale."""
    with torch.inference_mode():
        scores, _ = score_responses(
            teacher, batch, chunk_size=chunk_size, topk=topk, temperature=temperature
        )
    # Clones leave inference mode, so the loss may use them beside tensors with gradients.
    return Scores(
        scores.logprobs.clone(),
        None if scores.topk_logprobs is None else scores.topk_logprobs.clone(),
        None if scores.topk_ids is None else scores.topk_ids.clone(),
    )


def student_loss(
    student: Any,
    batch: ScoringBatch,
    teacher: Scores,
    loss_fn: Any,
    *,
    chunk_size: int,
    temperature: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The student's log-probs of the same tokens WITH gradient (and at the teacher's top-k
    ids), and the loss against the teacher's (cuekit.distill.losses)."""
    scores, student_topk = score_responses(
        student, batch, chunk_size=chunk_size, at_ids=teacher.topk_ids, temperature=temperature
    )
    lp = scores.logprobs  # (b, r)
    return loss_fn(
        lp,
        teacher.logprobs.to(lp),
        batch.response_mask.to(lp.device),
        student_topk=student_topk,
        teacher_topk=None if teacher.topk_logprobs is None else teacher.topk_logprobs.to(lp),
    )


def update(
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loss: float,
    *,
    max_grad_norm: float,
    scaler: Any,
    parallel: Parallel,
    guard: NonFiniteGuard,
    step: int,
) -> tuple[float, bool]:
    """Clip the gradients and step the optimizer, unless the loss or the gradient norm is
    inf/NaN on any rank: that update would poison the weights, so it is dropped (and
    counted by ``guard``, which stops a run that keeps diverging). Returns the gradient
    norm and whether the update was skipped."""
    if scaler is not None:  # true gradients for clipping and the finite check
        scaler.unscale_(optimizer)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    grad_norm = float(
        parallel.full(
            torch.nn.utils.clip_grad_norm_(
                params, max_grad_norm if max_grad_norm > 0 else float("inf")
            )
        )
    )
    bad = parallel.any(NonFiniteGuard.is_bad(loss, grad_norm))
    # With fp16 loss scaling, inf gradients under a finite loss mean the scale was too
    # high: the scaler lowers it; that step is skipped but is no sign of divergence.
    if not (bad and scaler is not None and math.isfinite(loss)):
        guard.update(step, bad, loss=loss, grad_norm=grad_norm)
    if bad:
        optimizer.zero_grad(set_to_none=True)
    else:
        optimizer.step()
    if scaler is not None:
        scaler.update()  # after unscale_ alone, too: it records the overflow
    scheduler.step()
    return grad_norm, bad


@contextmanager
def _diverged_weights_hint(step: int) -> Iterator[None]:
    """Sampling from inf/NaN probabilities means the weights diverged: say what to do."""
    try:
        yield
    except RuntimeError as exc:
        if "inf" not in str(exc) or "nan" not in str(exc):
            raise
        raise CuekitError(
            f"step {step}: the student's token probabilities are inf/NaN, so "
            "its weights have diverged: resume from the last checkpoint with a "
            "lower --lr / --module-lr (--allow-config-change)"
        ) from exc


# ---------------------------------------------------------------------------- the recipe


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
        self.parallel = Parallel(self.dist)  # setup() replaces it under torchrun
        self._owns_process_group = False
        self._held = ExitStack()  # the run folder's lock, released in cleanup()

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        """Build everything (cuekit.distill.build), in the order the parts depend on."""
        cfg = self.config
        # The process group first: the device, the sharding and the reader split need it.
        self.dist, self._owns_process_group = dd.init_distributed(cfg.device)
        build.check_launch(cfg, self.dist)
        # auto -> cuda or cpu; under torchrun cuda -> this rank's GPU, cuda:$LOCAL_RANK
        self.device = dd.rank_device(self.dist, cfg.device)
        # fp32 master weights; forwards under autocast (bf16, or fp16 with loss scaling)
        self.precision = training_precision(cfg.dtype, str(self.device))
        self.parallel = Parallel(self.dist)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision.loss_scaling else None
        logger.info("precision: %s", self.precision.describe())
        torch.manual_seed(cfg.seed)  # same on every rank: the cue module init must agree
        if self.dist.is_main:  # one run per folder; then its leftovers are ours to clear
            self._held.enter_context(
                exclusive_lock(self.run_dir, ".cuekit-distill.lock", "distill")
            )
            for folder in remove_partial_checkpoints(self.run_dir):
                logger.info("removed the unfinished checkpoint %s", folder)
        resume_from = resume_point(cfg, self.dist.world_size)
        # The student first: the optimizer and the teacher ("self") depend on it.
        checkpointing = (
            cfg.grad_checkpointing
            if cfg.grad_checkpointing is not None
            else self.device.type == "cuda"
        )
        student = build.build_student(
            cfg, self.device, self.dist, resume_from, checkpointing=checkpointing
        )
        self.student, self.processor, self.student_view = student
        teacher = build.build_teacher(
            cfg, self.device, self.dist, self.precision.teacher, self.processor
        )
        self.teacher, self.teacher_processor, self.teacher_view = teacher
        self.forbidden = vision_token_ids(self.processor)  # ids a response must not hold
        # Needs both models' shapes for the memory plan.
        self.checkpoint_layers = build.select_checkpointing(
            cfg, self.student, self.teacher, self.device, enabled=checkpointing
        )
        self.optimizer, self.scheduler = build.build_optimizer(cfg, self.student, self.dist)
        # The reader depends on nothing else; its state comes from the checkpoint.
        self.reader = build.build_reader(cfg, self.dist)
        self.loss_fn = get_loss(cfg.loss, **cfg.loss_settings())
        self.sampling = SamplingSettings(
            cfg.max_new_tokens,
            cfg.temperature,
            cfg.top_p,
            cfg.top_k,
            engine=cfg.rollout_engine,
            compile=cfg.rollout_compile,
        )
        if self.dist.rank > 0:  # rollouts of different ranks must not share random draws
            torch.manual_seed(dd.rank_seed(cfg.seed, self.dist.rank, 0))
        if resume_from is not None:
            counters = restore_run(resume_from, cfg, self.dist, self._parts())
            self.step = self.saved_step = counters.step
            self.skipped_long = counters.skipped_long
            self.nonfinite.total = counters.nonfinite_steps
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = None  # only rank 0 writes files
        if self.dist.is_main:
            if resume_from is None:  # lines of an earlier start that never checkpointed
                truncate_metrics(self.run_dir, -1)
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
            self.metrics = MetricsLogger(
                self.run_dir, tensorboard=cfg.tensorboard, wandb=cfg.wandb, config=cfg.to_dict()
            )
            logger.info(
                "memory plan (estimated, one GPU, unsharded):\n%s",
                build.memory_plan_text(
                    cfg, self.student, self.teacher, self.checkpoint_layers, self.device
                ),
            )
        self.evaluator = (
            Evaluator(
                cfg,
                self.student_view,
                self.teacher_view,
                self.processor,
                self.teacher_processor,
                self.device,
            )
            if cfg.eval_shards
            else None
        )

    def _parts(self) -> RunParts:
        return RunParts(
            self.student, self.processor, self.optimizer, self.scheduler, self.reader, self.scaler
        )

    # ------------------------------------------------------------------ data

    def batches(self) -> Iterator[ShardBatch]:
        """Batches forever, epoch after epoch; the reader's state makes this resumable."""
        epoch = self.reader.epoch
        while True:
            self.reader.set_epoch(epoch)
            # A private generator: creating a DataLoader iterator draws a seed, and drawing
            # it from the global RNG would make a resumed run sample different rollouts.
            generator = torch.Generator().manual_seed(self.config.seed + epoch)
            yield from self.reader.loader(
                self.config.batch_size, drop_last=True, generator=generator
            )
            epoch += 1

    def step_batch(self, batch: ShardBatch) -> StepBatch:
        """The step's rows from a reader batch (see :func:`step_prompts`)."""
        return step_prompts(batch, self.config, self.processor, self.teacher_processor)

    def micro_batches(self, lengths: torch.Tensor) -> list[tuple[list[int], float]]:
        """(rows, loss weight) per micro-batch, from the rows' response lengths (N,)."""
        return self.parallel.micro_batches(length_buckets(lengths, self.config.grad_accum))

    # ------------------------------------------------------------------ step

    def autocast(self) -> Any:
        """The forwards' autocast (bf16, or fp16 with loss scaling); off in fp32."""
        return torch.autocast(
            "cuda",
            dtype=self.precision.autocast or torch.bfloat16,
            enabled=self.precision.autocast is not None,
        )

    def _since(self, start: float) -> float:
        """Seconds since ``start``, after the GPU finished the queued work of the phase."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start

    def train_step(self, batch: ShardBatch) -> StepMetrics | None:
        """One step: prompts -> rollout -> per micro-batch (teacher scores -> student loss
        -> backward) -> update. None when no prompt of the batch fits (on any rank)."""
        cfg = self.config
        timers = dict.fromkeys(("rollout", "teacher", "student", "optimizer"), 0.0)
        step = self.step_batch(batch)  # N = kept prompts x R rows, tokenized once
        self._note_skipped(step.skipped)
        if self.parallel.any(len(step) == 0):  # ranks skip together (shared collectives)
            return None

        start = time.perf_counter()
        with self.autocast(), _diverged_weights_hint(self.step + 1):
            rollouts = rollout(
                self.student_view, self.processor, step, self.sampling, cfg.rollout_batch_size
            )  # (N, R) ids and mask
        timers["rollout"] = self._since(start)
        # The loss is a mean over the response tokens of the whole (global) batch.
        total_tokens = self.parallel.total(int(rollouts.response_mask.sum()))

        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        topk = cfg.topk if getattr(self.loss_fn, "needs_topk", False) else 0
        for rows, weight in self.micro_batches(rollouts.response_mask.sum(1)):
            student_batch, teacher_batch = micro_batch(step, rollouts, rows, self.forbidden)
            start = time.perf_counter()
            with self.autocast():  # both at the rollout's temperature (see score_teacher)
                teacher = score_teacher(
                    self.teacher_view,
                    teacher_batch,
                    topk=topk,
                    chunk_size=cfg.score_chunk_size,
                    temperature=cfg.temperature,
                )
            timers["teacher"] += self._since(start)
            start = time.perf_counter()
            with self.autocast():
                loss, metrics = student_loss(
                    self.student_view,
                    student_batch,
                    teacher,
                    self.loss_fn,
                    chunk_size=cfg.score_chunk_size,
                    temperature=cfg.temperature,
                )
            # This micro-batch's share of the step's tokens; weight: see micro_batches.
            share = float(student_batch.response_mask.sum()) / max(total_tokens, 1)
            scaled = loss * (share * weight)
            (scaled if self.scaler is None else self.scaler.scale(scaled)).backward()
            timers["student"] += self._since(start)
            for key, value in metrics.items():
                if key != "tokens":
                    totals[key] = totals.get(key, 0.0) + value * (share if weight else 0.0)

        start = time.perf_counter()
        grad_norm, skipped = update(
            self.optimizer,
            self.scheduler,
            totals.get("loss", 0.0),
            max_grad_norm=cfg.max_grad_norm,
            scaler=self.scaler,
            parallel=self.parallel,
            guard=self.nonfinite,
            step=self.step + 1,
        )
        timers["optimizer"] = self._since(start)
        self.step += 1
        return self._step_metrics(
            rollouts,
            totals,
            timers,
            grad_norm=grad_norm,
            skipped=skipped,
            total_tokens=total_tokens,
        )

    def _note_skipped(self, count: int) -> None:
        if count:
            self.skipped_long += count
            logger.warning(
                "skipped %d prompt(s) longer than --max-prompt-len %d "
                "(never truncated; %d skipped so far)",
                count,
                self.config.max_prompt_len,
                self.skipped_long,
            )

    def _step_metrics(
        self,
        rollouts: Rollouts,
        totals: dict[str, float],
        timers: dict[str, float],
        *,
        grad_norm: float,
        skipped: bool,
        total_tokens: int,
    ) -> StepMetrics:
        lengths = rollouts.response_mask.sum(1).float()  # (N,)
        local = StepTotals(
            metrics=totals,
            response_len=float(lengths.mean()),
            rollouts=len(lengths),
            skipped_long=self.skipped_long,
            elapsed=sum(timers.values()),
            peak_mem_mb=peak_memory_mb(self.device),
        )
        step = self.parallel.step_totals(local, float(lengths.sum()))
        lrs = self.scheduler.get_last_lr()
        loss = step.metrics
        return StepMetrics(
            step=self.step,
            loss=loss.get("loss", 0.0),
            reverse_kl=loss.get("reverse_kl", 0.0),
            student_lp=loss.get("student_lp", 0.0),
            teacher_lp=loss.get("teacher_lp", 0.0),
            clip_frac=loss.get("clip_frac", 0.0),
            grad_norm=grad_norm,
            skipped_update=int(skipped),
            nonfinite_steps=self.nonfinite.total,
            response_len=step.response_len,
            response_tokens=total_tokens,
            rollouts=step.rollouts,
            skipped_long_prompts=step.skipped_long,
            time_rollout=round(timers["rollout"], 4),
            time_teacher=round(timers["teacher"], 4),
            time_student=round(timers["student"], 4),
            time_optimizer=round(timers["optimizer"], 4),
            tokens_per_s=total_tokens / step.elapsed if step.elapsed > 0 else 0.0,
            peak_mem_mb=round(step.peak_mem_mb, 1),
            lr=float(lrs[0]),
            module_lr=float(lrs[1]),
        )

    # ------------------------------------------------------------------ loop

    def save(self) -> Path:
        """Checkpoint the current step (cuekit.distill.resume)."""
        self.saved_step = self.step
        return save_run(
            self.config,
            self.dist,
            self._parts(),
            RunCounters(self.step, self.skipped_long, self.nonfinite.total),
        )

    def _evaluate(self, evaluator: Evaluator) -> dict[str, float]:
        """Held-out metrics; with several ranks, each evaluates its split and the means are
        averaged over ranks (every rank holds the same number of eval samples)."""
        return self.parallel.mean_metrics(evaluator.run()).as_dict()

    def train(self, progress: Any = None) -> list[StepMetrics]:
        """Run until ``max_steps``; return the step records (also in metrics.jsonl)."""
        cfg = self.config
        records = []
        if self.evaluator is not None and self.step == 0:
            evaluation = self._evaluate(self.evaluator)
            if self.metrics is not None:
                self.metrics.log({"step": 0, **evaluation})
        batches = self.batches()
        usable = UsableBatchGuard(
            lambda epoch: self.reader.batches_per_rank(cfg.batch_size, drop_last=True, epoch=epoch),
            cfg.max_prompt_len,
        )
        try:
            while self.step < cfg.max_steps:
                batch = next(batches)
                record = self.train_step(batch)
                self.reader.mark_consumed(batch)
                usable.update(batch.samples[0].epoch, record is not None)
                if record is None:
                    continue
                if (
                    self.evaluator is not None
                    and cfg.eval_every
                    and self.step % cfg.eval_every == 0
                ):
                    record = record.with_evaluation(self._evaluate(self.evaluator))
                records.append(record)
                if self.metrics is not None and (
                    self.step % cfg.log_every == 0 or self.step == cfg.max_steps
                ):
                    self.metrics.log(record)
                if progress is not None and self.dist.is_main:
                    progress(record)
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self.save()
        except torch.cuda.OutOfMemoryError:
            raise CuekitError(OOM_HINT) from None
        if self.saved_step != self.step:  # --save-every may have just written it
            self.save()
        save_final_student(self.config, self.dist, self._parts())
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
