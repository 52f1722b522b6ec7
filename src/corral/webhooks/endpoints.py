"""Webhook endpoints of a workspace (corral's own management API, ``/v1/corral/webhooks``) and the deliverer's
outbox transactions.

Invariants:

* The signing secret is returned once, by ``create``; ``wire`` never holds it.
* ``claim`` leases due deliveries by compare-and-set (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two
  deliverers never send one attempt twice at once; a killed deliverer's lease lapses and another sends it then.
  ``settle`` writes an attempt's outcome only while the lease is still the caller's.
* An endpoint is disabled after ``MAX_FAILURES`` consecutive failed attempts; one success resets the count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from corral._types import JSONObject
from corral.db import Flow, Row, Where, all_rows, exec_, insert, one
from corral.db.pages import newest_first
from corral.errors import NotFound
from corral.paging import Cursor, Page

MAX_FAILURES = 20
SCOPE = "webhooks"
COLUMNS = "id, workspace_id, url, event_types, failures, disabled_reason, created_at"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    workspace_id: str
    url: str
    event_types: list[str] | None
    failures: int
    disabled_reason: str | None
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> Endpoint:
        types = row["event_types"]
        return cls(
            row["id"],
            row["workspace_id"],
            row["url"],
            None if types is None else json.loads(types),
            int(row["failures"]),
            row["disabled_reason"],
            row["created_at"],
        )

    def wire(self) -> JSONObject:
        return {
            "type": "webhook_endpoint",
            "id": self.id,
            "url": self.url,
            "event_types": self.event_types,
            "status": "disabled" if self.disabled_reason else "enabled",
            "disabled_reason": self.disabled_reason,
            "created_at": self.created_at,
        }


def create(endpoint: Endpoint, secret: str) -> Flow[Endpoint]:
    yield insert(
        "webhook_endpoints",
        {
            "id": endpoint.id,
            "workspace_id": endpoint.workspace_id,
            "url": endpoint.url,
            "secret": secret,
            "event_types": None if endpoint.event_types is None else json.dumps(endpoint.event_types),
            "created_at": endpoint.created_at,
        },
    )
    return endpoint


def get(workspace_id: str, endpoint_id: str) -> Flow[Endpoint]:
    row: Row | None = yield one(f"SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1", endpoint_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return Endpoint.from_row(row)


def delete(workspace_id: str, endpoint_id: str) -> Flow[None]:
    yield from get(workspace_id, endpoint_id)
    yield exec_("DELETE FROM webhook_deliveries WHERE endpoint_id = $1", endpoint_id)
    yield exec_("DELETE FROM webhook_endpoints WHERE id = $1", endpoint_id)
    return None


def page(workspace_id: str, limit: int, cursor: Cursor | None) -> Flow[Page]:
    where = Where().equals("workspace_id", workspace_id)
    return (yield from newest_first("webhook_endpoints", COLUMNS, where, limit, cursor, SCOPE, Endpoint.from_row))


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    endpoint_id: str
    url: str
    secret: str
    payload: str
    attempts: int


def claim(owner: str, now: float, lease: float, limit: int) -> Flow[list[Delivery]]:
    rows: list[Row] = yield all_rows(
        "SELECT event_id, endpoint_id FROM webhook_deliveries WHERE delivered_at IS NULL AND next_attempt_at <= $1"
        " AND (lease_expires IS NULL OR lease_expires < $1) ORDER BY next_attempt_at LIMIT $2{skip_locked}",
        now,
        limit,
    )
    claimed: list[Delivery] = []
    for row in rows:
        found: Row | None = yield one(
            "SELECT d.payload, d.attempts, e.url, e.secret, e.disabled_reason FROM webhook_deliveries d"
            " JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.event_id = $1 AND d.endpoint_id = $2",
            row["event_id"],
            row["endpoint_id"],
        )
        if found is None or found["disabled_reason"] is not None:
            continue
        yield exec_(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_expires = $2"
            " WHERE event_id = $3 AND endpoint_id = $4",
            owner,
            now + lease,
            row["event_id"],
            row["endpoint_id"],
        )
        claimed.append(
            Delivery(
                row["event_id"], row["endpoint_id"], found["url"], found["secret"], found["payload"], found["attempts"]
            )
        )
    return claimed


def next_due() -> Flow[float | None]:
    """The earliest moment a pending delivery of an enabled endpoint may be claimed."""
    row: Row | None = yield one(
        "SELECT MIN(CASE WHEN d.lease_expires IS NOT NULL AND d.lease_expires > d.next_attempt_at THEN d.lease_expires"
        " ELSE d.next_attempt_at END) AS due FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.delivered_at IS NULL AND e.disabled_reason IS NULL"
    )
    return None if row is None or row["due"] is None else float(row["due"])


@dataclass(frozen=True)
class Outcome:
    """One attempt's result, to record: delivered (``error`` None) or failed, to retry at ``retry_at``."""

    delivery: Delivery
    now: float
    retry_at: float | None
    error: str | None


def settle_all(owner: str, outcomes: list[Outcome]) -> Flow[None]:
    """Record several attempts in one transaction (the deliverer's attempts end many at a time)."""
    for outcome in outcomes:
        yield from settle(owner, outcome.delivery, outcome.now, outcome.retry_at, outcome.error)


def settle(owner: str, delivery: Delivery, now: float, retry_at: float | None, error: str | None) -> Flow[None]:
    """Record one attempt: delivered (``error`` None) or failed, to retry at ``retry_at``."""
    held = (delivery.event_id, delivery.endpoint_id, owner)
    where = "WHERE event_id = $1 AND endpoint_id = $2 AND lease_owner = $3"
    if error is None:
        changed = yield exec_(
            f"UPDATE webhook_deliveries SET delivered_at = $4, lease_expires = NULL {where}", *held, now
        )
        if changed:
            yield exec_("UPDATE webhook_endpoints SET failures = 0 WHERE id = $1", delivery.endpoint_id)
        return None
    changed = yield exec_(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $4, lease_owner = NULL,"
        f" lease_expires = NULL, last_error = $5 {where}",
        *held,
        retry_at,
        error,
    )
    if changed:
        yield exec_(
            "UPDATE webhook_endpoints SET failures = failures + 1, disabled_reason = CASE WHEN failures + 1 >= $2"
            " THEN 'consecutive_failures' ELSE disabled_reason END WHERE id = $1",
            delivery.endpoint_id,
            MAX_FAILURES,
        )
    return None
