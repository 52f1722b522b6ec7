"""The deliverer: sends the outbox's due deliveries, signed, and records each attempt.

Invariants:

* At least once: a delivery leaves the outbox only when a 2xx answer was recorded (``endpoints.settle``); a crash
  at any point leaves it pending, and its lease lapses so this or another process sends it again, with the same
  ``webhook-id`` (the event id), which receivers dedupe on.
* A failed attempt (non-2xx, 3xx included since redirects are not followed, timeout, connection error, a target
  that now resolves to a private address) is retried after ``retry_base * 2**attempts`` seconds with ±50% jitter,
  at most an hour; the endpoint is disabled after ``endpoints.MAX_FAILURES`` consecutive failures.
* The loop sleeps until the earliest due attempt or lease expiry the database reports, and wakes early on the
  ``webhooks`` channel (``outbox.record`` rings it in the writing transaction); no fixed polling tick.
"""

from __future__ import annotations

import logging
import math
import random
import secrets
import time
from collections.abc import Callable

import anyio
import httpx
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from corral.db import Database
from corral.errors import InvalidRequest
from corral.outbox import CHANNEL
from corral.webhooks import endpoints, signing, targets

log = logging.getLogger(__name__)
MAX_DELAY = 3600.0


class Deliverer:
    def __init__(
        self,
        db: Database,
        *,
        timeout: float,
        retry_base: float,
        allow_private: bool,
        clock: Callable[[], float] = time.time,
        batch: int = 200,
        concurrency: int = 64,
    ) -> None:
        self.db, self.timeout, self.retry_base, self.allow_private = db, timeout, retry_base, allow_private
        self.clock, self.batch = clock, batch
        self.lease = timeout + 2.0  # an attempt ends within `timeout`; then its lease lapses soon after a crash
        self.owner = "dlvr_" + secrets.token_hex(8)
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._wake = anyio.Event()

    def wake(self, _payload: str | None = None) -> None:
        self._wake.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        stop = self.db.listen(CHANNEL, self.wake)
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=False, trust_env=False, limits=limits
            ) as http:
                task_status.started()
                while True:
                    self._wake = anyio.Event()
                    await self.tick(http)
                    due = await self.db.read(endpoints.next_due)
                    delay = math.inf if due is None else max(0.0, due - self.clock())
                    with anyio.move_on_after(delay):
                        await self._wake.wait()
        finally:
            stop()

    async def tick(self, http: httpx.AsyncClient) -> int:
        total = 0
        while True:
            claimed = await self.db.write(endpoints.claim, self.owner, self.clock(), self.lease, self.batch)
            total += len(claimed)
            await self._deliver(http, claimed)
            if len(claimed) < self.batch:
                return total

    async def _deliver(self, http: httpx.AsyncClient, claimed: list[endpoints.Delivery]) -> None:
        """Send the claimed deliveries; their outcomes are recorded as they come, as many to a transaction as have
        come meanwhile (one write per attempt would make the database the bottleneck), all before this returns."""
        send, receive = anyio.create_memory_object_stream[endpoints.Outcome](max(1, len(claimed)))
        async with anyio.create_task_group() as group:
            group.start_soon(self._settle, receive)
            async with send, anyio.create_task_group() as attempts:
                for delivery in claimed:
                    attempts.start_soon(self._attempt, http, delivery, send)

    async def _settle(self, receive: MemoryObjectReceiveStream[endpoints.Outcome]) -> None:
        async with receive:
            async for first in receive:
                outcomes = [first]
                while True:
                    try:
                        outcomes.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self.db.write(endpoints.settle_all, self.owner, outcomes)

    async def _attempt(
        self,
        http: httpx.AsyncClient,
        delivery: endpoints.Delivery,
        outcomes: MemoryObjectSendStream[endpoints.Outcome],
    ) -> None:
        async with self._limiter:
            error = await self._send(http, delivery)
        retry_at = None
        if error is not None:
            delay = min(MAX_DELAY, self.retry_base * 2**delivery.attempts) * random.uniform(0.5, 1.5)
            retry_at = self.clock() + delay
            log.info("webhook %s to %s failed (%s); retry in %.1fs", delivery.event_id, delivery.url, error, delay)
        await outcomes.send(endpoints.Outcome(delivery, self.clock(), retry_at, error))

    async def _send(self, http: httpx.AsyncClient, delivery: endpoints.Delivery) -> str | None:
        """None when the receiver answered 2xx, else what went wrong."""
        try:
            await targets.check(delivery.url, allow_private=self.allow_private)
        except InvalidRequest as refused:
            return refused.message
        stamp = int(time.time())  # the signature's timestamp is wall time: receivers check it against theirs
        headers = signing.headers(delivery.secret, delivery.event_id, stamp, delivery.payload)
        try:
            response = await http.post(delivery.url, content=delivery.payload.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"
