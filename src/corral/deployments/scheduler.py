"""The scheduler: fires due deployments, each tick exactly once across any number of processes.

Invariants:

* A tick is fired only under a claim (``flows.claim``, a lease in the database) and recorded only while the claim
  is still held (``flows.record_run``): with N schedulers racing, one wins each tick; a scheduler killed while
  holding claims loses them when the lease lapses, and another fires those ticks then.
* The loop never polls on a fixed tick: it sleeps until the earliest due time the database reports (a fire time, or
  a lease's expiry), and wakes early on the ``deployments`` channel (a deployment created, changed or unpaused,
  in this process or another).
* Time comes from ``clock`` (epoch seconds), injectable, so tests drive it.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskStatus

from corral.db import Database
from corral.deployments import flows

log = logging.getLogger(__name__)

Fire = Callable[[str, str, float], Awaitable[None]]
"""``fire(deployment_id, owner, now)``: start the claimed deployment's session and record its run."""


class Scheduler:
    def __init__(
        self,
        db: Database,
        fire: Fire,
        *,
        lease: float,
        clock: Callable[[], float] = time.time,
        batch: int = 200,
        concurrency: int = 16,
    ) -> None:
        self.db, self._fire, self.lease, self.clock = db, fire, lease, clock
        self.batch = batch
        self.owner = "sched_" + secrets.token_hex(8)
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._wake = anyio.Event()

    def wake(self, _payload: str | None = None) -> None:
        self._wake.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        stop = self.db.listen(flows.CHANNEL, self.wake)
        try:
            task_status.started()
            while True:
                self._wake = anyio.Event()  # reset before reading: a ring during the tick is not lost
                await self.tick()
                due = await self.db.read(flows.next_due)
                delay = math.inf if due is None else max(0.0, due - self.clock())
                with anyio.move_on_after(delay):
                    await self._wake.wait()
        finally:
            stop()

    async def tick(self) -> int:
        """Claim and fire every deployment due now; how many were claimed."""
        total = 0
        while True:
            now = self.clock()
            claimed = await self.db.write(flows.claim, self.owner, now, self.lease, self.batch)
            total += len(claimed)
            async with anyio.create_task_group() as group:
                for deployment_id in claimed:
                    group.start_soon(self._fire_one, deployment_id, now)
            if len(claimed) < self.batch:
                return total

    async def _fire_one(self, deployment_id: str, now: float) -> None:
        async with self._limiter:
            try:
                await self._fire(deployment_id, self.owner, now)
            except Exception:
                # the claim lapses and another scheduler (or this one) fires the tick then
                log.exception("deployment %s: fire failed; its claim will lapse", deployment_id)
