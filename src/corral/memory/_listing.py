"""Listing a store's memories by path, with ``path_prefix`` and the ``depth`` roll-up into ``memory_prefix`` items.

Invariants:

* Items come in path order (code points), memories and prefixes interleaved as a directory listing would sort
  them; each prefix stands for every memory below it and appears once.
* A page is a keyset: its cursor holds the bound past the last item shown (past a memory's path, or past every
  path under a prefix: ``paths.upper``), so a page never repeats or skips an item that existed when the first page
  was read. A cursor serves only the list (store, prefix, depth) that made it.
* Rolling a directory up costs one more query, never a scan of what is under it: the next query starts past it.
"""

from __future__ import annotations

from corral.db import Flow, Row, all_rows
from corral.errors import ErrorCode, InvalidRequest
from corral.memory import _stores, paths
from corral.memory.records import MEMORY_COLUMNS, MemoryRecord, PrefixItem
from corral.paging import Cursor, Page, decode_cursor

ORDER = "path"
Bound = tuple[str, bool]
"""Where a scan starts: a path, and whether that path itself is included."""


def scope_of(store_id: str, prefix: str, depth: int) -> str:
    return f"memories:{store_id}:{depth}:{prefix}"


def bound_from(page: str | None, scope: str, prefix: str) -> Bound:
    if not page:
        return prefix, True
    key = decode_cursor(page, order=ORDER, scope=scope).key
    if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], bool) or key[0] < prefix:
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    return key[0], key[1]


def _after(item: MemoryRecord | PrefixItem) -> Bound:
    if isinstance(item, PrefixItem):
        return paths.upper(item.path), True
    return item.path, False


def _item(row: Row, prefix: str, depth: int) -> MemoryRecord | PrefixItem:
    memory = MemoryRecord.from_row(row)
    rolled = paths.rolled_up(memory.path, prefix, depth)
    return memory if rolled is None else PrefixItem(rolled)


def page(store_id: str, workspace_id: str, prefix: str, depth: int, limit: int, start: Bound, scope: str) -> Flow[Page]:
    yield from _stores.select(store_id, workspace_id)
    end = paths.upper(prefix)
    items: list[MemoryRecord | PrefixItem] = []
    bound, more = start, True
    while more and len(items) <= limit:
        want = limit + 1 - len(items)
        op = ">=" if bound[1] else ">"
        rows: list[Row] = yield all_rows(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE store_id = $1 AND path {op} $2 AND path < $3"
            " ORDER BY path LIMIT $4",
            store_id,
            bound[0],
            end,
            want,
        )
        more = len(rows) == want
        for row in rows:
            item = _item(row, prefix, depth)
            items.append(item)
            bound = _after(item)
            if isinstance(item, PrefixItem):
                more = True  # the rows after this one may be under the prefix: scan again past it
                break
    shown = items[:limit]
    token = None
    if len(items) > limit:
        last = _after(shown[-1])
        token = Cursor(key=[last[0], last[1]], direction="next", order=ORDER, scope=scope).encode()
    return Page(list(shown), token)
