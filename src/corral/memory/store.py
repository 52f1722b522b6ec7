"""``MemoryStores``: memory stores, their memories and memory versions on any ``Database`` engine.

Every verb takes the caller's ``workspace_id`` and sees only that workspace's stores (another workspace's store,
memory or version is a 404, as is an id of the wrong kind). Inputs are the typed models of
``corral.memory.params``; paths and sizes are checked before any transaction starts, and the rules against what
is stored (archived store, taken path, precondition) inside the one write transaction, so a refused request
writes nothing. Writes made through the API record ``created_by`` as an ``api_actor`` naming the caller's API
key (None for the server's admin key, which has no id); what a session writes in its mount of a store
(``write_back``) records its ``session_actor``.
"""

from __future__ import annotations

from corral.db import Database
from corral.db.pages import cursor_from
from corral.errors import InvalidRequest, NotFound
from corral.ids import is_id, new_id, now, rfc3339
from corral.memory import _listing, _memories, _stores, _versions, _writeback, paths
from corral.memory._memories import Change
from corral.memory._versions import VersionFilter
from corral.memory.params import MemoryCreate, MemoryUpdate, StoreCreate, StoreUpdate, check_content
from corral.memory.records import Actor, MemoryRecord, StoreRecord, VersionRecord, View
from corral.memory.writeback import Head, Op, Outcome
from corral.paging import Page

FULL_VIEW_LIMIT = 20


def _stamp() -> str:
    return rfc3339(now())


def _store_id(store_id: str) -> str:
    if not is_id("memory_store", store_id):
        raise _stores.missing(store_id)
    return store_id


def _memory_id(memory_id: str) -> str:
    if not is_id("memory", memory_id):
        raise _memories.missing(memory_id)
    return memory_id


def _version_id(version_id: str) -> str:
    if not is_id("memory_version", version_id):
        raise NotFound(f"memory version {version_id} not found")
    return version_id


def actor(api_key_id: str | None) -> Actor | None:
    """The author of a write made with the API key ``api_key_id``."""
    return None if api_key_id is None else Actor("api_actor", api_key_id)


def page_size(limit: int, view: View) -> int:
    """With ``view=full`` a page holds at most 20 items (api-types.md ``MemoryListParams``)."""
    return min(limit, FULL_VIEW_LIMIT) if view == "full" else limit


def session_actor(session_id: str) -> Actor:
    """The author of what a session writes in its mount of a store."""
    return Actor("session_actor", session_id)


class MemoryStores:
    def __init__(self, db: Database):
        self.db = db

    # ------------------------------------------------------------------ stores

    async def create_store(self, workspace_id: str, params: StoreCreate) -> StoreRecord:
        stamp = _stamp()
        record = StoreRecord(
            id=new_id("memory_store"),
            workspace_id=workspace_id,
            name=params.name,
            description=params.description or "",
            metadata=dict(params.metadata or {}),
            created_at=stamp,
            updated_at=stamp,
            archived_at=None,
        )
        return await self.db.write(_stores.create, record)

    async def get_store(self, workspace_id: str, store_id: str) -> StoreRecord:
        return await self.db.read(_stores.select, _store_id(store_id), workspace_id)

    async def update_store(self, workspace_id: str, store_id: str, params: StoreUpdate) -> StoreRecord:
        return await self.db.write(_stores.update, _store_id(store_id), workspace_id, params, _stamp())

    async def archive_store(self, workspace_id: str, store_id: str) -> StoreRecord:
        return await self.db.write(_stores.archive, _store_id(store_id), workspace_id, _stamp())

    async def delete_store(self, workspace_id: str, store_id: str) -> None:
        await self.db.write(_stores.delete, _store_id(store_id), workspace_id, _stamp())

    async def list_stores(
        self,
        workspace_id: str,
        *,
        include_archived: bool,
        created: tuple[str | None, str | None],
        limit: int,
        page: str | None,
    ) -> Page:
        cursor = cursor_from(page, _stores.SCOPE)
        return await self.db.read(_stores.page, workspace_id, include_archived, created, limit, cursor)

    # ------------------------------------------------------------------ memories

    async def create_memory(
        self, workspace_id: str, store_id: str, params: MemoryCreate, api_key_id: str | None
    ) -> MemoryRecord:
        if params.content is None:
            raise InvalidRequest('content: send a string ("" for an empty memory)')
        path, content = paths.memory_path(params.path), check_content(params.content)
        change = Change(new_id("memory_version"), actor(api_key_id))
        flow = _memories.create
        return await self.db.write(flow, _store_id(store_id), workspace_id, new_id("memory"), path, content, change)

    async def get_memory(self, workspace_id: str, store_id: str, memory_id: str) -> MemoryRecord:
        return await self.db.read(_memories.get, _memory_id(memory_id), _store_id(store_id), workspace_id)

    async def update_memory(
        self, workspace_id: str, store_id: str, memory_id: str, params: MemoryUpdate, api_key_id: str | None
    ) -> MemoryRecord:
        path = None if params.path is None else paths.memory_path(params.path)
        content = None if params.content is None else check_content(params.content)
        expected = None
        if params.precondition is not None:
            if params.precondition.content_sha256 is None:
                raise InvalidRequest("precondition.content_sha256 is required (64 lowercase hex characters)")
            expected = params.precondition.content_sha256
        change = Change(new_id("memory_version"), actor(api_key_id))
        ids = _memory_id(memory_id), _store_id(store_id)
        return await self.db.write(_memories.update, *ids, workspace_id, (path, content), expected, change)

    async def delete_memory(
        self, workspace_id: str, store_id: str, memory_id: str, expected_sha256: str | None, api_key_id: str | None
    ) -> None:
        change = Change(new_id("memory_version"), actor(api_key_id))
        ids = _memory_id(memory_id), _store_id(store_id)
        await self.db.write(_memories.delete, *ids, workspace_id, expected_sha256, change)

    async def list_memories(
        self, workspace_id: str, store_id: str, *, prefix: str | None, depth: int, limit: int, page: str | None
    ) -> Page:
        store_id, prefix = _store_id(store_id), paths.path_prefix(prefix)
        scope = _listing.scope_of(store_id, prefix, depth)
        start = _listing.bound_from(page, scope, prefix)
        return await self.db.read(_listing.page, store_id, workspace_id, prefix, depth, limit, start, scope)

    # ------------------------------------------------------------------ versions

    async def get_version(self, workspace_id: str, store_id: str, version_id: str) -> VersionRecord:
        return await self.db.read(_versions.get, _version_id(version_id), _store_id(store_id), workspace_id)

    async def redact_version(
        self, workspace_id: str, store_id: str, version_id: str, api_key_id: str | None
    ) -> VersionRecord:
        ids = _version_id(version_id), _store_id(store_id)
        return await self.db.write(_versions.redact, *ids, workspace_id, actor(api_key_id), _stamp())

    async def list_versions(
        self, workspace_id: str, store_id: str, filters: VersionFilter, *, limit: int, page: str | None
    ) -> Page:
        store_id = _store_id(store_id)
        cursor = cursor_from(page, _versions.scope_of(store_id))
        if not filters.could_match():
            await self.get_store(workspace_id, store_id)  # still a 404 for a store that is not the caller's
            return Page([], None)
        return await self.db.read(_versions.page, store_id, workspace_id, filters, limit, cursor)

    # ------------------------------------------------------------------ sessions' mounts (corral.memory.writeback)

    async def tree(self, workspace_id: str, store_id: str) -> tuple[StoreRecord, list[MemoryRecord]]:
        """The store and every memory in it, with content, in path order (what a mount is built from)."""
        return await self.db.read(_writeback.tree, _store_id(store_id), workspace_id)

    async def heads(self, workspace_id: str, store_id: str) -> tuple[StoreRecord, list[Head]]:
        """The store and its memories without content (what a mount compares with to refresh)."""
        return await self.db.read(_writeback.heads, _store_id(store_id), workspace_id)

    async def contents(self, workspace_id: str, store_id: str, memory_ids: list[str]) -> list[MemoryRecord]:
        """Those of ``memory_ids`` that still exist in the store, with content."""
        return await self.db.read(_writeback.contents, _store_id(store_id), workspace_id, memory_ids)

    async def write_back(self, workspace_id: str, store_id: str, session_id: str, ops: list[Op]) -> list[Outcome]:
        """Apply what the session ``session_id`` changed in its mount, in one transaction, as its
        ``session_actor``; a conflict keeps the head and stores the session's content beside it (never lost)."""
        if not ops:
            return []
        planned = [(op, (new_id("memory"), new_id("memory_version"))) for op in ops]
        flow, actor = _writeback.write_back, session_actor(session_id)
        return await self.db.write(flow, _store_id(store_id), workspace_id, session_id, planned, actor)
