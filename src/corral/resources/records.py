"""A session's resources as its record holds them (``doc.resources``: the wire objects the API returns).

``of_kind`` is what each part of ``corral.resources`` reads: the resources of one ``type``, in order. A session
that is gone (deleted meanwhile) has none; an entry that is not an object is skipped (the API writes the list, so
that never happens unless the record was edited by hand).

``SharedReads`` is how the parts read records: inside ``one_read(session_id)`` (``Combined`` opens it around each
hook), every part's ``get_session`` of that session answers from one read, so a sandbox call costs one record read
however many kinds of resource there are. Outside it, each call reads afresh. Hooks of one session may run
concurrently (two workers' calls reaching one sandbox host): the first ``one_read`` to hold a read owns it, the
others use it while it lasts, then read afresh.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Protocol

from corral._types import JSONObject, json_list, json_object
from corral.errors import NotFound
from corral.session import SessionRecord


class SessionReader(Protocol):
    async def get_session(self, session_id: str, workspace_id: str | None = None) -> SessionRecord: ...


class SharedReads:
    def __init__(self, sessions: SessionReader) -> None:
        self._sessions = sessions
        #: session id → its record read at the start of the open ``one_read`` (None: it is gone)
        self._held: dict[str, SessionRecord | None] = {}

    async def get_session(self, session_id: str, workspace_id: str | None = None) -> SessionRecord:
        if session_id not in self._held:
            return await self._sessions.get_session(session_id, workspace_id)
        held = self._held[session_id]
        if held is None or (workspace_id is not None and held.workspace_id != workspace_id):
            raise NotFound(f"session {session_id} not found")
        return held

    @asynccontextmanager
    async def one_read(self, workspace_id: str, session_id: str) -> AsyncGenerator[None]:
        if session_id in self._held:  # already inside one (a hook calling another): that read serves
            yield
            return
        try:
            read: SessionRecord | None = await self._sessions.get_session(session_id, workspace_id)
        except NotFound:
            read = None
        if session_id in self._held:  # a concurrent hook of the session (another worker's call) read meanwhile
            yield
            return
        self._held[session_id] = read
        try:
            yield
        finally:
            del self._held[session_id]


async def of_kind(sessions: SessionReader, workspace_id: str, session_id: str, kind: str) -> list[JSONObject]:
    try:
        record = await sessions.get_session(session_id, workspace_id)
    except NotFound:
        return []
    found: list[JSONObject] = []
    for item in json_list(record.doc.get("resources")) or []:
        resource = json_object(item)
        if resource is not None and resource.get("type") == kind:
            found.append(resource)
    return found
