"""``WorkerPool``: claims runnable sessions under a lease and drives each with ``wake``.

Two ways in:

* Fast path: the ``wake`` database channel rings when a session becomes runnable; the pool claims that
  session at once (``claim_one``). In one process (``corral serve``) this is an in-memory callback; on
  PostgreSQL it reaches every process (LISTEN/NOTIFY); on SQLite other processes hear a doorbell without a
  payload and poll at once.
* Slow path: every ``poll_interval`` seconds the pool claims whatever is runnable and unleased, which
  includes sessions whose worker died: they are taken over within ``poll_interval`` of their lease
  expiring. ``claim`` uses ``SKIP LOCKED`` on PostgreSQL, so many pools on many hosts never collide.

Invariants: a pool drives a session at most once at a time; a drive that ends releases the lease (the
session stays runnable if anything arrived that the wake did not see, or if the drive was cut short by
shutdown or a failure, so another worker continues it); a drive whose lease was lost releases nothing
and writes nothing. An unexpected failure is written to the session (``unknown_error``, idle
``retries_exhausted``) when the lease still allows, so a session never stays ``running`` for nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket

import anyio
from anyio.abc import TaskGroup

from corral import logs
from corral.errors import CorralError, LeaseLost
from corral.harness import emits
from corral.harness.harness import Harness
from corral.harness.wake import wake
from corral.observe import metrics
from corral.session import Fence

log = logging.getLogger(__name__)

FAILURE_RETRY_SECONDS = 5.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class WorkerPool:
    def __init__(
        self, harness: Harness, *, owner: str | None = None, concurrency: int = 512, poll_interval: float = 0.5
    ):
        self.harness = harness
        self.owner = owner or worker_id()
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.driving: set[str] = set()
        self._rewake: set[str] = set()
        self._hints_in, self._hints_out = anyio.create_memory_object_stream[str | None](10_000)
        self._poke = anyio.Event()
        self._group: TaskGroup | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Work until cancelled; in-flight sessions are released for another worker on the way out."""
        stop = self.harness.store.db.listen("wake", self._on_wake)
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self._dispatch)
                group.start_soon(self._poll)
                task_status.started()
        finally:
            stop()
            self._group = None
            self._hints_in.close()
            self._hints_out.close()

    def _on_wake(self, payload: str | None) -> None:
        try:
            self._hints_in.send_nowait(payload)
        except anyio.WouldBlock:
            self._poke.set()  # the poll covers whatever a full queue drops

    async def _dispatch(self) -> None:
        assert self._group is not None
        async for hint in self._hints_out:
            if hint is None:
                self._poke.set()
            elif hint in self.driving:
                self._rewake.add(hint)
            else:  # claims run side by side, so that a burst of wake-ups commits together
                self._group.start_soon(self._claim_one, hint)

    async def _claim_one(self, session_id: str) -> None:
        if len(self.driving) >= self.concurrency:
            return
        try:
            fence = await self.harness.store.claim_one(session_id, self.owner, self.harness.limits.lease_ttl)
        except CorralError as exc:  # the database is unwell: the poll retries
            log.warning("claiming %s failed: %s", session_id, exc.message)
            return
        if fence is not None:
            self._start(fence)

    async def _poll(self) -> None:
        while True:
            with anyio.move_on_after(self.poll_interval):
                await self._poke.wait()
            self._poke = anyio.Event()
            free = self.concurrency - len(self.driving)
            if free <= 0:
                continue
            try:
                fences = await self.harness.store.claim(self.owner, self.harness.limits.lease_ttl, free)
            except CorralError as exc:  # the database is unwell: try again at the next tick
                log.warning("claiming runnable sessions failed: %s", exc.message)
                continue
            for fence in fences:
                self._start(fence)

    def _start(self, fence: Fence) -> None:
        assert self._group is not None
        self.driving.add(fence.session_id)
        self._rewake.discard(fence.session_id)
        with logs.bind(session_id=fence.session_id):  # the task copies the context: its lines name the session
            self._group.start_soon(self._drive, fence)

    async def _drive(self, fence: Fence) -> None:
        session_id = fence.session_id
        seen, runnable, retry_in, owned = 0, True, None, True
        try:
            with metrics.active_sessions.track_inprogress():
                seen = await wake(self.harness, fence)
            runnable = False
        except LeaseLost:
            owned = False
            log.warning("lost the lease on %s; another worker continues it", session_id)
        except Exception as exc:  # a bug or an outage: report it on the session, never leave it running
            log.exception("driving %s failed", session_id)
            retry_in = FAILURE_RETRY_SECONDS if not await self._report(fence, exc) else None
            runnable = retry_in is not None
        finally:
            with anyio.CancelScope(shield=True):
                if owned:
                    await self._release(fence, seen, runnable, retry_in)
                self.driving.discard(session_id)
        if session_id in self._rewake:
            self._rewake.discard(session_id)
            await self._claim_one(session_id)

    async def _report(self, fence: Fence, exc: Exception) -> bool:
        message = exc.message if isinstance(exc, CorralError) else f"internal error: {type(exc).__name__}"
        try:
            await self.harness.store.emit_events(
                fence.session_id, emits.exhausted("unknown_error", message), fence=fence
            )
            return True
        except Exception:  # the database may be what failed; the lease then expires and another worker retries
            log.warning("could not report the failure of %s on the session", fence.session_id)
            return False

    async def _release(self, fence: Fence, seen: int, runnable: bool, retry_in: float | None) -> None:
        try:
            await self.harness.store.release(fence, seen, runnable=runnable, retry_in=retry_in)
        except CorralError as exc:
            log.warning("releasing %s failed (its lease will expire): %s", fence.session_id, exc.message)
