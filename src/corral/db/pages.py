"""Keyset pagination of the list endpoints kept in rows with ``(created_at, id)`` (agents, environments, vaults,
credentials …): newest first, or by a key of one part (agent versions).

Invariant: a page never repeats or skips a row that existed when the first page was read, whatever is created
in between (new rows sort before the cursor and are simply not reached), because the cursor holds the last
key seen rather than an offset (``corral.db.Where.after``). ``newest_first`` is the one flow that reads such a
page; a list adds its own filters to the ``Where`` it passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from corral.db.query import Flow, Row, all_rows
from corral.db.where import Where
from corral.errors import ErrorCode, InvalidRequest
from corral.paging import Cursor, Page, decode_cursor

ORDER = "desc"


class Keyed(Protocol):
    """A record listed newest first: its key is ``(created_at, id)``."""

    @property
    def created_at(self) -> str: ...

    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=Keyed)


def cursor_from(page: str | None, scope: str, arity: int = 2) -> Cursor | None:
    """Decode ``page`` (None or empty: the first page); its key must have ``arity`` parts. A cursor is valid only
    for the list (``scope``) that made it."""
    if not page:
        return None
    cursor = decode_cursor(page, order=ORDER, scope=scope)
    if len(cursor.key) != arity or cursor.direction != "next":
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    return cursor


def after_cursor(where: Where, cursor: Cursor | None) -> Where:
    """Add ``(created_at, id) < (cursor)`` for a descending scan (nothing for the first page)."""
    if cursor is None:
        return where
    created, row_id = cursor.key
    if not isinstance(created, str) or not isinstance(row_id, str):
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    return where.after(("created_at", "id"), (created, row_id), descending=True)


def next_page(rows: Sequence[object], limit: int, scope: str, key: list[str]) -> str | None:
    """The cursor after the last row shown, when more rows follow."""
    if len(rows) <= limit:
        return None
    return Cursor(key=key, direction="next", order=ORDER, scope=scope).encode()


def newest_first(
    table: str, columns: str, where: Where, limit: int, cursor: Cursor | None, scope: str, record: Callable[[Row], R]
) -> Flow[Page]:
    """One page of ``table``'s rows matching ``where``, newest first by ``(created_at, id)``, after ``cursor``;
    ``record`` makes each item, and the next page's cursor is valid for ``scope`` only."""
    after_cursor(where, cursor)
    most = where.bind(limit + 1)
    rows: list[Row] = yield all_rows(
        f"SELECT {columns} FROM {table} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT {most}", *where.args
    )
    items = [record(row) for row in rows[:limit]]
    key = [items[-1].created_at, items[-1].id] if items else []
    return Page(items, next_page(rows, limit, scope, key))
