"""The outbox: a webhook event is recorded in the transaction of the change it reports, one delivery row per
endpoint that wants it, so a crash never loses one (the change and its deliveries commit or roll back together).

Invariants:

* ``record`` is a flow step: callers ``yield from`` it inside their own write.
* The payload is thin (api.md §18.1): ``{type:"event", id, created_at, data:{type, id, organization_id,
  workspace_id, …extras}}``; every endpoint gets the same event id, and retries reuse it (receivers dedupe).
* A committed delivery rings the ``webhooks`` channel, so deliverers in every process wake at once.
"""

from __future__ import annotations

import json

from corral._types import JSONObject
from corral.db import Flow, all_rows, insert_sql, many, notify
from corral.ids import new_id, parse_rfc3339

CHANNEL = "webhooks"
#: the ``data.type`` names of api.md §18.3 (the SDK's ``BetaWebhookEventData``) an endpoint may subscribe to;
#: corral emits the deployment and deployment-run ones so far
EVENT_TYPES = frozenset(
    (
        *(f"session.{name}" for name in ("created", "pending", "running", "idled", "requires_action", "archived")),
        *(f"session.{name}" for name in ("deleted", "updated", "budget_reached", "status_rescheduled")),
        *(f"session.{name}" for name in ("status_run_started", "status_idled", "status_terminated")),
        "session.outcome_evaluation_ended",
        *(f"session.thread_{name}" for name in ("created", "idled", "terminated")),
        *(f"vault.{name}" for name in ("created", "archived", "deleted")),
        *(f"vault_credential.{name}" for name in ("created", "archived", "deleted", "refresh_failed")),
        *(f"agent.{name}" for name in ("created", "updated", "archived", "deleted")),
        *(f"deployment.{name}" for name in ("created", "updated", "paused", "unpaused", "archived", "deleted")),
        *(f"deployment_run.{name}" for name in ("started", "succeeded", "failed")),
        *(f"environment.{name}" for name in ("created", "updated", "archived", "deleted")),
        *(f"memory_store.{name}" for name in ("created", "archived", "deleted")),
    )
)
_COLUMNS = ("event_id", "endpoint_id", "payload", "next_attempt_at", "created_at")


def payload(event_id: str, event_type: str, object_id: str, workspace_id: str, stamp: str, extra: JSONObject) -> str:
    data: JSONObject = {
        "type": event_type,
        "id": object_id,
        "organization_id": workspace_id,
        "workspace_id": workspace_id,
        **extra,
    }
    return json.dumps({"type": "event", "id": event_id, "created_at": stamp, "data": data}, separators=(",", ":"))


def wants(event_types: str | None, event_type: str) -> bool:
    """An endpoint with no list takes every event."""
    if event_types is None:
        return True
    chosen: list[str] = json.loads(event_types)
    return event_type in chosen


def record(
    workspace_id: str, event_type: str, object_id: str, stamp: str, extra: JSONObject | None = None
) -> Flow[None]:
    rows = yield all_rows(
        "SELECT id, event_types FROM webhook_endpoints WHERE workspace_id = $1 AND disabled_reason IS NULL",
        workspace_id,
    )
    targets = [str(row["id"]) for row in rows if wants(row["event_types"], event_type)]
    if not targets:
        return None
    event_id = new_id("webhook_event")
    body = payload(event_id, event_type, object_id, workspace_id, stamp, extra or {})
    at = parse_rfc3339(stamp).timestamp()
    yield many(insert_sql("webhook_deliveries", _COLUMNS), [(event_id, target, body, at, at) for target in targets])
    yield notify(CHANNEL, event_id)
    return None
