"""`cuekit distill`: train a student against a cue-privileged teacher.

The options are generated from :class:`cuekit.distill.config.DistillConfig`, so the
command line and the YAML config file always accept the same settings.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from cuekit.distill.config import DTYPES, PRIVILEGES, ROLLOUT_ENGINES, SCHEDULES, DistillConfig

if TYPE_CHECKING:
    from cuekit.schemas import StepMetrics

HELP: dict[str, str] = {
    "student": "Student: qwen3-vl-2b/-4b/-8b/-32b, an HF id, a local folder, or tiny-random.",
    "teacher": "'self' (frozen base of the student, OPSD) or a stronger model (OPD).",
    "privilege": "What the teacher sees extra: cue (ViCuR), answer (OPSD baseline), none.",
    "dtype": "Compute precision: auto (bf16 autocast on GPU, fp32 on CPU), bf16, fp16 (CUDA "
             "only, with loss scaling) or fp32; the student keeps fp32 master weights.",
    "device": "Torch device: auto, cpu, cuda, cuda:1...",
    "seed": "Seed of the data order, sampling and tiny-random weights.",
    "cue_module": "Give the student the cue recovery module (off: the plain student).",
    "cue_interval": "Cue recovery module after decoder layers i % N == 0 (never the last).",
    "cue_layers": "Explicit comma-separated decoder layers for the module (overrides interval).",
    "shards": "Training shards: a `cuekit shard` folder, brace pattern or URLs.",
    "output": "Run folder: config.yaml, metrics.jsonl, checkpoints/, student/.",
    "eval_shards": "Held-out shards for --eval-every.",
    "num_workers": "DataLoader workers decoding shards.",
    "shuffle_buffer": "Samples in the shuffle buffer.",
    "max_prompt_len": "Skip (with a warning) prompts longer than this; never truncate.",
    "system_prompt": "System turn of student and teacher prompts [default: none]; pass the "
                     "same to eval and export.",
    "instruction": "Answer-format line after the question, e.g. 'Put the final answer in "
                   "\\boxed{}.' [default: none]; pass the same to eval and export.",
    "batch_size": "Prompts per optimizer step.",
    "rollouts_per_prompt": "Sampled responses per prompt.",
    "rollout_batch_size": "Rows generated at once (0: the whole step); bounds the KV cache.",
    "rollout_engine": "Rollout sampler: cuekit (static-cache decode loop, same tokens as "
                      "generate), cuekit-continuous (--rollout-batch-size slots refilled as "
                      "rows stop), generate (HF, dynamic cache) or generate-static.",
    "rollout_compile": "cuekit engine: compile the decode step (CUDA graphs on GPU; keeps "
                       "a full-length KV cache between rollouts).",
    "max_new_tokens": "Longest rollout, in tokens.",
    "temperature": "Rollout sampling temperature; both models are scored at it too.",
    "top_p": "Rollout nucleus sampling.",
    "top_k": "Rollout top-k sampling (0: off).",
    "loss": "k1 (policy gradient, paper default), k3, forward-kl-topk or jsd.",
    "topk": "Teacher top-k tokens for forward-kl-topk and jsd.",
    "topk_renormalize": "forward-kl-topk: renormalise the teacher over its top-k (exact KL, "
                        ">= 0) or use its raw top-k probabilities as the released code does.",
    "beta": "JSD interpolation (0: forward KL, 1: reverse KL).",
    "adv_clip": "k1: clamp of the per-token advantage lT - lS.",
    "lp_floor": "Clamp log-probs from below at this value.",
    "max_steps": "Optimizer steps to run.",
    "lr": "Backbone learning rate.",
    "module_lr": "Cue recovery module learning rate.",
    "weight_decay": "AdamW weight decay.",
    "warmup_steps": "Linear warmup steps.",
    "lr_schedule": "After warmup: constant or cosine.",
    "max_grad_norm": "Gradient clipping norm (0: off).",
    "max_nonfinite_steps": "Stop after this many steps in a row with an inf/NaN loss or "
                           "gradient (each such step is skipped and counted).",
    "grad_accum": "Micro-batches per step for the student update (memory vs speed).",
    "freeze_vision": "Do not train the vision tower.",
    "grad_checkpointing": "Activation checkpointing [default: on for GPU, off for CPU].",
    "checkpoint_layers": "Decoder layers to checkpoint when checkpointing is on [default: "
                         "on GPU the fewest the memory plan needs on this device, else all].",
    "score_chunk_size": "Tokens per chunk when computing log-probs (caps logits memory).",
    "save_every": "Checkpoint every N steps (0: only at the end).",
    "keep_checkpoints": "Checkpoints to keep.",
    "eval_every": "Evaluate on --eval-shards every N steps (0: off).",
    "eval_batches": "Eval batches (fixed) per evaluation.",
    "log_every": "Write metrics every N steps.",
    "tensorboard": "Also write TensorBoard logs to RUN/tensorboard.",
    "wandb": "Also log to Weights & Biases (needs wandb).",
    "resume": "Continue from the run's latest intact checkpoint, if it has one.",
    "allow_config_change": "With --resume: accept training settings (lr, loss, batch "
                           "size...) that differ from the checkpoint's, and train with them.",
}
_CHOICES = {"privilege": PRIVILEGES, "lr_schedule": SCHEDULES, "rollout_engine": ROLLOUT_ENGINES,
            "dtype": DTYPES}


def _option(field: Any) -> Any:
    name = field.name.replace("_", "-")
    default = field.default if field.default is not MISSING else None
    kwargs: dict[str, Any] = {"help": HELP[field.name], "default": None}
    if field.name == "grad_checkpointing" or isinstance(default, bool):
        return click.option(f"--{name}/--no-{name}", field.name, **kwargs,
                            show_default=str(default) if default is not None else False)
    if field.name == "cue_layers":
        return click.option(f"--{name}", field.name, type=str, **kwargs)
    if field.name == "checkpoint_layers":
        return click.option(f"--{name}", field.name, type=click.IntRange(min=0), **kwargs)
    if field.name in _CHOICES:
        kwargs["type"] = click.Choice(_CHOICES[field.name])
    elif isinstance(default, (int, float)):
        kwargs["type"] = type(default)
    return click.option(f"--{name}", field.name, show_default=str(default) if default not in
                        (None, "") else False, **kwargs)


def _with_config_options(func: Any) -> Any:
    for field in reversed(fields(DistillConfig)):
        func = _option(field)(func)
    return func


@click.command("distill")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path),
              help="YAML file with any of these settings; flags given here override it.")
@_with_config_options
@click.pass_context
def distill_command(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Train a student (with its cue recovery module) against a cue-privileged teacher."""
    from cuekit.distill.config import load_config_file, resolve_config
    from cuekit.distill.recipe import run_distill

    given = {name: value for name, value in options.items()
             if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    if isinstance(given.get("cue_layers"), str):
        try:
            given["cue_layers"] = [int(v) for v in given["cue_layers"].split(",") if v.strip()]
        except ValueError:
            raise click.BadParameter("expected comma-separated integers",
                                     param_hint="--cue-layers") from None
    config = resolve_config(load_config_file(config_file) if config_file else {}, given)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    bar = StepProgress(config.max_steps)
    try:
        records = run_distill(config, progress=bar.update_record)
    finally:
        bar.close()
    if records and int(os.environ.get("RANK", "0")) == 0:  # one summary per job
        click.echo(_summary(config, records))


def _summary(config: Any, records: list[StepMetrics]) -> str:
    """One line: steps, the held-out KL path when evaluated (else the training estimate)."""
    from cuekit.distill.metrics import read_metrics

    evals = [r for r in read_metrics(config.run_dir) if "eval_reverse_kl" in r]
    if evals:
        path = " -> ".join(f"{r['eval_reverse_kl']:.5f} (step {r['step']})" for r in evals)
        kl = f"held-out reverse KL {path}"
    else:
        kl = (f"training reverse-KL estimate {records[0].reverse_kl:.4f} -> "
              f"{records[-1].reverse_kl:.4f}")
    return (f"distill: {records[-1].step} steps; {kl}; student saved to "
            f"{config.run_dir / 'student'}")


class StepProgress:
    """A tqdm bar with the live loss and KL on a terminal; one log line per step otherwise."""

    def __init__(self, total: int) -> None:
        self._bar = None
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc="distill", unit="step", dynamic_ncols=True)

    def update_record(self, record: StepMetrics) -> None:
        text = f"loss {record.loss:.4f} kl {record.reverse_kl:.4f}"
        if self._bar is not None:
            self._bar.n = record.step
            self._bar.set_postfix_str(text)
        else:
            logging.getLogger("cuekit.distill").info("step %d: %s, %.1f tok/s", record.step,
                                                     text, record.tokens_per_s)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
