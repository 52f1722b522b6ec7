"""The webhook outbox: a webhook event is recorded in the transaction of the change it reports, one delivery row per
endpoint that wants it, so a crash never loses one (the change and its deliveries commit or roll back together).
The deliverer (``corral.webhooks``) sends them; this module sits low so that every store (sessions, the catalog,
vaults, memory stores, deployments) records its own changes inside its own flows.

Invariants:

* ``record`` and ``record_all`` are flow steps: callers ``yield from`` them inside their own write; with no
  endpoint of the workspace wanting a change they cost one indexed read and write nothing.
* ``EVENT_TYPES`` is the SDK's ``BetaWebhookEventData`` union (api.md §18.3); every one of them is emitted where the
  change happens except ``NEVER_EMITTED``, whose registration is refused with a 400 naming it (never accepted and
  left silent).
* A session's webhooks follow from the events appended to its log (``session_changes``): a status event, an
  outcome evaluation's end or a thread's transition is reported in the append's own transaction.
* The payload is thin (api.md §18.1): ``{type:"event", id, created_at, data:{type, id, organization_id,
  workspace_id, …extras}}``; every endpoint gets the same event id, and retries reuse it (receivers dedupe).
* A committed delivery rings the ``webhooks`` channel, so deliverers in every process wake at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from corral._types import JSONObject, json_object
from corral.db import Flow, Value, all_rows, insert_sql, many, notify
from corral.ids import PREFIXES, new_id, parse_rfc3339

CHANNEL = "webhooks"
#: the ``data.type`` names of api.md §18.3 (the SDK's ``BetaWebhookEventData``)
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
#: what corral never emits, and why (a registration naming one is refused)
NEVER_EMITTED = {
    "session.pending": "a corral session is never pending: it is created idle, or running with its initial events",
    "agent.deleted": "agents are archived, never deleted (the API has no agent deletion)",
    "deployment.deleted": "deployments are archived, never deleted (the API has no deployment deletion)",
}
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


@dataclass(frozen=True)
class Change:
    """One change to report: its ``data.type``, the object's id and the extra ``data`` fields of its group."""

    event_type: str
    object_id: str
    extra: JSONObject = field(default_factory=lambda: JSONObject())


def record(
    workspace_id: str, event_type: str, object_id: str, stamp: str, extra: JSONObject | None = None
) -> Flow[None]:
    yield from record_all(workspace_id, [Change(event_type, object_id, extra or {})], stamp)
    return None


def record_all(workspace_id: str, changes: Sequence[Change], stamp: str) -> Flow[None]:
    """One delivery per change and endpoint that wants it (one read of the workspace's endpoints)."""
    if not changes:
        return None
    rows = yield all_rows(
        "SELECT id, event_types FROM webhook_endpoints WHERE workspace_id = $1 AND disabled_reason IS NULL",
        workspace_id,
    )
    if not rows:
        return None
    at = parse_rfc3339(stamp).timestamp()
    deliveries: list[tuple[Value, ...]] = []
    for change in changes:
        targets = [str(row["id"]) for row in rows if wants(row["event_types"], change.event_type)]
        if targets:
            event_id = new_id("webhook_event")
            body = payload(event_id, change.event_type, change.object_id, workspace_id, stamp, change.extra)
            deliveries += [(event_id, target, body, at, at) for target in targets]
    if deliveries:
        yield many(insert_sql("webhook_deliveries", _COLUMNS), deliveries)
        yield notify(CHANNEL, str(deliveries[0][0]))
    return None


def session_changes(session_id: str, event_type: str, data: Mapping[str, object]) -> list[Change]:
    """The webhooks a session event appended to the log reports (none for most events). A child thread's own log
    (``sthr_…``, ``corral.session.threads``) reports none: its session's log carries the copies that do."""
    if session_id.startswith(PREFIXES["thread"]):
        return []
    if event_type == "session.status_idle":
        stop = json_object(data.get("stop_reason"))
        reason = None if stop is None else stop.get("type")
        found = [Change("session.idled", session_id), Change("session.status_idled", session_id)]
        if reason in _IDLE_REASONS:
            found.append(Change(_IDLE_REASONS[str(reason)], session_id))
        return found
    if event_type in _THREAD_EVENTS:
        thread = data.get("session_thread_id")
        extra: JSONObject = {"session_thread_id": thread} if isinstance(thread, str) else {}
        return [Change(_THREAD_EVENTS[event_type], session_id, extra)]
    return [Change(name, session_id) for name in _SESSION_EVENTS.get(event_type, ())]


_SESSION_EVENTS: dict[str, tuple[str, ...]] = {
    "session.status_running": ("session.running", "session.status_run_started"),
    "session.status_rescheduled": ("session.status_rescheduled",),
    "session.status_terminated": ("session.status_terminated",),
    "session.updated": ("session.updated",),
    "span.outcome_evaluation_end": ("session.outcome_evaluation_ended",),
}
_IDLE_REASONS = {"requires_action": "session.requires_action", "budget_reached": "session.budget_reached"}
_THREAD_EVENTS = {
    "session.thread_created": "session.thread_created",
    "session.thread_status_idle": "session.thread_idled",
    "session.thread_status_terminated": "session.thread_terminated",
}
