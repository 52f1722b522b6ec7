"""The ``corral`` command line: thin; parses arguments and calls the composition roots."""

from __future__ import annotations

import typer

from corral import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, help="corral: a self-hostable Managed Agents runtime.")


@app.command()
def version() -> None:
    """Print corral's version."""
    typer.echo(__version__)


def main() -> None:
    app()
