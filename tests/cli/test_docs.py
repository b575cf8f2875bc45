import subprocess
import sys
from pathlib import Path

from cuekit.cli import cli
from cuekit.cli.docs import cli_reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_current():
    # A fresh interpreter, as the docs are generated: test modules register extra detector
    # backends in this process, and they would show up among --detector's choices.
    expected = subprocess.run(
        [sys.executable, "-m", "cuekit.cli.docs"], capture_output=True, text=True, check=True
    ).stdout
    assert DOCS.read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: run `python -m cuekit.cli.docs > docs/cli.md`"
    )


def test_every_command_has_a_one_line_summary():
    for name, command in cli.commands.items():
        summary = (command.help or "").strip().splitlines()[0]
        assert summary.endswith("."), name
        assert f"## cuekit {name}\n" in cli_reference(cli)
