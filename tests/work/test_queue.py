"""The long-poll's wake-up, on both engines: a poll waiting in one process is woken by work queued through
another connection to the database (LISTEN/NOTIFY on PostgreSQL, the foreign-commit doorbell on SQLite), not by
a timer: it waits far longer than the test could run."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from corral.db import Database
from corral.db.engines import open_database
from corral.work import WorkItem, WorkQueue

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

ENVIRONMENT = "env_waiting"
AN_HOUR_MS = 3_600_000


async def test_a_waiting_poll_is_woken_by_work_queued_elsewhere(database: Database, db_url: str) -> None:
    other = open_database(db_url)
    await other.open()
    waiting, elsewhere = WorkQueue(database, 90), WorkQueue(other, 90)
    got: list[WorkItem | None] = []

    async def poll() -> None:
        got.append(await waiting.poll(ENVIRONMENT, "host-a", AN_HOUR_MS, 5000))

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(poll)
            while not await waiting.has_polled(ENVIRONMENT, "host-a"):
                await anyio.lowlevel.checkpoint()  # once it has looked and found nothing, the poll is waiting
            assert await elsewhere.enqueue("wrkspc_default", ENVIRONMENT, "sesn_waiting")
    finally:
        waiting.close()
        elsewhere.close()
        await other.close()
    [item] = got
    assert item is not None and item.session_id == "sesn_waiting" and item.secret
