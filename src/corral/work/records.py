"""What the work queue hands out: work items, heartbeats and queue statistics, with their wire shapes.

Invariants: ``secret`` is only ever set on the item a poll returned (it holds a fresh sessions token, which is
stored hashed and never again readable); every other read of an item has ``secret: None``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from typing import Literal, cast

from corral._types import JSONObject, json_object
from corral.db import Row

WorkState = Literal["queued", "starting", "active", "stopping", "stopped"]
LIVE_STATES: tuple[WorkState, ...] = ("queued", "starting", "active", "stopping")
NO_HEARTBEAT = "NO_HEARTBEAT"


@dataclass(frozen=True)
class WorkItem:
    id: str
    workspace_id: str
    environment_id: str
    session_id: str
    state: WorkState
    metadata: JSONObject
    ttl_seconds: int
    delivered: bool
    created_at: str
    acknowledged_at: str | None
    started_at: str | None
    latest_heartbeat_at: str | None
    stop_requested_at: str | None
    stopped_at: str | None
    secret: str | None = None

    def with_token(self, sessions_token: str) -> WorkItem:
        """The item as a poll returns it: its secret carries the sessions token (URL-safe base64 of JSON)."""
        payload = json.dumps({"sessions_token": sessions_token}, separators=(",", ":")).encode()
        return replace(self, secret=base64.urlsafe_b64encode(payload).decode().rstrip("="))

    def wire(self) -> JSONObject:
        return {
            "type": "work",
            "id": self.id,
            "environment_id": self.environment_id,
            "data": {"type": "session", "id": self.session_id},
            "state": self.state,
            "metadata": self.metadata,
            "secret": self.secret,
            "created_at": self.created_at,
            "acknowledged_at": self.acknowledged_at,
            "started_at": self.started_at,
            "latest_heartbeat_at": self.latest_heartbeat_at,
            "stop_requested_at": self.stop_requested_at,
            "stopped_at": self.stopped_at,
        }


def item_from(row: Row) -> WorkItem:
    return WorkItem(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        environment_id=str(row["environment_id"]),
        session_id=str(row["session_id"]),
        state=cast(WorkState, row["state"]),
        metadata=json_object(json.loads(str(row["metadata"]))) or {},
        ttl_seconds=int(row["ttl_seconds"]),
        delivered=row["delivered_at"] is not None,
        created_at=str(row["created_at"]),
        acknowledged_at=row["acknowledged_at"],
        started_at=row["started_at"],
        latest_heartbeat_at=row["latest_heartbeat_at"],
        stop_requested_at=row["stop_requested_at"],
        stopped_at=row["stopped_at"],
    )


@dataclass(frozen=True)
class Heartbeat:
    last_heartbeat: str | None
    lease_extended: bool
    state: WorkState
    ttl_seconds: int

    def wire(self) -> JSONObject:
        return {
            "type": "work_heartbeat",
            "last_heartbeat": self.last_heartbeat,
            "lease_extended": self.lease_extended,
            "state": self.state,
            "ttl_seconds": self.ttl_seconds,
        }

    def lease_state(self) -> JSONObject:
        """The ``current_state`` of a refused heartbeat (``BetaWorkLeaseState``)."""
        return {k: v for k, v in self.wire().items() if k != "type"}


@dataclass(frozen=True)
class QueueStats:
    depth: int
    pending: int
    oldest_queued_at: str | None
    workers_polling: int

    def wire(self) -> JSONObject:
        return {
            "type": "work_queue_stats",
            "depth": self.depth,
            "pending": self.pending,
            "oldest_queued_at": self.oldest_queued_at,
            "workers_polling": self.workers_polling,
        }
