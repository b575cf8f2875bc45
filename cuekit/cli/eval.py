"""`cuekit eval`: answer accuracy of a model, or a paired comparison of two eval runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from cuekit.cli.compare import EvalCompare, compare_and_report
from cuekit.evaluate.config import BootstrapSettings, EvalConfig
from cuekit.settings import build, click_options, resolve

EVAL_SETTINGS = (EvalConfig, BootstrapSettings, EvalCompare)


# Not a settings_command: with --compare, EvalConfig (which needs --model) is never built.
@click.command("eval")
@click_options(*EVAL_SETTINGS)
@click.pass_context
def eval_command(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Generate answers, extract and verify them, and report accuracy per source."""
    values = resolve(EVAL_SETTINGS, ctx, options, config_file)
    compare = build(EvalCompare, values).compare
    if compare:  # kept for existing scripts: `cuekit compare A B` is the command
        bootstrap = build(BootstrapSettings, values)
        compare_and_report(
            compare[0],
            compare[1],
            values.get("output"),
            resamples=bootstrap.resamples,
            confidence=bootstrap.confidence,
            seed=values.get("seed", 0),
        )
        return
    from cuekit.evaluate.eval import format_table, run_eval

    config = build(EvalConfig, values)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = run_eval(config)
    click.echo(format_table(summary))
    methods = ", ".join(f"{k} {v}" for k, v in summary["methods"].items())
    click.echo(
        f"answers found by: {methods}; {summary['unfinished']} hit --max-new-tokens; "
        f"{summary['new_tokens_per_s']} new tok/s"
    )
    if summary["skipped_rows"]:
        click.echo(
            f"skipped {summary['skipped_rows']} unusable rows, e.g. "
            f"{json.dumps(summary['skipped_examples'][0])}"
        )
    click.echo(f"predictions and summary written to {config.output}")
