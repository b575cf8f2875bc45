"""The `cuekit` command line: one Click group, one module per command."""

from __future__ import annotations

import click

from cuekit import __version__
from cuekit.cli.audit import audit_command
from cuekit.cli.common import CuekitGroup
from cuekit.cli.compare import compare_command
from cuekit.cli.distill import distill_command
from cuekit.cli.eval import eval_command
from cuekit.cli.export import export_command, export_student_command
from cuekit.cli.extract import extract_command, merge_command
from cuekit.cli.inspect import inspect_command
from cuekit.cli.schema import schema_command
from cuekit.cli.shard import shard_command
from cuekit.cli.verify import verify_command


@click.group(cls=CuekitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cuekit")
@click.option(
    "--debug",
    is_flag=True,
    envvar="CUEKIT_DEBUG",
    help="Show full tracebacks instead of one-line errors.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """cuekit: visually grounded privileged-teacher distillation for VLMs.

    Stages run in order: `extract` grounds each question's phrases in its image
    and renders cue text for the teacher; `shard` writes WebDataset shards;
    `distill` trains a student against a cue-privileged teacher. Run
    `cuekit COMMAND -h` for the options of each.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


cli.add_command(schema_command)
cli.add_command(extract_command)
cli.add_command(merge_command)
cli.add_command(shard_command)
cli.add_command(verify_command)
cli.add_command(inspect_command)
cli.add_command(distill_command)
cli.add_command(eval_command)
cli.add_command(compare_command)
cli.add_command(audit_command)
cli.add_command(export_command)
cli.add_command(export_student_command)


def main() -> None:
    cli(prog_name="cuekit")


if __name__ == "__main__":
    main()
