"""The quotas of a session's log and of a workspace's sessions, checked inside the transaction that would go over
them (so an over-quota request writes nothing: the engine rolls the whole flow back).

* **Events and bytes per session**: every append adds its events to ``last_seq`` and the bytes of their stored
  JSON to ``event_bytes`` (``corral.session._log.reserve``); a client's append (``send_client_events``) that would
  take either past its limit is refused. The agent's own events (its messages, tool calls and results) are never
  refused, since a turn must be able to end: they count toward the totals, so a full session takes no more input
  and its agent therefore no more turns. A session may thus go past a limit by at most one turn's events.
* **Sessions per workspace**: the workspace's sessions not archived (archiving or deleting one frees its place);
  counted after the new row is inserted, under a lock of the workspace's row on PostgreSQL, so concurrent creates
  of one workspace cannot both take its last place.

Each refusal is a 400 ``invalid_request_error`` with ``error.details.limit`` naming the setting: waiting does
not help (nothing frees a place but the client's own archive or delete), so it is no 429.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.db import Flow, Row, one
from corral.errors import ErrorCode, InvalidRequest

EVENTS_SETTING = "CORRAL_MAX_EVENTS_PER_SESSION"
BYTES_SETTING = "CORRAL_MAX_SESSION_BYTES"
SESSIONS_SETTING = "CORRAL_MAX_SESSIONS_PER_WORKSPACE"


def over_quota(message: str, setting: str, limit: int) -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.QUOTA_EXCEEDED, details={"limit": setting, "max": limit})


@dataclass(frozen=True)
class LogQuota:
    """The most events and bytes of stored event JSON one session's log may hold (0: no limit)."""

    max_events: int = 0
    max_bytes: int = 0

    def check(self, session_id: str, row: Row, count: int, size: int) -> None:
        """``row``: the session after the append's reservation (``last_seq``, ``event_bytes`` include it)."""
        if self.max_events and int(row["last_seq"]) > self.max_events:
            raise over_quota(
                f"session {session_id} holds {int(row['last_seq']) - count} events: {count} more would pass its"
                f" limit of {self.max_events} ({EVENTS_SETTING}); start a new session",
                EVENTS_SETTING,
                self.max_events,
            )
        if self.max_bytes and int(row["event_bytes"]) > self.max_bytes:
            raise over_quota(
                f"session {session_id} holds {int(row['event_bytes']) - size} bytes of events: {size} more would"
                f" pass its limit of {self.max_bytes} bytes ({BYTES_SETTING}); start a new session",
                BYTES_SETTING,
                self.max_bytes,
            )


def session_cap(workspace_id: str, limit: int) -> Flow[None]:
    """Refuse the session just inserted if it takes the workspace past ``limit`` sessions not archived (a session's
    threads, rows of the same table, are part of it and not counted)."""
    yield one("SELECT id FROM workspaces WHERE id = $1{for_update}", workspace_id)
    row: Row | None = yield one(
        "SELECT COUNT(*) AS n FROM sessions WHERE workspace_id = $1 AND archived_at IS NULL AND thread_of IS NULL",
        workspace_id,
    )
    if row is not None and int(row["n"]) > limit:
        raise over_quota(
            f"workspace {workspace_id} already has {limit} sessions not archived, its limit ({SESSIONS_SETTING});"
            " archive or delete one first",
            SESSIONS_SETTING,
            limit,
        )
    return None
