"""What the SQLite engine's threads pass around: jobs, and the hop that answers them on the event loop.

Invariant: an answer reaches the loop with one ``call_soon_threadsafe`` per batch of outcomes; if the loop is
gone (the process is exiting), nobody is waiting and the answer is dropped.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from corral.db.query import BoundFlow
from corral.errors import StorageError

Note = tuple[str, str]
"""A notification a flow asked for: ``(channel, payload)``, rung once its transaction committed."""

Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]
"""A caller's future, and its flow's value or error."""

Finish = Callable[[list[Outcome], list[Note]], None]


@dataclass(eq=False, slots=True)
class Job:
    flow: BoundFlow[Any]
    future: asyncio.Future[Any]
    notes: list[Note] = field(default_factory=lambda: list[Note]())


class Hop:
    """Answers callers on the event loop; a closed loop (process exit) means nobody is waiting any more."""

    def __init__(self, loop: asyncio.AbstractEventLoop, finish: Finish):
        self._loop = loop
        self._finish = finish

    def answer(self, outcomes: list[Outcome], notes: list[Note]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._finish, outcomes, notes)
        except RuntimeError:
            pass

    def fail(self, jobs: list[Job], error: BaseException) -> None:
        if jobs:
            self.answer([(job.future, None, error) for job in jobs], [])


def drain(jobs: queue.SimpleQueue[Job | None]) -> list[Job]:
    left: list[Job] = []
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return left
        if job is not None:
            left.append(job)


class Inbox:
    """The job queue of one or more threads. Once closed (its threads stopped), a job is refused at once or
    answered with the closing error: it never waits for a thread that is gone."""

    def __init__(self, hop: Hop):
        self.queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._hop = hop
        self._closed: StorageError | None = None

    def submit(self, job: Job) -> None:
        """From the event loop."""
        if self._closed is not None:
            raise self._closed
        self.queue.put(job)
        if self._closed is not None:  # the threads stopped while we put: answer what they left behind
            self._hop.fail(drain(self.queue), self._closed)

    def close(self, error: StorageError) -> None:
        """From the last thread that serves this inbox, as it stops."""
        self._closed = error
        self._hop.fail(drain(self.queue), error)
