"""Exactly-once MCP calls: a journal keyed by ``(session_id, tool_use_id)`` in the database (``mcp_calls``), so that
every worker sees it (the sandbox journal, ``corral.sandbox.journal``, keeps the same rules in files).

* A call with a recorded end returns that end and is not made again.
* A call that started but has no recorded end, and is not running in this process, was interrupted (its worker
  died or lost the session mid-call): it is answered with an ``interrupted`` error, which is recorded, and it is
  never made again, because the server may have acted on it.
* The same call arriving twice in one process while it runs waits for the one call.

Invariants: the start is committed before the request leaves; the first recorded end wins (a worker that lost
the session and finishes late changes nothing); rows go with their session (``ON DELETE CASCADE``); what is
recorded has been redacted already (no credential is ever written).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from corral.db import Database, Flow, Row, exec_, one
from corral.ids import now, rfc3339
from corral.sandbox.base import ToolResult


def interrupted(name: str) -> ToolResult:
    return ToolResult.error(
        f"{name}: interrupted: this MCP call started but never finished (its worker stopped), "
        "so it was not made again; check its effects before retrying"
    )


@dataclass(frozen=True)
class Failure:
    """The server failure behind an error result: its ``session.error`` type and message."""

    type: str
    message: str


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its result and, when the server failed it (not the tool), that failure."""

    result: ToolResult
    failure: Failure | None = None


def _result_json(result: ToolResult) -> str:
    return json.dumps({"content": result.content, "is_error": result.is_error})


def _outcome(row: Row) -> Outcome:
    data = json.loads(row["result"])
    failure = json.loads(row["failure"]) if row["failure"] else None
    recorded = Failure(str(failure["type"]), str(failure["message"])) if failure else None
    return Outcome(ToolResult(list(data["content"]), bool(data["is_error"])), recorded)


_SELECT = "SELECT result, failure FROM mcp_calls WHERE session_id = $1 AND tool_use_id = $2"
_FINISH = (
    "UPDATE mcp_calls SET result = $3, failure = $4, finished_at = $5 "
    "WHERE session_id = $1 AND tool_use_id = $2 AND result IS NULL"
)


def claim(session_id: str, tool_use_id: str, server: str, tool: str, at: str) -> Flow[Outcome | None]:
    """None when the caller may make the call (its start is now recorded); else the call's recorded end."""
    started: int = yield exec_(
        "INSERT INTO mcp_calls (session_id, tool_use_id, mcp_server_name, tool_name, started_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, tool_use_id) DO NOTHING",
        session_id,
        tool_use_id,
        server,
        tool,
        at,
    )
    if started:
        return None
    row: Row | None = yield one(_SELECT + "{for_update}", session_id, tool_use_id)
    assert row is not None, "the insert conflicted with this row"
    if row["result"] is not None:
        return _outcome(row)
    answer = Outcome(interrupted(tool))
    yield exec_(_FINISH, session_id, tool_use_id, _result_json(answer.result), None, at)
    return answer


def finish(session_id: str, tool_use_id: str, outcome: Outcome, at: str) -> Flow[Outcome]:
    """Record ``outcome`` unless an end is recorded already; returns the recorded end."""
    failure = (
        json.dumps({"type": outcome.failure.type, "message": outcome.failure.message}) if outcome.failure else None
    )
    yield exec_(_FINISH, session_id, tool_use_id, _result_json(outcome.result), failure, at)
    row: Row | None = yield one(_SELECT, session_id, tool_use_id)
    return outcome if row is None or row["result"] is None else _outcome(row)


class _Flight:
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.outcome: Outcome | None = None


class McpJournal:
    def __init__(self, db: Database):
        self.db = db
        self._flights: dict[tuple[str, str], _Flight] = {}

    async def run_once(
        self, session_id: str, tool_use_id: str, server: str, tool: str, run: Callable[[], Awaitable[Outcome]]
    ) -> Outcome:
        key = (session_id, tool_use_id)
        if (flight := self._flights.get(key)) is not None:
            await flight.done.wait()
            return flight.outcome or Outcome(interrupted(tool))
        flight = self._flights[key] = _Flight()
        try:
            earlier = await self.db.write(claim, session_id, tool_use_id, server, tool, rfc3339(now()))
            if earlier is not None:
                flight.outcome = earlier
            else:
                flight.outcome = await self.db.write(finish, session_id, tool_use_id, await run(), rfc3339(now()))
            return flight.outcome
        finally:
            del self._flights[key]
            flight.done.set()
