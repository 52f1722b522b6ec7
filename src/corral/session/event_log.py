"""``GET /v1/sessions/{id}/events``: filtered, ordered, keyset-paginated reads of one session's log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.db import Flow, all_rows
from corral.session._flows import EVENT_COLUMNS, event_from_row

_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class EventQuery:
    session_id: str
    order: str = "asc"
    limit: int = 1000
    after_seq: int | None = None  # keyset position from a cursor (exclusive)
    types: tuple[str, ...] = ()
    created_gt: str | None = None
    created_gte: str | None = None
    created_lt: str | None = None
    created_lte: str | None = None


def page(query: EventQuery) -> Flow:
    """One page of events plus whether more follow."""
    clauses = ["session_id = $1"]
    args: list[Any] = [query.session_id]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    descending = query.order == "desc"
    if query.after_seq is not None:
        add("seq < ?" if descending else "seq > ?", query.after_seq)
    if query.types:
        marks = []
        for kind in query.types:
            args.append(kind)
            marks.append(f"${len(args)}")
        clauses.append(f"type IN ({', '.join(marks)})")
    stamp = "COALESCE(processed_at, created_at)"
    for op, value in (
        ("gt", query.created_gt),
        ("gte", query.created_gte),
        ("lt", query.created_lt),
        ("lte", query.created_lte),
    ):
        if value is not None:
            add(f"{stamp} {_OPS[op]} ?", value)
    args.append(query.limit + 1)
    direction = "DESC" if descending else "ASC"
    rows = yield all_rows(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY seq {direction} LIMIT ${len(args)}",
        *args,
    )
    return [event_from_row(row) for row in rows[: query.limit]], len(rows) > query.limit
