"""``BetaManagedAgentsSessionThread`` from a session and one of its threads' rows (api.md §9, §22).

Invariants: the primary thread is the session itself (``parent_thread_id`` null, the session's agent without its
roster); ``stats`` is null until the thread first changed status and ``usage`` until it first went idle, as the
SDK documents; a child thread starts at once (``startup_seconds`` 0); ``workflow_run_id`` is always null (corral
runs no workflows).
"""

from __future__ import annotations

import time
from typing import Any

from corral._types import JSONObject
from corral.catalog.multiagent import thread_agent
from corral.ids import parse_rfc3339
from corral.session import SessionRecord
from corral.session.thread_store import primary_thread_id


def thread_wire(session: SessionRecord, thread: SessionRecord, now_epoch: float | None = None) -> JSONObject:
    now_epoch = time.time() if now_epoch is None else now_epoch
    primary = thread.id == session.id
    agent: dict[str, Any] = thread.doc.get("agent") or {}
    started = thread.running_since is not None or thread.active_seconds > 0 or thread.status != "idle"
    return {
        "type": "session_thread",
        "id": primary_thread_id(session.id) if primary else thread.id,
        "session_id": session.id,
        "parent_thread_id": None if primary else thread.doc.get("parent_thread_id"),
        "status": thread.status,
        "agent": thread_agent(agent),
        "workflow_run_id": None,
        "stats": _stats(thread, now_epoch) if started else None,
        "usage": _usage(thread, now_epoch) if thread.active_seconds > 0 or thread.status == "terminated" else None,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "archived_at": thread.archived_at,
    }


def _stats(thread: SessionRecord, now_epoch: float) -> JSONObject:
    created = parse_rfc3339(thread.created_at).timestamp()
    end = parse_rfc3339(thread.updated_at).timestamp() if thread.status == "terminated" else now_epoch
    return {
        "active_seconds": round(thread.active_seconds_at(now_epoch), 6),
        "duration_seconds": round(max(0.0, end - created), 6),
        "startup_seconds": 0.0,
    }


def _usage(thread: SessionRecord, now_epoch: float) -> JSONObject:
    return {**thread.usage, "active_seconds": round(thread.active_seconds_at(now_epoch), 6)}
