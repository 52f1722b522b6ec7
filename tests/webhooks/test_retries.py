"""The deliverer against a loopback receiver, on both engines, its clock injected: a failing endpoint is retried
with the same event id, with growing delays, and disabled after 20 failures in a row; a 2xx settles a delivery once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from corral import outbox
from corral.db import Database, Flow, Row, one
from corral.ids import new_id, rfc3339
from corral.webhooks import endpoints
from corral.webhooks.deliverer import Deliverer
from tests.deployments.receiver import receiver

pytestmark = pytest.mark.anyio
WORKSPACE = "wrkspc_hooks"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp() + 1  # just after the change (the outbox stamps it with real time)

    def __call__(self) -> float:
        return self.now


async def setup(database: Database, url: str) -> str:
    stamp = rfc3339(datetime.now(UTC))
    endpoint = endpoints.Endpoint(new_id("webhook_endpoint"), WORKSPACE, url, None, 0, None, stamp)
    await database.write(endpoints.create, endpoint, "whsec_" + "A" * 44)

    def change() -> Flow[None]:
        yield from outbox.record(WORKSPACE, "deployment.created", "depl_x", stamp)
        return None

    await database.write(change)
    return endpoint.id


def state(endpoint_id: str) -> Flow[Row]:
    row: Row | None = yield one(
        "SELECT e.failures, e.disabled_reason, d.attempts, d.delivered_at, d.next_attempt_at FROM webhook_endpoints e"
        " JOIN webhook_deliveries d ON d.endpoint_id = e.id WHERE e.id = $1",
        endpoint_id,
    )
    assert row is not None
    return row


async def test_failures_retry_with_one_event_id_and_disable_the_endpoint(database: Database) -> None:
    clock = Clock()
    with receiver() as hooks:
        hooks.status = 500
        endpoint_id = await setup(database, hooks.url)
        deliverer = Deliverer(database, timeout=5, retry_base=1.0, allow_private=True, clock=clock)
        delays: list[float] = []
        async with httpx.AsyncClient(trust_env=False) as http:
            for _ in range(endpoints.MAX_FAILURES):
                assert await deliverer.tick(http) == 1
                assert await deliverer.tick(http) == 0  # not due again before its retry time
                due = float((await database.read(state, endpoint_id))["next_attempt_at"])
                delays.append(due - clock.now)
                clock.now = due
        seen = [hooks.next(timeout=5) for _ in range(endpoints.MAX_FAILURES)]
        row = await database.read(state, endpoint_id)
    assert row["disabled_reason"] == "consecutive_failures" and row["attempts"] == endpoints.MAX_FAILURES
    assert row["delivered_at"] is None and await database.read(endpoints.next_due) is None  # nothing more to send
    assert len({got.headers["webhook-id"] for got in seen}) == 1  # every retry is the same event
    assert delays[5] > delays[0] and all(delay <= 3600 * 1.5 for delay in delays)


async def test_a_2xx_settles_the_delivery_once(database: Database) -> None:
    clock = Clock()
    with receiver() as hooks:
        endpoint_id = await setup(database, hooks.url)
        deliverer = Deliverer(database, timeout=5, retry_base=1.0, allow_private=True, clock=clock)
        async with httpx.AsyncClient(trust_env=False) as http:
            assert await deliverer.tick(http) == 1
            assert await deliverer.tick(http) == 0
        got = hooks.next(timeout=5)
    row = await database.read(state, endpoint_id)
    assert row["delivered_at"] is not None and row["failures"] == 0
    assert json.loads(got.body)["data"] == {
        "type": "deployment.created",
        "id": "depl_x",
        "organization_id": WORKSPACE,
        "workspace_id": WORKSPACE,
    }
