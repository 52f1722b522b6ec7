"""SessionStore: the session interface of the design, on any ``Database`` engine.

The verbs a reader can grep for: ``create_session``, ``get_session``, ``emit_event`` / ``emit_events``,
``get_events`` (positional slices), ``subscribe`` (tail new events), ``edit_resources`` (a session's resources,
under the row lock); and for workers ``claim``,
``renew``, ``release`` (leases with fencing tokens).

Invariants:

* ``emit_event`` returns only after the event is committed; positions (``seq``) of a session are dense
  and unique (1, 2, 3 …) whatever the number of concurrent writers, in this process or others, because
  every append reserves its positions with one ``UPDATE … last_seq = last_seq + n`` in its transaction
  (a row lock on PostgreSQL, the database write lock on SQLite).
* A write carrying a ``Fence`` succeeds only while that fence's token is the session's current lease
  token and the lease has not expired; otherwise ``LeaseLost`` and nothing is written.
* ``get_events(sid, start, end)`` costs O(end - start): a primary-key range scan on (session_id, seq).
* A subscriber falls at most ``subscriber_buffer`` events behind; then its stream ends with
  ``Closed("slow_consumer")`` and the others go on (``broker``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from corral._types import JSONObject, json_object
from corral.db import Database, Flow
from corral.ids import now, rfc3339
from corral.paging import Cursor
from corral.session import _log, _sessions, event_log, leases, resources
from corral.session.broker import BUFFER, Broker, Subscriber
from corral.session.events import Delta, Event, NewEvent
from corral.session.inputs import check_batch, check_event
from corral.session.leases import Fence
from corral.session.quotas import LogQuota
from corral.session.records import NewSession, SessionFilter, SessionRecord
from corral.session.resources import Also, Edit, Resources
from corral.session.thread_store import ThreadStore


class SessionStore:
    def __init__(self, db: Database, *, subscriber_buffer: int = BUFFER):
        """``subscriber_buffer``: events a subscriber may fall behind by before it is cut off."""
        self.db = db
        self.broker = Broker(self._slice_from, self._last_seqs, buffer=subscriber_buffer)
        self.threads = ThreadStore(db, self.broker)
        self._stops = [db.listen("events", self.broker.on_events), db.listen("deltas", self.broker.on_delta)]

    async def aclose(self) -> None:
        for stop in self._stops:
            stop()
        await self.broker.aclose()

    # ------------------------------------------------------------------ sessions

    async def create_session(self, new: NewSession, *, also: Also | None = None) -> tuple[SessionRecord, list[Event]]:
        """``also``: another flow to commit with the session (or not at all)."""
        if new.initial_events:
            check_batch(new.initial_events)
        return await self.db.write(_sessions.create, new, rfc3339(now()), also)

    async def get_session(self, session_id: str, workspace_id: str | None = None) -> SessionRecord:
        return await self.db.read(_sessions.get, session_id, workspace_id)

    async def list_sessions(
        self, flt: SessionFilter, *, order: str, limit: int, cursor: Cursor | None
    ) -> tuple[list[SessionRecord], bool]:
        return await self.db.read(_sessions.page, flt, order, limit, cursor)

    async def update_session(
        self, session_id: str, workspace_id: str, changes: JSONObject, *, guard_running: bool = True
    ) -> SessionRecord:
        record, event = await self.db.write(
            _sessions.update_doc, session_id, workspace_id, changes, rfc3339(now()), guard_running
        )
        if event is not None:
            self.broker.publish([event])
        return record

    async def archive_session(self, session_id: str, workspace_id: str) -> SessionRecord:
        record, event = await self.db.write(_sessions.archive, session_id, workspace_id, rfc3339(now()))
        if event is not None:
            self.broker.publish([event])
        return record

    async def delete_session(self, session_id: str, workspace_id: str, *, also: Also | None = None) -> None:
        await self.db.write(_sessions.delete, session_id, workspace_id, rfc3339(now()), also)

    async def edit_resources(
        self, session_id: str, workspace_id: str, change: Edit, *, also: Also | None = None
    ) -> tuple[SessionRecord, Resources]:
        """Change the session's resources atomically (``corral.session.resources``)."""
        return await self.db.write(resources.edit, session_id, workspace_id, change, rfc3339(now()), also)

    async def live_docs(self, key: str, *, batch: int = 500) -> AsyncGenerator[JSONObject]:
        """The docs of sessions not terminated that hold the top-level ``key`` (for the blob collector: what a
        live session's resources still need), read in batches of ``batch``."""
        after = ""
        while rows := await self.db.read(_sessions.docs_holding, key, after, batch):
            for _, text in rows:
                doc = json_object(json.loads(text))
                if doc is not None and key in doc:
                    yield doc
            after = rows[-1][0]

    # ------------------------------------------------------------------ the log

    async def emit_event(self, session_id: str, event: NewEvent, *, fence: Fence | None = None) -> Event:
        """Append one event durably and return it with its position and id."""
        return (await self.emit_events(session_id, [event], fence=fence))[0]

    async def emit_events(self, session_id: str, events: list[NewEvent], *, fence: Fence | None = None) -> list[Event]:
        appended = await self.db.write_grouped(session_id, _log.append, session_id, events, rfc3339(now()), fence)
        self.broker.publish(appended)
        return appended

    async def send_client_events(
        self,
        session_id: str,
        workspace_id: str,
        events: list[NewEvent],
        *,
        self_hosted: bool = False,
        guard: Also | None = None,
        quota: LogQuota | None = None,
    ) -> list[Event]:
        """Append events sent by an API client, checked against the session's state and its log's ``quota`` (all
        or nothing); ``guard``, another flow that may refuse the batch, runs first in the same transaction."""
        check_batch(events, self_hosted=self_hosted)
        appended = await self.db.write(_guarded_append, guard, session_id, workspace_id, events, rfc3339(now()), quota)
        self.broker.publish(appended)
        return appended

    async def mark_processed(self, session_id: str, event_ids: list[str], *, fence: Fence | None = None) -> int:
        return await self.db.write(_log.mark_processed, session_id, event_ids, rfc3339(now()), fence)

    async def get_events(self, session_id: str, start: int = 1, end: int | None = None) -> list[Event]:
        """Events at positions ``start <= seq < end`` (``end`` None: to the last one)."""
        return await self.db.read(_log.slice_events, session_id, max(start, 1), end)

    async def find_event(self, session_id: str, event_id: str) -> Event | None:
        return await self.db.read(_log.find_event, session_id, event_id)

    async def list_events(self, query: event_log.EventQuery) -> tuple[list[Event], bool]:
        return await self.db.read(event_log.page, query)

    async def existing(self, session_ids: list[str]) -> set[str]:
        """Which of ``session_ids`` still exist (deleted ones are gone from the store)."""
        return set(await self._last_seqs(session_ids))

    async def _slice_from(self, session_id: str, start: int) -> list[Event]:
        return await self.db.read(_log.slice_events, session_id, start, start + 1000)

    async def _last_seqs(self, session_ids: list[str]) -> dict[str, int]:
        return await self.db.read(_log.last_seqs, session_ids)

    # ------------------------------------------------------------------ live

    @asynccontextmanager
    async def subscribe(self, session_id: str, deltas: frozenset[str] = frozenset()) -> AsyncGenerator[Subscriber]:
        """Tail the session: yields a subscriber whose ``receive`` stream gets every later event."""
        record = await self.get_session(session_id)
        subscriber = self.broker.attach(session_id, record.last_seq, deltas)
        try:
            yield subscriber
        finally:
            self.broker.detach(session_id, subscriber)

    async def publish_delta(self, delta: Delta, target: str) -> None:
        """Send a live-only preview (``target``: the event type it previews) to opted-in subscribers."""
        body = dict(delta.body)
        if body.get("type") == "event_delta":
            body["for"] = target
        await self.db.announce("deltas", json.dumps({"s": delta.session_id, "b": body}, separators=(",", ":")))

    # ------------------------------------------------------------------ leases

    async def claim(self, owner: str, ttl: float, limit: int = 16) -> list[Fence]:
        return await self.db.write(leases.claim, owner, ttl, limit)

    async def claim_one(self, session_id: str, owner: str, ttl: float) -> Fence | None:
        return await self.db.write(leases.claim_one, session_id, owner, ttl)

    async def renew(self, fence: Fence, ttl: float) -> None:
        await self.db.write(leases.renew, fence, ttl)

    async def release(
        self, fence: Fence, seen_seq: int, *, runnable: bool = False, retry_in: float | None = None
    ) -> bool:
        return await self.db.write(leases.release, fence, seen_seq, runnable, retry_in)


def _guarded_append(
    guard: Also | None,
    session_id: str,
    workspace_id: str,
    events: list[NewEvent],
    stamp: str,
    quota: LogQuota | None,
) -> Flow[list[Event]]:
    if guard is not None:
        yield from guard()
    return (
        yield from _log.append(session_id, events, stamp, check=check_event, workspace_id=workspace_id, quota=quota)
    )
