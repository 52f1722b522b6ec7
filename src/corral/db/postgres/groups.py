"""Group commit on PostgreSQL for short writes that each lock one row (``Database.write_grouped``: appends).

A transaction that notifies holds PostgreSQL's notification lock through its commit's WAL flush, so
notifying commits go one at a time whatever the number of connections. Concurrent appends of this process
therefore share transactions: one BEGIN, one COMMIT and one flush for the whole group.

Invariants:

* A caller hears of its write only after the COMMIT of its group returned (durable before acknowledged),
  and every write handed over is answered exactly once (or, if its caller was cancelled, run or not at all).
* When a group holds more than one flow, each runs inside its own SAVEPOINT: a flow that raises or is void
  (caught a ``UniqueViolation``) is undone alone and the others commit; a flow alone is rolled back whole.
* One group in flight per engine. A group's flows run in the order of their keys (stable, so one key's
  writes keep the order they were made in): two processes' groups lock rows in the same order and cannot
  deadlock on them. A flow that still meets a deadlock or a serialization failure is undone alone and
  retried first in the next group, up to ``ATTEMPTS`` times.
* The caller whose write finds no group in flight leads: it runs groups, shielded from its own
  cancellation, until its own write is answered, then hands the lead to the oldest caller still waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel

from corral.db.postgres.driver import Connection
from corral.db.postgres.flows import FAILURES, RETRYABLE, Note, rollback, run_flow
from corral.db.query import BoundFlow
from corral.errors import StorageError

GROUP_MAX = 64
ATTEMPTS = 8


@dataclass(eq=False)
class Pending:
    """One write waiting for its group: its outcome once ``answered``."""

    key: str
    flow: BoundFlow[Any]
    woken: anyio.Event | None = None  # made when its caller waits (a leader never does)
    lead: bool = False
    gone: bool = False  # its caller was cancelled while waiting: nobody will lead in its name
    answered: bool = False
    attempts: int = 0
    value: Any = None
    error: BaseException | None = None

    def answer(self, value: Any, error: BaseException | None) -> None:
        self.value, self.error, self.answered = value, error, True
        self.wake()

    def wake(self) -> None:
        if self.woken is not None:
            self.woken.set()

    def retry_or_fail(self) -> bool:
        """Count an attempt that met a conflict; True if the write may run again."""
        self.attempts += 1
        if self.attempts < ATTEMPTS:
            return True
        self.answer(None, StorageError(f"postgres write kept conflicting; gave up after {ATTEMPTS} attempts"))
        return False


RunGroup = Callable[[list[Pending]], Awaitable[list[Pending]]]
"""Runs a group in one transaction and answers its writes; returns those to retry (conflicts)."""


class Groups:
    def __init__(self, run: RunGroup):
        self._run = run
        self._queue: list[Pending] = []
        self._busy = False

    async def write(self, key: str, flow: BoundFlow[Any]) -> Any:
        pending = Pending(key, flow)
        self._queue.append(pending)
        if self._busy:
            await self._wait(pending)
        else:
            self._busy = True
        if not pending.answered:
            with anyio.CancelScope(shield=True):
                await self._lead(pending)
        if pending.error is not None:
            raise pending.error
        return pending.value

    async def _wait(self, pending: Pending) -> None:
        """Until ``pending`` is answered or asked to lead."""
        while not pending.answered and not pending.lead:
            pending.woken = anyio.Event()
            try:
                await pending.woken.wait()
            except BaseException:
                pending.gone = True
                if pending.lead and not pending.answered:
                    self._hand_over()  # it will not lead: the next one does (its write still runs)
                raise

    async def _lead(self, mine: Pending) -> None:
        shared = False  # whether others were answered with us
        try:
            while not mine.answered:
                group, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
                shared = shared or len(group) > 1
                try:
                    conflicts = await self._run(group)
                except BaseException as exc:  # the runner answers every write; this is its safety net
                    error = exc if isinstance(exc, Exception) else StorageError("postgres group write interrupted")
                    for pending in group:
                        if not pending.answered:
                            pending.answer(None, error)
                    raise
                retry = [p for p in conflicts if p.retry_or_fail()]
                if retry:  # let the transaction we collided with finish first
                    await anyio.sleep(0.002 * 2 ** max(p.attempts for p in retry))
                self._queue[:0] = retry
            if shared:  # the writers just answered often write again at once: let them queue up
                await anyio.lowlevel.checkpoint()
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """The lead passes to the oldest caller still waiting; with nobody left, no group is in flight."""
        self._queue = [p for p in self._queue if not p.gone]
        if not self._queue:
            self._busy = False
            return
        first = self._queue[0]
        first.lead = True
        first.wake()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one write of a group came to: kept (its notes are sent with the COMMIT), undone with its value or
    error, or met a conflict (to run again)."""

    value: Any = None
    error: BaseException | None = None
    notes: list[Note] | None = None
    conflict: bool = False

    @property
    def kept(self) -> bool:
        return self.notes is not None


Commit = Callable[[Connection, list[Note]], Awaitable[None]]


class Undone(Exception):
    """A write of a group run without savepoints was not kept: the whole transaction was rolled back."""


async def transaction(conn: Connection, group: list[Pending], commit: Commit, *, savepoints: bool) -> list[Outcome]:
    """Run ``group`` in one transaction on ``conn`` and commit what is kept. Without ``savepoints`` a write of
    several that is not kept rolls the whole transaction back and raises ``Undone`` (run them again with
    savepoints): the happy path spends no round trip on savepoints."""
    await conn.execute("BEGIN; SAVEPOINT g" if savepoints else "BEGIN")
    try:
        outcomes: list[Outcome] = []
        for index, pending in enumerate(group):
            if index and savepoints:
                await conn.execute("RELEASE SAVEPOINT g; SAVEPOINT g")
            outcome = await _run(conn, pending.flow)
            if not outcome.kept and savepoints:
                await conn.execute("ROLLBACK TO SAVEPOINT g")
            elif not outcome.kept and len(group) > 1:
                await conn.execute("ROLLBACK")
                raise Undone
            outcomes.append(outcome)
        notes = [note for outcome in outcomes for note in outcome.notes or ()]
        await (commit(conn, notes) if any(o.kept for o in outcomes) else conn.execute("ROLLBACK"))
    except BaseException:
        with anyio.CancelScope(shield=True):
            await rollback(conn)
        raise
    return outcomes


async def _run(conn: Connection, flow: BoundFlow[Any]) -> Outcome:
    notes: list[Note] = []
    try:
        value, void = await run_flow(conn, flow, notes)
    except RETRYABLE:
        return Outcome(conflict=True)
    except FAILURES as exc:
        return Outcome(error=StorageError(f"postgres write failed: {exc}"))
    except Exception as exc:
        return Outcome(error=exc)
    return Outcome(value) if void else Outcome(value, notes=notes)
