"""Registering, listing and deleting webhook endpoints: shared by ``/v1/corral/webhooks`` and ``corral webhooks``.

Invariant: an endpoint is stored only after its URL passed ``targets.check`` under the operator's setting and each
of its ``event_types`` is a known one that corral emits (one it never emits is refused, naming why); its secret is
returned by ``register`` and never again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from corral.db import Database
from corral.errors import InvalidRequest
from corral.ids import new_id, rfc3339
from corral.outbox import EVENT_TYPES, NEVER_EMITTED
from corral.webhooks import endpoints, signing, targets


async def register(
    db: Database, workspace_id: str, url: str, event_types: Sequence[str] | None, *, allow_private: bool
) -> tuple[endpoints.Endpoint, str]:
    unknown = sorted(set(event_types or ()) - EVENT_TYPES)
    if unknown:
        raise InvalidRequest(f"event_types: unknown event type(s) {', '.join(unknown)}")
    never = sorted(set(event_types or ()) & NEVER_EMITTED.keys())
    if never:
        why = "; ".join(f"{name}: {NEVER_EMITTED[name]}" for name in never)
        raise InvalidRequest(f"event_types: corral never emits {', '.join(never)} ({why})")
    await targets.check(url, allow_private=allow_private)
    chosen = None if event_types is None else list(event_types)
    made = endpoints.Endpoint(
        new_id("webhook_endpoint"), workspace_id, url, chosen, 0, None, rfc3339(datetime.now(UTC))
    )
    secret = signing.new_secret()
    await db.write(endpoints.create, made, secret)
    return made, secret
