"""Live fan-out: each session's new events reach its subscribers in order, without gaps or repeats.

Invariants:

* Data always comes from the log. In-process appends hand their ``Event`` objects over directly (the
  fast path); a notification from the database is only a doorbell, after which the feed re-reads the
  log from the last position it delivered. So a lost, merged or early doorbell costs latency, never an
  event.
* A subscriber receives exactly the events with ``seq`` greater than the session's last position at the
  moment it subscribed ("no replay"), in ``seq`` order, each once.
* A subscriber that stops reading is cut off when its buffer fills, so one slow client cannot hold
  memory or slow others down; its stream then ends with ``Closed("slow_consumer")`` (a slot is kept for it).
* A failed catch-up read is retried (with backoff) until it succeeds or nobody watches the session.
* Deltas are live-only: delivered to opted-in subscribers of this process (and, on PostgreSQL, of
  every process), never stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from corral._types import JSONObject
from corral.ids import new_id, now, rfc3339
from corral.session.events import Delta, Event

log = logging.getLogger(__name__)

SliceReader = Callable[[str, int], Awaitable[list[Event]]]
SeqReader = Callable[[list[str]], Awaitable[dict[str, int]]]

BUFFER = 4096
RETRY_MAX_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Closed:
    """Sent last to a subscriber whose stream ends: the session was deleted, or it fell behind."""

    reason: str


Item = Event | Delta | Closed


@dataclass(eq=False)
class Subscriber:
    """One live tail. ``after``: it receives the events with ``seq > after``; ``receive`` is its stream."""

    after: int
    deltas: frozenset[str]
    send: MemoryObjectSendStream[Item]
    receive: MemoryObjectReceiveStream[Item]
    closed: bool = False
    limit: int = BUFFER
    #: items that may still be sent before the buffer must be looked at (reading its size costs more than a
    #: send, and 200 subscribers get every event)
    _budget: int = 0

    def offer(self, item: Item) -> None:
        if self.closed:
            return
        if self._budget <= 0:
            used = self.send.statistics().current_buffer_used
            if used >= self.limit:
                self.close("slow_consumer")
                return
            self._budget = self.limit - used
        self._budget -= 1
        try:
            self.send.send_nowait(item)
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.closed = True
            self.send.close()

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.send.send_nowait(Closed(reason))
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        self.send.close()


@dataclass(eq=False)
class Feed:
    session_id: str
    last_seq: int
    subscribers: set[Subscriber] = field(default_factory=lambda: set[Subscriber]())
    catching_up: bool = False
    wanted: int = 0
    #: read until the log has nothing more, doorbell or not (set for a new feed: see ``attach``)
    probe: bool = False


class Broker:
    def __init__(self, read_slice: SliceReader, read_seqs: SeqReader, *, buffer: int = BUFFER):
        self._read_slice = read_slice
        self._read_seqs = read_seqs
        self._buffer = buffer
        self._feeds: dict[str, Feed] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._rechecking = False
        self._recheck_again = False

    # ------------------------------------------------------------------ subscribing

    def attach(self, session_id: str, last_seq: int, deltas: frozenset[str]) -> Subscriber:
        """Tail ``session_id`` from ``last_seq`` (what the caller just read), or from where the feed already is.

        If the feed has delivered further than ``last_seq`` (events appended while the caller was reading),
        the subscriber starts there: it must not get a replay of some events while having missed others.
        A new feed reads the log once past ``last_seq``: an event committed between the caller's read and this
        attach rang its doorbell (or was published) while no feed listened, and may be the session's last.
        """
        send, receive = anyio.create_memory_object_stream[Item](self._buffer + 1)  # + 1: room for Closed
        feed = self._feeds.get(session_id)
        fresh = feed is None
        if feed is None:
            feed = self._feeds[session_id] = Feed(session_id, last_seq)
        subscriber = Subscriber(max(last_seq, feed.last_seq, 0), deltas, send, receive, limit=self._buffer)
        feed.subscribers.add(subscriber)
        if fresh:
            self._probe(feed)
        elif last_seq > feed.last_seq:
            self._doorbell(session_id, last_seq)
        return subscriber

    def detach(self, session_id: str, subscriber: Subscriber) -> None:
        subscriber.closed = True
        subscriber.send.close()
        subscriber.receive.close()
        feed = self._feeds.get(session_id)
        if feed is None:
            return
        feed.subscribers.discard(subscriber)
        if not feed.subscribers:
            del self._feeds[session_id]

    @property
    def watched(self) -> list[str]:
        return list(self._feeds)

    # ------------------------------------------------------------------ publishing

    def publish(self, events: list[Event]) -> None:
        """Hand freshly appended events (in seq order, one session) to the feed: the fast path."""
        if not events:
            return
        feed = self._feeds.get(events[0].session_id)
        if feed is None:
            return
        for event in events:
            # the next position is delivered even while a catch-up reads: the catch-up delivers only what follows
            # the feed's position, so nothing comes twice or out of order (and a new feed's probe delays nothing)
            if event.seq == feed.last_seq + 1:
                self._deliver(feed, event)
            elif event.seq > feed.last_seq:
                self._doorbell(feed.session_id, event.seq)
                return

    def publish_delta(self, delta: Delta) -> None:
        feed = self._feeds.get(delta.session_id)
        if feed is None:
            return
        if delta.body.get("type") == "event_start":
            started: JSONObject = delta.body.get("event") or {}
            target = started.get("type")
        else:
            target = delta.body.get("for")
        for subscriber in list(feed.subscribers):
            if target in subscriber.deltas:
                subscriber.offer(Delta(delta.session_id, {k: v for k, v in delta.body.items() if k != "for"}))

    def _deliver(self, feed: Feed, event: Event) -> None:
        feed.last_seq = event.seq
        for subscriber in list(feed.subscribers):
            if event.seq > subscriber.after:
                subscriber.offer(event)

    # ------------------------------------------------------------------ doorbells

    def on_events(self, payload: str | None) -> None:
        """Database notification on the ``events`` channel: ``"<sid>:<seq>"``, ``"<sid>:deleted"`` or None."""
        if payload is None:
            self._recheck_soon()
            return
        session_id, _, mark = payload.rpartition(":")
        if session_id not in self._feeds:
            return
        if mark == "deleted":
            self._deleted(session_id)
            return
        # Deferred one loop turn so that an in-process appender's publish() (the fast path) runs first.
        asyncio.get_running_loop().call_soon(self._doorbell, session_id, int(mark))

    def on_delta(self, payload: str | None) -> None:
        if payload is None:
            return
        data = json.loads(payload)
        self.publish_delta(Delta(data["s"], data["b"]))

    def _doorbell(self, session_id: str, seq: int) -> None:
        feed = self._feeds.get(session_id)
        if feed is None or seq <= feed.last_seq:
            return
        feed.wanted = max(feed.wanted, seq)
        self._read_on(feed)

    def _probe(self, feed: Feed) -> None:
        feed.probe = True
        self._read_on(feed)

    def _read_on(self, feed: Feed) -> None:
        """Start the feed's catch-up unless one runs (it reads on while anything is wanted)."""
        if not feed.catching_up:
            feed.catching_up = True
            self._spawn(self._catch_up(feed))

    async def _catch_up(self, feed: Feed) -> None:
        delay = 0.01
        try:
            while (feed.probe or feed.wanted > feed.last_seq) and self._feeds.get(feed.session_id) is feed:
                try:
                    events = await self._read_slice(feed.session_id, feed.last_seq + 1)
                except Exception:
                    log.exception("catching up session %s failed; retrying in %.2fs", feed.session_id, delay)
                    await anyio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    continue
                if not events:
                    feed.probe = False
                    break
                for event in events:
                    if event.seq == feed.last_seq + 1:
                        self._deliver(feed, event)
        finally:
            feed.catching_up = False

    def _recheck_soon(self) -> None:
        """Coalesce doorbells without payload: one re-read at a time, and one more if rung meanwhile."""
        if self._rechecking:
            self._recheck_again = True
            return
        self._rechecking = True
        self._spawn(self._recheck_all())

    async def _recheck_all(self) -> None:
        """Compare every watched session with the database (another process may have written or deleted)."""
        try:
            while True:
                self._recheck_again = False
                await self._recheck_once()
                if not self._recheck_again:
                    return
        finally:
            self._rechecking = False

    async def _recheck_once(self) -> None:
        delay = 0.01
        while asked := list(self._feeds):
            try:
                seqs = await self._read_seqs(asked)
                break
            except Exception:
                log.exception("re-reading watched sessions failed; retrying in %.2fs", delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
        else:
            return
        for session_id in asked:
            if session_id not in self._feeds:
                continue
            if session_id not in seqs:
                self._deleted(session_id)
            else:
                self._doorbell(session_id, seqs[session_id])

    def _deleted(self, session_id: str) -> None:
        feed = self._feeds.pop(session_id, None)
        if feed is None:
            return
        stamp = rfc3339(now())
        event = Event(session_id, feed.last_seq + 1, new_id("event"), "session.deleted", stamp, stamp, "{}")
        for subscriber in list(feed.subscribers):
            subscriber.offer(event)
            subscriber.close("deleted")

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for feed in list(self._feeds.values()):
            for subscriber in list(feed.subscribers):
                subscriber.close("shutdown")
        self._feeds.clear()
