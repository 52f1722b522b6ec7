"""Keyset pagination for catalog lists: newest first by ``(created_at, id)``, or by version for versions.

Invariant: a page never repeats or skips a row that existed when the first page was read, whatever is created
in between (new rows sort before the cursor and are simply not reached), because the cursor holds the last
key seen rather than an offset.
"""

from __future__ import annotations

from typing import Any

from corral.errors import ErrorCode, InvalidRequest
from corral.paging import Cursor, decode_cursor

ORDER = "desc"


def cursor_from(page: str | None, scope: str, arity: int) -> Cursor | None:
    """Decode ``page`` (None or empty: the first page); its key must have ``arity`` parts."""
    if not page:
        return None
    cursor = decode_cursor(page, order=ORDER, scope=scope)
    if len(cursor.key) != arity or cursor.direction != "next":
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    return cursor


def keyset_clause(cursor: Cursor | None, args: list[Any]) -> str | None:
    """``(created_at, id) < (cursor)`` for a descending scan, appending the values to ``args``."""
    if cursor is None:
        return None
    created, row_id = cursor.key
    if not isinstance(created, str) or not isinstance(row_id, str):
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    args.extend([created, row_id])
    a, b = len(args) - 1, len(args)
    return f"(created_at < ${a} OR (created_at = ${a} AND id < ${b}))"


def next_page(rows: list[Any], limit: int, scope: str, key: list[str]) -> str | None:
    """The cursor after the last row shown, when more rows follow."""
    if len(rows) <= limit:
        return None
    return Cursor(key=key, direction="next", order=ORDER, scope=scope).encode()
