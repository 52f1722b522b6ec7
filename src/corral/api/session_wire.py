"""``BetaManagedAgentsSession`` from a ``SessionRecord`` (api.md §5.4).

Invariant: every field the SDK model marks required is present; ``stats`` are computed at read time
(``active_seconds`` includes the current run; ``duration_seconds`` stops growing once the session is
terminated).
"""

from __future__ import annotations

import time

from corral._types import JSONObject
from corral.ids import parse_rfc3339
from corral.session import SessionRecord
from corral.session.spend import public_usage


def _duration(record: SessionRecord, now_epoch: float) -> float:
    created = parse_rfc3339(record.created_at).timestamp()
    end = parse_rfc3339(record.updated_at).timestamp() if record.status == "terminated" else now_epoch
    return round(max(0.0, end - created), 6)


def session_wire(record: SessionRecord, now_epoch: float | None = None) -> JSONObject:
    now_epoch = time.time() if now_epoch is None else now_epoch
    doc = record.doc
    return {
        "type": "session",
        "id": record.id,
        "status": record.status,
        "title": doc.get("title"),
        "agent": doc.get("agent"),
        "environment_id": record.environment_id,
        "deployment_id": doc.get("deployment_id"),
        "resources": doc.get("resources") or [],
        "vault_ids": doc.get("vault_ids") or [],
        "metadata": doc.get("metadata") or {},
        "budget": doc.get("budget"),
        "outcome_evaluations": record.outcomes,
        "stats": {
            "active_seconds": round(record.active_seconds_at(now_epoch), 6),
            "duration_seconds": _duration(record, now_epoch),
        },
        "usage": public_usage(record.usage),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "archived_at": record.archived_at,
    }
