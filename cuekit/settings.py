"""Typed command settings: one dataclass per command, every field documented once.

A field declared with :func:`setting` carries its default, its help text and how it
looks on the command line (flag name, short alias, choices, environment variable, or a
positional argument).
From the dataclass, :func:`click_options` generates the command's Click options (plus
``--config FILE.yaml``), and :func:`resolve` merges, lowest first: the dataclass
defaults, environment variables, the YAML file, and the flags given on the command line.

YAML and flags pass one typed schema (:func:`typed_values`), so a value of the wrong kind
is refused with its field and the expected type, never coerced by truthiness (YAML's
``no`` is a string) or rounded (2.5 steps). Numbers written the way YAML users write
them (PyYAML reads ``1e-6`` as a string) are accepted. Range and cross-field checks stay
in each dataclass's ``__post_init__``, which raises :class:`~cuekit.errors.ConfigError`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import click
import yaml
from click.core import ParameterSource
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    FiniteFloat,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
)

from cuekit.errors import ConfigError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
CONFIG_HELP = "YAML file with any of these settings; flags given here override it."


@dataclass(frozen=True)
class Cli:
    """How one setting appears on the command line."""

    help: str
    flag: str | None = None  # the long flag without dashes; None: the field name, dashed
    short: str | None = None  # e.g. "-o"
    envvar: str | None = None
    # Accepted values; a callable is asked when the options are built (a registry).
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    click_type: Any = None  # an explicit Click type (a Path that must exist, a range)
    switch: bool = False  # a bool as --x/--no-x; otherwise a bool is a plain --x flag
    multiple: bool = False  # the flag may repeat; the field is a tuple
    nargs: int = 1  # values one flag (or argument) takes; -1: an argument taking the rest
    # A positional argument (RUN, LOCATION...): given on the command line only, so the
    # --config file refuses it; Click keeps its help out of --help (the docstring names it).
    argument: bool = False
    show_default: str | bool | None = None  # None: show the default when it is not None
    mark_required: bool = True  # --help marks a setting without a default [required]

    def option_name(self, name: str) -> str:
        return f"--{self.flag or name.replace('_', '-')}"

    def choice_list(self) -> list[str] | None:
        if self.choices is None:
            return None
        return list(self.choices() if callable(self.choices) else self.choices)


def setting(default: Any = MISSING, description: str = "", **cli: Any) -> Any:
    """A dataclass field with its help text and command-line form (:class:`Cli`)."""
    return field(default=default, metadata={"cli": Cli(help=description, **cli)})


def cli_fields(*classes: type) -> list[Field[Any]]:
    """The fields of ``classes`` that are settings (in declaration order)."""
    return [f for cls in classes for f in fields(cls) if "cli" in f.metadata]


def _spec(f: Field[Any]) -> Cli:
    spec: Cli = f.metadata["cli"]
    return spec


# ---------------------------------------------------------------- the typed schema


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


def _path(value: Any) -> Any:
    if not isinstance(value, (str, Path)):
        raise ValueError("not a path")
    return Path(value)


_FLOAT = Annotated[FiniteFloat, BeforeValidator(_not_bool)]
_KINDS: dict[Any, tuple[Any, str]] = {
    int: (StrictInt, "an integer"),
    float: (_FLOAT, "a finite number"),
    bool: (StrictBool, "true or false"),
    str: (StrictStr, "a string"),
    Path: (Annotated[Path, BeforeValidator(_path)], "a path"),
    tuple[int, ...]: (tuple[StrictInt, ...], "a list of integers"),
    tuple[str, ...]: (tuple[StrictStr, ...], "a list of strings"),
    tuple[Path, ...]: (tuple[Annotated[Path, BeforeValidator(_path)], ...], "a list of paths"),
}


def _kind(annotation: Any) -> tuple[Any, str]:
    """(pydantic type, words for the error message) of a field annotation."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:  # X | None
            inner, words = _KINDS[args[0]]
            return inner | None, f"{words} or null"
    if get_origin(annotation) is Literal:  # its values are checked as the field's choices
        return _KINDS[str]
    return _KINDS[annotation]


@functools.cache
def _schema(classes: tuple[type, ...]) -> tuple[type[BaseModel], dict[str, str]]:
    kinds: dict[str, tuple[Any, str]] = {}
    for cls in classes:
        hints = get_type_hints(cls)
        kinds.update({f.name: _kind(hints[f.name]) for f in cli_fields(cls)})
    definitions: dict[str, Any] = {name: (kind, None) for name, (kind, _) in kinds.items()}
    model = create_model(
        f"{classes[0].__name__}Schema", __config__=ConfigDict(extra="forbid"), **definitions
    )
    return model, {name: words for name, (_, words) in kinds.items()}


def expected_kind(classes: Iterable[type], name: str) -> str:
    """Words for what setting ``name`` holds ("an integer", "a list of strings or null")."""
    return _schema(tuple(classes))[1][name]


def typed_values(classes: Iterable[type], data: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """``data`` (known setting names) checked and converted to each field's type, and
    checked against the field's choices."""
    classes = tuple(classes)
    model, words = _schema(classes)
    try:
        parsed = model.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0])
            problems.append(f"{name} must be {words[name]}, got {error['input']!r}")
        raise ConfigError(f"{origin}: {'; '.join(problems)}") from None
    values = {name: getattr(parsed, name) for name in data}
    specs = {f.name: _spec(f) for f in cli_fields(*classes)}
    for name, value in values.items():
        choices = specs[name].choice_list()
        items = value if isinstance(value, tuple) else (value,)
        bad = [v for v in items if choices is not None and v is not None and v not in choices]
        if bad:
            raise ConfigError(
                f"{origin}: {name} must be one of {', '.join(choices or [])}, got {bad[0]!r}"
            )
    return values


def normalise_keys(classes: Iterable[type], data: Mapping[Any, Any], origin: str) -> dict[str, Any]:
    """Keys as field names: a key is a field name or its flag, with dashes or underscores
    (``max-steps``, ``detector`` for ``--detector`` of ``detectors``); an unknown key is
    an error."""
    known: dict[str, str] = {}
    arguments = set()
    for f in cli_fields(*classes):
        known[f.name] = known[_spec(f).option_name(f.name)[2:].replace("-", "_")] = f.name
        if _spec(f).argument:
            arguments.add(f.name)
    out = {}
    for key, value in data.items():
        name = known.get(str(key).replace("-", "_"))
        if name is None:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
        if name in arguments:  # the command line always gives it, so the file could not
            raise ConfigError(f"{origin}: {key!r} is given on the command line, not in a file")
        if name in out:
            raise ConfigError(f"{origin}: {key!r} is given twice")
        out[name] = value
    return out


def load_file(classes: Iterable[type], path: str | Path) -> dict[str, Any]:
    """Settings from a YAML file (safe loader: plain data only), typed."""
    classes, path = tuple(classes), Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return typed_values(
        classes, normalise_keys(classes, data, f"config file {path}"), f"config file {path}"
    )


# ---------------------------------------------------------------- the command line


class IntListType(click.ParamType):
    """``--flag 0,5,10`` -> ``(0, 5, 10)``; YAML gives the list itself."""

    name = "integers"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            return tuple(int(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            self.fail("expected comma-separated integers", param, ctx)


INT_LIST = IntListType()


def _click_type(f: Field[Any], spec: Cli, annotation: Any) -> Any:
    if spec.click_type is not None:
        return spec.click_type
    choices = spec.choice_list()
    if choices is not None:
        return click.Choice(choices)
    base = annotation
    if get_origin(annotation) in (Union, types.UnionType):
        base = next(a for a in get_args(annotation) if a is not type(None))
    if base is Path or base == tuple[Path, ...]:
        return click.Path(path_type=Path)
    return {int: int, float: float}.get(base)


class _RequiredOption(click.Option):
    """An option --help marks [required] that Click does not enforce: the ``--config``
    file may hold it instead, and :func:`build` names it when neither does."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        extra["required"] = "required"
        return extra


def _argument(f: Field[Any], spec: Cli, annotation: Any) -> Callable[[F], F]:
    required = f.default is MISSING and f.default_factory is MISSING
    extra: dict[str, Any] = {} if required else {"default": f.default}
    return click.argument(
        f.name, type=_click_type(f, spec, annotation), nargs=spec.nargs, required=required, **extra
    )


def _option(f: Field[Any], annotation: Any) -> Callable[[F], F]:
    spec = _spec(f)
    if spec.argument:
        return _argument(f, spec, annotation)
    name = spec.option_name(f.name)
    default = None if f.default is MISSING else f.default
    shown = spec.show_default if spec.show_default is not None else default not in (None, "")
    # Click's default only shows in --help: resolve() takes a value from Click only when
    # its source is the command line or the environment, so the file can override a default.
    kwargs: dict[str, Any] = {"help": spec.help, "default": default, "envvar": spec.envvar}
    if f.default is MISSING and f.default_factory is MISSING and spec.mark_required:
        kwargs["cls"] = _RequiredOption
    if annotation is bool or annotation == bool | None:
        if spec.switch:
            return click.option(f"{name}/--no-{name[2:]}", f.name, show_default=shown, **kwargs)
        return click.option(name, f.name, is_flag=True, **kwargs)
    decls = [name, *([spec.short] if spec.short else []), f.name]
    return click.option(
        *decls,
        type=_click_type(f, spec, annotation),
        multiple=spec.multiple,
        nargs=spec.nargs,
        show_default=shown,
        **kwargs,
    )


def click_options(*classes: type) -> Callable[[F], F]:
    """Decorate a Click command with one option (or argument) per setting of ``classes``,
    and ``--config`` (passed as ``config_file``) unless every setting is an argument."""

    def decorate(func: F) -> F:
        for cls in reversed(classes):
            hints = get_type_hints(cls)
            for f in reversed(cli_fields(cls)):
                func = _option(f, hints[f.name])(func)
        if all(_spec(f).argument for f in cli_fields(*classes)):
            return func  # nothing a file could set: no --config (nor a config_file parameter)
        return click.option(
            "--config",
            "config_file",
            help=CONFIG_HELP,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
        )(func)

    return decorate


def resolve(
    classes: Sequence[type],
    ctx: click.Context,
    options: Mapping[str, Any],
    config_file: Path | None = None,
) -> dict[str, Any]:
    """The settings a command runs with: dataclass defaults < environment variables <
    ``config_file`` < flags given on the command line. Only values given somewhere are
    returned; :func:`build` fills in the defaults."""
    classes = tuple(classes)
    sources = {name: ctx.get_parameter_source(name) for name in options}
    env = {n: v for n, v in options.items() if sources[n] == ParameterSource.ENVIRONMENT}
    given = {n: v for n, v in options.items() if sources[n] == ParameterSource.COMMANDLINE}
    from_file = load_file(classes, config_file) if config_file is not None else {}
    return {
        **typed_values(classes, env, "environment"),
        **from_file,
        **typed_values(classes, given, "command line"),
    }


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """An instance of ``cls`` from the ``values`` that are its settings; a required one
    that is missing is named by its flag."""
    own = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {name: value for name, value in values.items() if name in own}
    for name, f in own.items():
        if name not in kwargs and f.default is MISSING and f.default_factory is MISSING:
            flag = _spec(f).option_name(name) if "cli" in f.metadata else name
            raise ConfigError(f"{flag} is required")
    return cls(**kwargs)


def settings_command(name: str, *classes: type) -> Callable[[Callable[..., None]], click.Command]:
    """A Click command ``name`` whose options come from ``classes``; the decorated function
    receives one built instance per class, in that order.

    Every command shares the same preamble (options, ``--config``, :func:`resolve`,
    :func:`build`), so it is written once here and a command's body holds only its job.
    The function's docstring is the command's help.
    """

    def decorate(func: Callable[..., None]) -> click.Command:
        @click.pass_context
        def command(ctx: click.Context, config_file: Path | None = None, **options: Any) -> None:
            values = resolve(classes, ctx, options, config_file)
            func(*(build(cls, values) for cls in classes))

        command.__doc__ = func.__doc__
        return click.command(name)(click_options(*classes)(command))

    return decorate
