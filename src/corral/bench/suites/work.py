"""The ``work`` suite: how soon a self-hosted environment's worker gets work (issue 13's target: a work item reaches
a polling worker < 50 ms p50 after its session needs it).

One arm, ``long-poll``, on SQLite in the run's scratch directory (the embedded default): a worker's long-poll is
already waiting (``WorkQueue.poll`` with a block far longer than the run) when a session's work is queued
(``WorkQueue.enqueue``, what creating a self-hosted session or sending it input does); timed from the enqueue's
call to the poll's return with the item. The wake-up is the commit's doorbell, so the figure is one write
transaction, one read-write poll transaction and the hops between them.

Invariants: every poll returns the item just queued (its session), or the arm fails; the database is closed before
the arm returns.
"""

from __future__ import annotations

import itertools
import time

import anyio
import anyio.lowlevel

from corral.bench.measure import add_latency
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.db.engines import open_database
from corral.work import WorkQueue

WORKSPACE = "wrkspc_benchwork"
ENVIRONMENT = "env_benchwork"
WAIT_MS = 600_000  # far longer than a sample: only the doorbell ends the wait
_ids = itertools.count(1)


async def _sample(queue: WorkQueue) -> float:
    session_id = f"sesn_benchwork{next(_ids):08d}"
    worker = f"bench-{session_id}"
    got: list[tuple[float, str | None]] = []
    began = 0.0

    async def poll() -> None:
        item = await queue.poll(ENVIRONMENT, worker, WAIT_MS, 5000)
        got.append((time.perf_counter(), None if item is None else item.session_id))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(poll)
        while not await queue.has_polled(ENVIRONMENT, worker):  # once it has, the poll waits on the doorbell
            await anyio.lowlevel.checkpoint()
        began = time.perf_counter()
        await queue.enqueue(WORKSPACE, ENVIRONMENT, session_id)
    [(ended, delivered)] = got
    if delivered != session_id:
        raise RuntimeError(f"the waiting poll got {delivered!r}, not the work of {session_id}")
    return ended - began


async def measure(ctx: Context, arm: Arm) -> None:
    samples_wanted = ctx.pick("work.samples", 50, 500)
    db = open_database(f"sqlite:///{ctx.scratch / 'work.db'}")
    await db.open()
    queue = WorkQueue(db, 90)
    try:
        tick = ctx.progress.task("work · long-poll", samples_wanted)
        samples: list[float] = []
        for _ in range(samples_wanted):
            samples.append(await _sample(queue))
            tick(1)
    finally:
        queue.close()
        await db.close()
    add_latency(arm, "delivered", "session's work queued → a waiting long-poll returns it", samples)


async def run(ctx: Context, result: SuiteResult) -> None:
    arm = Arm("long-poll", "work queued for a self-hosted session, until a worker's waiting poll returns it")
    result.arms.append(arm)
    await measure(ctx, arm)


SUITE = Suite("work", "SQLite", run)
