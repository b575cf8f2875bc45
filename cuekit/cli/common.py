"""CLI plumbing: cuekit errors become one-line messages unless --debug is given."""

from __future__ import annotations

from typing import Any

import click

from cuekit.errors import ConfigError, CuekitError


class CuekitGroup(click.Group):
    """A group whose commands turn library exceptions into ``click`` errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except ConfigError as exc:
            if _debug(ctx):
                raise
            raise click.UsageError(str(exc)) from None
        except CuekitError as exc:
            if _debug(ctx):
                raise
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:  # unexpected: still one line, the traceback on --debug
            if _debug(ctx):
                raise
            raise click.ClickException(
                f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
            ) from None


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug") or (ctx.obj or {}).get("debug"))
