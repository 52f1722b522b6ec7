"""``GET /v1/sessions/{id}/events``: filtered, ordered, keyset-paginated reads of one session's log."""

from __future__ import annotations

from dataclasses import dataclass

from corral.db import Flow, Row, Where, all_rows, split_page
from corral.session._log import EVENT_COLUMNS, event_from_row
from corral.session.events import Event


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


def page(query: EventQuery) -> Flow[tuple[list[Event], bool]]:
    """One page of events plus whether more follow."""
    descending = query.order == "desc"
    where = Where().equals("session_id", query.session_id)
    if query.after_seq is not None:
        where.after(("seq",), (query.after_seq,), descending=descending)
    if query.types:
        where.one_of("type", query.types)
    where.within(
        "COALESCE(processed_at, created_at)",
        gt=query.created_gt,
        gte=query.created_gte,
        lt=query.created_lt,
        lte=query.created_lte,
    )
    most = where.bind(query.limit + 1)
    direction = "DESC" if descending else "ASC"
    rows: list[Row] = yield all_rows(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY seq {direction} LIMIT {most}", *where.args
    )
    shown, more = split_page(rows, query.limit)
    return [event_from_row(row) for row in shown], more
