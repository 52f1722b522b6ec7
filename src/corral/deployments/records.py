"""Deployment and run rows, and their wire shapes (api.md §15.1).

Invariants: ``status`` is computed (``paused`` exactly when ``paused_reason`` is set; archived deployments report
``active`` with ``archived_at``); ``schedule.upcoming_runs_at`` is computed from the schedule at read time and is
empty once archived; a run has exactly one of ``session_id`` / ``error``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from corral._types import JSONObject
from corral.db import Row
from corral.deployments import cron
from corral.ids import rfc3339

DEPLOYMENT_COLUMNS = (
    "id, workspace_id, agent_id, doc, schedule, paused_reason, next_fire_at, last_run_at, created_at, updated_at,"
    " archived_at"
)
RUN_COLUMNS = "id, deployment_id, workspace_id, trigger_type, scheduled_at, doc, created_at"


def _load(text: Any) -> Any:
    return None if text is None else json.loads(str(text))


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    id: str
    workspace_id: str
    doc: JSONObject
    schedule: cron.Schedule | None
    paused_reason: JSONObject | None
    next_fire_at: float | None
    last_run_at: str | None
    created_at: str
    updated_at: str
    archived_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> DeploymentRecord:
        schedule = _load(row["schedule"])
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            doc=json.loads(row["doc"]),
            schedule=None if schedule is None else cron.Schedule(schedule["expression"], schedule["timezone"]),
            paused_reason=_load(row["paused_reason"]),
            next_fire_at=row["next_fire_at"],
            last_run_at=row["last_run_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            archived_at=row["archived_at"],
        )

    @property
    def active(self) -> bool:
        return self.archived_at is None and self.paused_reason is None

    def wire(self, now: datetime) -> JSONObject:
        return {
            "type": "deployment",
            "id": self.id,
            **self.doc,
            "status": "paused" if self.paused_reason is not None else "active",
            "paused_reason": self.paused_reason,
            "schedule": self._schedule_wire(now),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "archived_at": self.archived_at,
        }

    def _schedule_wire(self, now: datetime) -> JSONObject | None:
        if self.schedule is None:
            return None
        upcoming = [] if self.archived_at is not None else cron.upcoming(self.schedule, now)
        return {
            "type": "cron",
            "expression": self.schedule.expression,
            "timezone": self.schedule.timezone,
            "last_run_at": self.last_run_at,
            "upcoming_runs_at": [rfc3339(moment) for moment in upcoming],
        }


def schedule_json(schedule: cron.Schedule | None) -> str | None:
    if schedule is None:
        return None
    return json.dumps({"expression": schedule.expression, "timezone": schedule.timezone})


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    deployment_id: str
    workspace_id: str
    trigger_type: str
    scheduled_at: str | None
    doc: JSONObject
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> RunRecord:
        return cls(
            id=row["id"],
            deployment_id=row["deployment_id"],
            workspace_id=row["workspace_id"],
            trigger_type=row["trigger_type"],
            scheduled_at=row["scheduled_at"],
            doc=json.loads(row["doc"]),
            created_at=row["created_at"],
        )

    def wire(self) -> JSONObject:
        trigger: JSONObject = {"type": self.trigger_type}
        if self.scheduled_at is not None:
            trigger["scheduled_at"] = self.scheduled_at
        return {
            "type": "deployment_run",
            "id": self.id,
            "deployment_id": self.deployment_id,
            "agent": self.doc["agent"],
            "trigger_context": trigger,
            "session_id": self.doc.get("session_id"),
            "error": self.doc.get("error"),
            "created_at": self.created_at,
        }
