"""`cuekit schema`: print the JSON Schema of cuekit's records."""

from __future__ import annotations

import click

from cuekit.schemas import json_schema_text


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of every cuekit record."""
    click.echo(json_schema_text())
