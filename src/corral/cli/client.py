"""The CLI's side of the API: an official-SDK client for a server URL and key, and output for people or scripts.

The client commands (``agents``, ``environments``, ``sessions``, ``chat``) are clients like any other: they speak
HTTP to a server (``--url`` / ``CORRAL_URL``) with a key (``CORRAL_API_KEY``) and never open a database.

Invariants: ``--json`` output is one JSON document (``show``, ``create``) or one JSON array (``list``) on stdout,
or one event per line (``tail``); the human forms are for reading only and may change.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.table import Table

from corral._types import JSONObject, json_object

if TYPE_CHECKING:
    import anthropic

DEFAULT_URL = "http://127.0.0.1:8080"

Url = Annotated[str, typer.Option("--url", envvar="CORRAL_URL", help="The server (default CORRAL_URL or localhost).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


class Dumpable(Protocol):
    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


class ClientError(Exception):
    """A mistake of the caller's to report as one line (no key, a bad argument)."""


def connect(url: str = DEFAULT_URL, *, max_retries: int = 2) -> anthropic.Anthropic:
    """A client of the server at ``url`` with the key in ``CORRAL_API_KEY``."""
    import anthropic  # here: the SDK takes seconds to import, which `corral serve` and `--version` need not pay

    key = os.environ.get("CORRAL_API_KEY")
    if not key:
        raise ClientError(
            "CORRAL_API_KEY is not set: the key the server printed on its first start, or one from `corral keys create`"
        )
    return anthropic.Anthropic(base_url=url or DEFAULT_URL, api_key=key, max_retries=max_retries)


def as_json(item: Dumpable) -> JSONObject:
    return item.model_dump(mode="json")


def print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def print_items(items: Iterable[Dumpable], columns: Sequence[str], *, as_script: bool) -> None:
    """``items`` as a JSON array, or as a table of ``columns`` (dotted paths into each item's JSON)."""
    rows = [as_json(item) for item in items]
    if as_script:
        print_json(rows)
        return
    table = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(cell(row, column) for column in columns))
    console = Console()
    if not console.is_terminal:  # piped: whole rows, for grep and cut
        console = Console(width=10_000)
    console.print(table)


def print_item(item: Dumpable, *, as_script: bool) -> None:
    """One resource: JSON, or its fields one a line (nested values as compact JSON)."""
    data = as_json(item)
    if as_script:
        print_json(data)
        return
    for key, value in data.items():
        if value not in (None, [], {}):
            typer.echo(f"{key}: {value if isinstance(value, str | int | float) else json.dumps(value)}")


def cell(row: JSONObject, path: str) -> str:
    value: object = row
    for part in path.split("."):
        value = (json_object(value) or {}).get(part)
    return "" if value is None else str(value)
