"""Leases: which worker runs a session, proved by a ``Fence``; the flows that take, extend and give them back.

Invariants:

* A session has at most one live lease: ``claim`` takes only sessions whose lease is free or expired by the
  database's clock, and each claim increments the session's ``lease_token``.
* A write carrying a ``Fence`` (``check_fence``) succeeds only while the fence's owner and token are the
  session's and the lease has not expired; otherwise ``LeaseLost``. So a worker paused past its lease's end
  never writes again, even after another took the session over.
* ``release`` keeps a session runnable when events arrived after the position the worker has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.db import Flow, Row, all_rows, exec_, notify, one
from corral.errors import LeaseLost


@dataclass(frozen=True)
class Fence:
    """Proof that a worker holds a session's lease: writes carrying a stale token are refused."""

    session_id: str
    owner: str
    token: int


def check_fence(row: Row, fence: Fence | None) -> None:
    """Refuse a write under ``fence`` unless it is still the lease of ``row`` (lease columns and ``db_now``)."""
    if fence is None:
        return
    expires = row["lease_expires"]
    if (
        row["lease_owner"] != fence.owner
        or int(row["lease_token"]) != fence.token
        or expires is None
        or float(expires) <= float(row["db_now"])
    ):
        raise LeaseLost(f"lease on {fence.session_id} is no longer held by {fence.owner}")


_TAKE = (
    "UPDATE sessions SET lease_owner = $2, lease_token = lease_token + 1, lease_expires = {now} + $3"
    " WHERE id = $1 AND runnable = 1 AND (lease_expires IS NULL OR lease_expires < {now})"
    " RETURNING lease_token"
)


def claim(owner: str, ttl: float, limit: int) -> Flow[list[Fence]]:
    """Take up to ``limit`` runnable sessions whose lease is free or expired; each gets a new token."""
    rows: list[Row] = yield all_rows(
        "SELECT id FROM sessions WHERE runnable = 1 AND (lease_expires IS NULL OR lease_expires < {now})"
        " AND (wake_at IS NULL OR wake_at <= {now}) ORDER BY wake_at LIMIT $1{skip_locked}",
        limit,
    )
    fences: list[Fence] = []
    for row in rows:
        session_id: str = row["id"]
        claimed: Row | None = yield one(_TAKE, session_id, owner, ttl)
        if claimed is not None:
            fences.append(Fence(session_id, owner, int(claimed["lease_token"])))
    return fences


def claim_one(session_id: str, owner: str, ttl: float) -> Flow[Fence | None]:
    """Take one specific runnable session if its lease is free (used right after a local wake-up)."""
    claimed: Row | None = yield one(_TAKE, session_id, owner, ttl)
    return None if claimed is None else Fence(session_id, owner, int(claimed["lease_token"]))


def renew(fence: Fence, ttl: float) -> Flow[None]:
    changed: int = yield exec_(
        "UPDATE sessions SET lease_expires = {now} + $4 WHERE id = $1 AND lease_owner = $2 AND lease_token = $3"
        " AND lease_expires > {now}",
        fence.session_id,
        fence.owner,
        fence.token,
        ttl,
    )
    if not changed:
        raise LeaseLost(f"lease on {fence.session_id} was lost")


def release(fence: Fence, seen_seq: int, runnable: bool, retry_in: float | None) -> Flow[bool]:
    """Give the session back. It stays runnable if events arrived after ``seen_seq`` or ``runnable``."""
    row: Row | None = yield one(
        "UPDATE sessions SET lease_owner = NULL, lease_expires = NULL,"
        " runnable = CASE WHEN last_seq > $3 THEN 1 ELSE $4 END,"
        " wake_at = CASE WHEN last_seq > $3 THEN {now} ELSE {now} + $5 END"
        " WHERE id = $1 AND lease_owner = $2 AND lease_token = $6 RETURNING runnable",
        fence.session_id,
        fence.owner,
        seen_seq,
        int(runnable),
        retry_in or 0.0,
        fence.token,
    )
    if row is None:
        return False
    if int(row["runnable"]):
        yield notify("wake", fence.session_id)
    return True
