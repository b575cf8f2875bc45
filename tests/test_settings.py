"""Typed command settings: options generated from a dataclass, YAML parsed by the same schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cuekit.cli.common import CuekitGroup
from cuekit.errors import ConfigError
from cuekit.settings import (
    INT_LIST,
    build,
    click_options,
    load_file,
    resolve,
    setting,
    typed_values,
)


@dataclass(frozen=True)
class Toy:
    output: Path = setting(description="Where to write.", short="-o")
    steps: int = setting(3, "Steps to run.")
    rate: float = setting(0.5, "A rate.")
    mode: str = setting("fast", "How.", choices=("fast", "slow"))
    tags: tuple[str, ...] = setting(("a",), "A tag; repeat.", flag="tag", multiple=True)
    limit: int | None = setting(None, "At most this many.")
    plots: bool = setting(True, "Draw plots.", switch=True)
    strict: bool = setting(False, "Stop at the first error.")
    model: str | None = setting(None, "A model.", envvar="TOY_MODEL")
    layers: tuple[int, ...] | None = setting(None, "Layers, comma-separated.", click_type=INT_LIST)
    hidden: int = 7  # not a setting: no flag, not in YAML

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {self.steps}")


@click.group(cls=CuekitGroup)
def group() -> None:
    """Test group."""


@group.command("toy")
@click_options(Toy)
@click.pass_context
def toy(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Print the resolved settings."""
    click.echo(repr(build(Toy, resolve([Toy], ctx, options, config_file))))


def _run(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(group, ["toy", *args], env=env)


def test_defaults_come_from_the_dataclass_and_show_in_help() -> None:
    result = _run("-o", "out")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr(Toy(output=Path("out")))
    text = _run("--help").output
    assert "Steps to run.  [default: 3]" in text and "--plots / --no-plots" in text
    assert "-o, --output PATH" in text and "[required]" in text and "--config FILE" in text
    assert "--hidden" not in text


def test_flags_override_the_file_which_overrides_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "toy.yaml"
    config.write_text(
        "output: from-file\nsteps: 5\nrate: 1e-3\ntag: [x, y]\nmodel: file-model\nplots: false\n"
    )
    result = _run("--config", str(config), "--steps", "9", env={"TOY_MODEL": "env-model"})
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr(
        Toy(
            output=Path("from-file"),
            steps=9,
            rate=1e-3,
            tags=("x", "y"),
            model="file-model",
            plots=False,
        )
    )
    assert _run("-o", "x", env={"TOY_MODEL": "env-model"}).output.strip() == repr(
        Toy(output=Path("x"), model="env-model")
    )
    tagged = _run("--config", str(config), "--tag", "z")
    assert tagged.output.strip() == repr(
        Toy(
            output=Path("from-file"),
            steps=5,
            rate=1e-3,
            tags=("z",),
            model="file-model",
            plots=False,
        )
    )


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("steps: 2.5\n", "steps must be an integer, got 2.5"),
        ("steps: '4'\n", "steps must be an integer, got '4'"),
        ("strict: 'no'\n", "strict must be true or false, got 'no'"),
        ("rate: true\n", "rate must be a finite number, got True"),
        ("limit: [1]\n", "limit must be an integer or null, got [1]"),
        ("tags: a\n", "tags must be a list of strings, got 'a'"),
        ("mode: medium\n", "mode must be one of fast, slow, got 'medium'"),
        ("stepz: 1\n", "unknown setting 'stepz'"),
        ("hidden: 1\n", "unknown setting 'hidden'"),
        ("tag: [b]\ntags: [c]\n", "'tags' is given twice"),
        ("- steps\n", "must hold a mapping of settings"),
    ],
)
def test_a_wrong_yaml_value_names_its_field(tmp_path: Path, yaml_text: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("output: o\n" + yaml_text if not yaml_text.startswith("-") else yaml_text)
    with pytest.raises(ConfigError, match="^" + "config file " + str(config).replace(".", r"\.")):
        load_file([Toy], config)
    result = _run("--config", str(config))
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_missing_required_and_range_errors_are_usage_errors(tmp_path: Path) -> None:
    missing = _run("--steps", "2")
    assert missing.exit_code == 2 and "Error: --output is required" in missing.output
    low = _run("-o", "x", "--steps", "0")
    assert low.exit_code == 2 and "Error: --steps must be >= 1, got 0" in low.output
    bad_choice = _run("-o", "x", "--mode", "medium")
    assert bad_choice.exit_code == 2 and "Invalid value for '--mode'" in bad_choice.output


def test_typed_values_accepts_paths_and_refuses_numbers_for_them() -> None:
    assert typed_values([Toy], {"output": "a/b"}, "here") == {"output": Path("a/b")}
    with pytest.raises(ConfigError, match=r"^here: output must be a path, got 3$"):
        typed_values([Toy], {"output": 3}, "here")


def test_integer_lists_come_comma_separated_on_the_command_line_and_as_lists_in_yaml(
    tmp_path: Path,
) -> None:
    assert _run("-o", "x", "--layers", "0,5, 10").output.strip() == repr(
        Toy(output=Path("x"), layers=(0, 5, 10))
    )
    bad = _run("-o", "x", "--layers", "0,x")
    assert bad.exit_code == 2
    assert "Invalid value for '--layers': expected comma-separated integers" in bad.output
    config = tmp_path / "toy.yaml"
    config.write_text("output: x\nlayers: [1, 2]\n")
    assert _run("--config", str(config)).output.strip() == repr(
        Toy(output=Path("x"), layers=(1, 2))
    )


@dataclass(frozen=True)
class Pair:
    first: Path = setting(description="The first folder.", argument=True)
    rest: tuple[str, ...] = setting((), "More names.", argument=True, nargs=-1)
    both: tuple[Path, ...] | None = setting(None, "Two paths.", nargs=2)


@dataclass(frozen=True)
class Only:
    target: Path = setting(description="The one folder.", argument=True)


@group.command("pair")
@click_options(Pair)
@click.pass_context
def pair(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Print the resolved arguments."""
    click.echo(repr(build(Pair, resolve([Pair], ctx, options, config_file))))


@group.command("only")
@click_options(Only)
@click.pass_context
def only(ctx: click.Context, **options: Any) -> None:
    """A command whose settings are all arguments."""
    click.echo(repr(build(Only, resolve([Only], ctx, options))))


def test_arguments_come_positional_and_never_from_the_file(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(group, ["pair", "a", "x", "y", "--both", "p", "q"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr(
        Pair(first=Path("a"), rest=("x", "y"), both=(Path("p"), Path("q")))
    )
    help_text = runner.invoke(group, ["pair", "--help"]).output
    assert "Usage: group pair [OPTIONS] FIRST [REST]..." in help_text
    assert "--both PATH...  Two paths." in help_text
    config = tmp_path / "pair.yaml"
    config.write_text("both: [m, n]\n")
    from_file = runner.invoke(group, ["pair", "a", "--config", str(config)])
    assert from_file.output.strip() == repr(
        Pair(first=Path("a"), rest=(), both=(Path("m"), Path("n")))
    )
    config.write_text("first: b\n")
    refused = runner.invoke(group, ["pair", "a", "--config", str(config)])
    assert refused.exit_code == 2
    assert f"config file {config}: 'first' is given on the command line, not in a file" in (
        refused.output
    )
    missing = runner.invoke(group, ["pair"])
    assert missing.exit_code == 2 and "Missing argument 'FIRST'" in missing.output


def test_a_command_of_arguments_only_has_no_config_option() -> None:
    runner = CliRunner()
    assert runner.invoke(group, ["only", "t"]).output.strip() == repr(Only(target=Path("t")))
    help_text = runner.invoke(group, ["only", "--help"]).output
    assert "Usage: group only [OPTIONS] TARGET" in help_text and "--config" not in help_text
