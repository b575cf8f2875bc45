"""`cuekit eval`: answer accuracy of a model, or a paired comparison of two eval runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from cuekit.cli.common import prompt_style_options
from cuekit.cli.compare import bootstrap_options, compare_and_report
from cuekit.devices import DTYPES


@click.command("eval")
@click.option("--model", envvar="CUEKIT_MODEL",
              help="Distill run folder (uses RUN/student), student or HF folder, alias "
                   "(qwen3-vl-2b...), hub id or tiny-random.")
@click.option("--shards", default=None,
              help="Samples from a `cuekit shard` or `cuekit extract` folder, brace pattern "
                   "or URLs.")
@click.option("--dataset", default=None,
              help="Samples from anything `cuekit extract --dataset` reads (sample, HF id, file).")
@click.option("--split", default="test", show_default=True, help="Split of --dataset.")
@click.option("--name", default=None, help="HF configuration name of --dataset.")
@click.option("--output", "-o", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for predictions.parquet and summary.json (compare.json with --compare).")
@click.option("--max-new-tokens", default=4096, show_default=True, type=int,
              help="Longest answer, in tokens.")
@click.option("--temperature", default=0.7, show_default=True, type=float,
              help="Sampling temperature (0: greedy). Defaults are the paper's eval settings.")
@click.option("--top-p", default=0.8, show_default=True, type=float, help="Nucleus sampling.")
@click.option("--top-k", default=20, show_default=True, type=int, help="Top-k sampling (0: off).")
@click.option("--batch-size", default=8, show_default=True, type=int,
              help="Prompts generated together.")
@click.option("--limit", default=None, type=int, help="Evaluate only the first N samples.")
@click.option("--seed", default=0, show_default=True, type=int, help="Sampling seed.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1...")
@click.option("--dtype", type=click.Choice(DTYPES), default="auto",
              show_default=True, help="auto: bf16 on GPU, fp32 on CPU.")
@click.option("--choices-in-prompt/--no-choices-in-prompt", default=True, show_default=True,
              help="Append a multiple-choice question's options when it does not list them.")
@click.option("--privilege", type=click.Choice(["none", "cue", "answer"]), default="none",
              show_default=True,
              help="Add the cue (needs --shards) or the answer hint to the prompt, as a "
                   "privileged teacher sees it; none is the student's prompt.")
@click.option("--rollout-compile/--no-rollout-compile", default=False, show_default=True,
              help="Compile the decode step (CUDA graphs on GPU); falls back to eager.")
@click.option("--compare", nargs=2, default=None,
              type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Compare two eval output folders A B on their shared samples instead "
                   "(the same as `cuekit compare A B`).")
@bootstrap_options
@prompt_style_options
def eval_command(model: str | None, shards: str | None, dataset: str | None, split: str,
                 name: str | None, output: Path | None, max_new_tokens: int,
                 temperature: float, top_p: float, top_k: int, batch_size: int,
                 limit: int | None, seed: int, device: str, dtype: str,
                 choices_in_prompt: bool, privilege: str, rollout_compile: bool,
                 compare: tuple[Path, Path] | None, resamples: int,
                 confidence: float, system_prompt: str | None, instruction: str | None) -> None:
    """Generate answers, extract and verify them, and report accuracy per source."""
    if compare:  # kept for existing scripts: `cuekit compare A B` is the command
        compare_and_report(compare[0], compare[1], output, resamples=resamples,
                           confidence=confidence, seed=seed)
        return
    if not model:
        raise click.UsageError("--model is required (or pass --compare A B)")
    if output is None:
        raise click.UsageError("--output is required")
    from cuekit.evaluate.eval import EvalConfig, format_table, run_eval

    config = EvalConfig(model=model, output=output, shards=shards, dataset=dataset,
                        split=split, name=name, max_new_tokens=max_new_tokens,
                        temperature=temperature, top_p=top_p, top_k=top_k,
                        batch_size=batch_size, limit=limit, seed=seed, device=device,
                        dtype=dtype, choices_in_prompt=choices_in_prompt,
                        rollout_compile=rollout_compile, privilege=privilege,
                        system_prompt=system_prompt, instruction=instruction)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = run_eval(config)
    click.echo(format_table(summary))
    methods = ", ".join(f"{k} {v}" for k, v in summary["methods"].items())
    click.echo(f"answers found by: {methods}; {summary['unfinished']} hit --max-new-tokens; "
               f"{summary['new_tokens_per_s']} new tok/s")
    if summary["skipped_rows"]:
        click.echo(f"skipped {summary['skipped_rows']} unusable rows, e.g. "
                   f"{json.dumps(summary['skipped_examples'][0])}")
    click.echo(f"predictions and summary written to {output}")
