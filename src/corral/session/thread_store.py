"""``ThreadStore``: a session's threads on any ``Database`` engine (flows in ``corral.session.threads``).

Verbs: ``create_thread``, ``get_thread``, ``list_threads``, ``archive_thread``; a thread's log is read, paged and
streamed with the ``SessionStore`` verbs under the id ``log_of`` names.
"""

from __future__ import annotations

from corral.db import Database
from corral.ids import now, rfc3339
from corral.session import threads
from corral.session.broker import Broker
from corral.session.events import Event
from corral.session.records import SessionRecord
from corral.session.threads import Delegation, NewThread, primary_thread_id, session_of_primary


class ThreadStore:
    def __init__(self, db: Database, broker: Broker):
        self.db = db
        self.broker = broker

    async def create_thread(self, new: NewThread) -> SessionRecord:
        record, events = await self.db.write(threads.create, new, rfc3339(now()))
        self._publish(events)
        return record

    async def delegate(self, delegation: Delegation) -> SessionRecord:
        """Create the delegation's thread with its task, once (``threads.delegate``)."""
        return await self.db.write(threads.delegate, delegation, rfc3339(now()))

    async def get_thread(self, session: SessionRecord, thread_id: str) -> SessionRecord:
        """The thread's row: the session's own for its primary thread (404 for another session's thread)."""
        if thread_id == primary_thread_id(session.id):
            return session
        return await self.db.read(threads.get, session.id, thread_id)

    async def list_threads(
        self, session_id: str, statuses: tuple[str, ...], limit: int, after: tuple[str, str] | None
    ) -> tuple[list[SessionRecord], bool]:
        return await self.db.read(threads.page, session_id, statuses, limit, after)

    async def archive_thread(self, session_id: str, thread_id: str) -> SessionRecord:
        record, events = await self.db.write(threads.archive, session_id, thread_id, rfc3339(now()))
        self._publish(events)
        return record

    def _publish(self, events: list[Event]) -> None:
        """Hand each log's events to the feed (``Broker.publish`` takes one log's at a time)."""
        by_log: dict[str, list[Event]] = {}
        for event in events:
            by_log.setdefault(event.session_id, []).append(event)
        for appended in by_log.values():
            self.broker.publish(appended)


__all__ = ["Delegation", "NewThread", "ThreadStore", "primary_thread_id", "session_of_primary"]
