"""Keyset pagination of vaults and credentials: newest first by ``(created_at, id)``.

Invariant: a page never repeats or skips a row that existed when the first page was read, whatever is created
in between, because the cursor holds the last key seen (``corral.db.Where.after``), never an offset. A cursor
is valid only for the list (``scope``) that made it.
"""

from __future__ import annotations

from collections.abc import Sequence

from corral.db import Where
from corral.errors import ErrorCode, InvalidRequest
from corral.paging import Cursor, decode_cursor

ORDER = "desc"


def _bad() -> InvalidRequest:
    return InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)


def cursor_from(page: str | None, scope: str) -> Cursor | None:
    """Decode ``page`` (None or empty: the first page)."""
    if not page:
        return None
    cursor = decode_cursor(page, order=ORDER, scope=scope)
    if len(cursor.key) != 2 or cursor.direction != "next":
        raise _bad()
    if not all(isinstance(part, str) for part in cursor.key):
        raise _bad()
    return cursor


def after_cursor(where: Where, cursor: Cursor | None) -> Where:
    if cursor is None:
        return where
    return where.after(("created_at", "id"), (str(cursor.key[0]), str(cursor.key[1])), descending=True)


def next_page(rows: Sequence[object], limit: int, scope: str, key: list[str]) -> str | None:
    """The cursor after the last row shown, when more rows follow."""
    if len(rows) <= limit:
        return None
    return Cursor(key=key, direction="next", order=ORDER, scope=scope).encode()
