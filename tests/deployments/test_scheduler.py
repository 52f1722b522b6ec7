"""The scheduler's claims on both engines, driven by an injected clock: two schedulers (two connections to one
database, as two processes have) racing over the same due deployments fire each tick exactly once; a claim whose
holder died lapses and the other fires the tick; the next due time is computed, not polled.

The fire recorded here is the real ``flows.record_run`` (its claim check and unique key) without a session: what
a fire writes around it is covered through the SDK in ``test_api``."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import pytest

from corral.db import Database, Flow, all_rows
from corral.db.engines import open_database
from corral.deployments import cron, flows
from corral.deployments.records import schedule_json
from corral.deployments.scheduler import Fire, Scheduler
from corral.ids import new_id, rfc3339

pytestmark = pytest.mark.anyio

START = datetime(2026, 12, 7, 9, 0, 2, tzinfo=UTC).timestamp()
EVERY_FIVE = cron.parse("*/5 * * * *", "UTC")
COUNT = 60


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def recorder(db: Database, clock: Clock, fired: list[str]) -> Fire:
    async def fire(deployment_id: str, owner: str, now: float) -> None:
        record = await db.read(flows.find, deployment_id)
        assert record is not None and record.next_fire_at is not None and record.schedule is not None
        scheduled = datetime.fromtimestamp(record.next_fire_at, UTC)
        following = cron.next_after(record.schedule, max(scheduled, datetime.fromtimestamp(now, UTC)))
        run = flows.Fire(
            record.workspace_id,
            deployment_id,
            new_id("deployment_run"),
            "schedule",
            {"agent": {}, "session_id": None},
            rfc3339(datetime.fromtimestamp(clock.now, UTC)),
            owner=owner,
            scheduled_at=rfc3339(scheduled),
            scheduled_epoch=record.next_fire_at,
            following=following.timestamp(),
        )
        await db.write(flows.record_run, run)
        fired.append(f"{deployment_id}@{run.scheduled_at}")

    return fire


async def make_deployments(db: Database, count: int) -> list[str]:
    first = cron.next_after(EVERY_FIVE, datetime.fromtimestamp(START - 60, UTC)).timestamp()  # 09:00 UTC
    ids: list[str] = []
    for i in range(count):
        fields = flows.Fields("agent_x", {"name": f"d{i}"}, schedule_json(EVERY_FIVE), None, first)
        made = await db.write(flows.create, "wrkspc_test", new_id("deployment"), fields, rfc3339(datetime.now(UTC)))
        ids.append(made.id)
    return ids


async def scheduled_runs(db: Database) -> list[str]:
    return sorted(await db.read(_runs))


def _runs() -> Flow[list[str]]:
    rows = yield all_rows("SELECT deployment_id, scheduled_at FROM deployment_runs WHERE trigger_type = 'schedule'")
    return [f"{row['deployment_id']}@{row['scheduled_at']}" for row in rows]


async def test_two_schedulers_racing_fire_each_tick_once(database: Database) -> None:
    other = open_database(database.url)
    await other.open()
    try:
        clock = Clock(START)
        fired: list[str] = []
        ids = await make_deployments(database, COUNT)
        first = Scheduler(database, recorder(database, clock, fired), lease=30, clock=clock, batch=7)
        second = Scheduler(other, recorder(other, clock, fired), lease=30, clock=clock, batch=7)
        for _ in range(2):  # two ticks: 09:00 and 09:05
            async with anyio.create_task_group() as group:
                group.start_soon(first.tick)
                group.start_soon(second.tick)
            assert await first.tick() == 0  # nothing is due twice
            assert await database.read(flows.next_due) == clock.now + 300 - 2  # the next tick, computed
            clock.now += 300
        runs = await scheduled_runs(database)
        assert sorted(fired) == runs and len(runs) == 2 * COUNT
        assert {run.split("@")[0] for run in runs} == set(ids)
    finally:
        await other.close()


async def test_a_dead_schedulers_claims_lapse_and_another_fires_them(database: Database) -> None:
    clock = Clock(START)
    fired: list[str] = []
    ids = await make_deployments(database, 5)
    claimed = await database.write(flows.claim, "sched_dead", clock.now, 10.0, 100)  # then it is killed
    assert sorted(claimed) == sorted(ids)
    survivor = Scheduler(database, recorder(database, clock, fired), lease=10, clock=clock)
    assert await survivor.tick() == 0  # the claims still hold
    assert await database.read(flows.next_due) == START + 10.0  # wake when they lapse
    clock.now += 10.5
    assert await survivor.tick() == 5
    assert len(await scheduled_runs(database)) == 5 and len(fired) == 5
