"""A self-hosted worker's ``user.tool_result``: one per call, for a call the worker's side runs.

Invariant: checked in the transaction that appends the results (``SessionStore.send_client_events``'s ``guard``),
so of two sends of the same result (a worker's retry after a lost response, or two workers) exactly one is
written; the other is refused with 409 and nothing of its batch is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from corral.db import Flow, Row, one
from corral.errors import Conflict, ErrorCode, InvalidRequest


def results_once(session_id: str, tool_use_ids: Sequence[str]) -> Callable[[], Flow[None]]:
    """The guard of a batch answering ``tool_use_ids``: each a client call of this session, answered once."""

    def guard() -> Flow[None]:
        for tool_use_id in tool_use_ids:
            yield from _check(session_id, tool_use_id)
        return None

    if len(set(tool_use_ids)) != len(tool_use_ids):
        raise InvalidRequest("a batch answers each tool_use_id at most once", code=ErrorCode.UNKNOWN_TOOL_USE)
    return guard


def _check(session_id: str, tool_use_id: str) -> Flow[None]:
    call: Row | None = yield one(
        "SELECT seq, type, payload FROM events WHERE id = $1 AND session_id = $2", tool_use_id, session_id
    )
    if call is None or call["type"] != "agent.tool_use" or json.loads(call["payload"]).get("executor") != "client":
        raise InvalidRequest(
            f"tool_use_id {tool_use_id!r} does not name a call of this session that its worker runs",
            code=ErrorCode.UNKNOWN_TOOL_USE,
        )
    answered: Row | None = yield one(
        "SELECT id FROM events WHERE session_id = $1 AND seq > $2 AND type = 'user.tool_result'"
        " AND payload LIKE $3 LIMIT 1",
        session_id,
        int(call["seq"]),
        f'%"{tool_use_id}"%',
    )
    if answered is not None:
        raise Conflict(f"tool_use_id {tool_use_id!r} already has its result ({answered['id']})")
    return None
