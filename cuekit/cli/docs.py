"""Render the CLI reference (docs/cli.md) from the commands' real ``--help`` output."""

from __future__ import annotations

import click
from click.testing import CliRunner

HEADER = (
    "# cuekit command reference\n\n"
    "Generated from `cuekit COMMAND --help` by `python -m cuekit.cli.docs > docs/cli.md`;\n"
    "a test fails when this file and the commands disagree.\n"
)


def cli_reference(group: click.Group) -> str:
    """Markdown with the group's help and each command's, in name order."""
    runner = CliRunner()
    top = runner.invoke(group, ["--help"], prog_name="cuekit", terminal_width=100)
    parts = [HEADER, "## cuekit\n", _fenced(top.output)]
    for name in sorted(group.commands):
        result = runner.invoke(group, [name, "--help"], prog_name="cuekit", terminal_width=100)
        parts += [f"## cuekit {name}\n", _fenced(result.output)]
    return "\n".join(parts)


def _fenced(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```\n"


if __name__ == "__main__":
    from cuekit.cli import cli

    print(cli_reference(cli), end="")
