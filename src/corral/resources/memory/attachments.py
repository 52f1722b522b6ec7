"""``MemoryAttachments``: the memory stores a session attaches (api.md §12.2), as directories of its sandbox.

Each ``memory_store`` resource of the session (``doc.resources``: ``memory_store_id``, ``access``,
``mount_path``) is a copy of the store's memories on the host, under ``<mount_root>/memory/<session>/``, mounted
at its ``mount_path`` (``/mnt/memory/<slug>``): read-only for ``read_only`` (and for an archived store, which
takes no writes), writable for ``read_write``.

Invariants:

* A copy is built afresh from the store at every provisioning, after what the previous sandbox left in it was
  written back; between provisionings it is kept in step both ways: after every sandbox call (``after_call``)
  what the session changed is written back (``corral.memory.MemoryStores.write_back``, as the session's
  ``session_actor``: new, changed and deleted files become created, modified and deleted versions), and before
  every call (``before_call``) what others changed is brought into the copy (``sync.refresh``; the session's
  own unsaved changes are never overwritten). Conflicts keep both contents as versions
  (``corral.memory.writeback``), and the copy shows both at once.
* When the sandbox is released the copies are written back a last time and removed from the host; when the
  session is deleted (``forget``) they are removed.
* What cannot be written back (a bad name, a link, a binary or oversized file, a conflict, an archived or
  deleted store) is told to the session once, as a ``session.error`` notice (``unknown_error``, ``retrying``),
  never raised: the sandbox call it followed has its result already.
* The copies of a session are changed under one lock, so calls of one session never interleave their
  write-backs; calls of different sessions on one store are serialised by the store itself.
* Filesystem work runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

from corral._types import JSONObject, json_list, json_object
from corral.errors import CorralError
from corral.memory import MemoryStores
from corral.resources.memory import scan as scanning
from corral.resources.memory import sync, tree
from corral.resources.records import SessionReader
from corral.sandbox.attach import Attachments, Mount, SessionAttachments
from corral.sandbox.base import ProvisionNotice

log = logging.getLogger(__name__)
NOTICE_TYPE = "unknown_error"  # api.md §7.3 has no error type of its own for memory write-back
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class StoreCopy:
    """One attached store: its copy on the host and what is known of it."""

    store_id: str
    root: Path
    target: str
    writable: bool
    known: tree.Known = field(default_factory=lambda: tree.Known())


@dataclass
class SessionCopies:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    copies: list[StoreCopy] = field(default_factory=lambda: list[StoreCopy]())
    #: notices already given (each is told once)
    told: set[str] = field(default_factory=lambda: set[str]())


def memory_resources(doc: JSONObject) -> list[JSONObject]:
    """The session's ``memory_store`` resources, in order."""
    found = (json_object(item) for item in json_list(doc.get("resources")) or [])
    return [item for item in found if item is not None and item.get("type") == "memory_store"]


def mount_path(resource: JSONObject) -> str:
    """Where the store is mounted: its ``mount_path``, else ``/mnt/memory/<slug of its name>``."""
    given = resource.get("mount_path")
    if isinstance(given, str) and given:
        return given
    return "/mnt/memory/" + (_NOT_SLUG.sub("-", str(resource.get("name") or "").lower()).strip("-") or "memory")


Step = Callable[[str, str, SessionCopies, StoreCopy], Awaitable[None]]
"""A step applied to each copy of a session (refresh, or write back then refresh on conflict)."""


class MemoryAttachments(SessionAttachments):
    def __init__(self, sessions: SessionReader, memory: MemoryStores, mount_root: Path):
        self.sessions = sessions
        self.memory = memory
        self.base = mount_root / "memory"
        self._copies: dict[str, SessionCopies] = {}
        self._notices: dict[str, list[ProvisionNotice]] = {}

    # ------------------------------------------------------------------ hooks

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        record = await self.sessions.get_session(session_id, workspace_id)
        resources = memory_resources(record.doc)
        if not resources and session_id not in self._copies:
            return Attachments()
        state = self._copies.setdefault(session_id, SessionCopies())
        async with state.lock:
            await self._sync_all(workspace_id, session_id, state)  # what the last sandbox left
            await anyio.to_thread.run_sync(_make_dirs, self.base / session_id)
            state.copies = []
            for index, resource in enumerate(resources):
                copy = await self._build(workspace_id, session_id, state, index, resource)
                if copy is not None:
                    state.copies.append(copy)
        return Attachments(mounts=tuple(Mount(str(c.root), c.target, read_only=not c.writable) for c in state.copies))

    async def before_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        """Bring what others changed in the stores into the copies (the call sees the stores as they are)."""
        state = self._copies.get(session_id)
        if state is None:
            return
        async with state.lock:
            await self._each(workspace_id, session_id, state, self._refresh)

    async def after_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        state = self._copies.get(session_id)
        if state is None:
            return
        async with state.lock:
            await self._sync_all(workspace_id, session_id, state)

    async def released(self, workspace_id: str, session_id: str) -> None:
        """The session's sandbox is gone: write back what it left, then drop the copies."""
        state = self._copies.pop(session_id, None)
        if state is None:
            return
        async with state.lock:
            await self._sync_all(workspace_id, session_id, state)
            await anyio.to_thread.run_sync(shutil.rmtree, self.base / session_id, True)
        for notice in self._notices.pop(session_id, []):
            log.warning("memory write-back of %s after its sandbox: %s", session_id, notice.message)

    async def forget(self, session_id: str) -> None:
        """The session is deleted: drop its copies (nothing is written back for a session that no longer is)."""
        self._copies.pop(session_id, None)
        self._notices.pop(session_id, None)
        await anyio.to_thread.run_sync(shutil.rmtree, self.base / session_id, True)

    def take_notices(self, session_id: str) -> list[ProvisionNotice]:
        return self._notices.pop(session_id, [])

    # ------------------------------------------------------------------ steps

    async def _build(
        self, workspace_id: str, session_id: str, state: SessionCopies, index: int, resource: JSONObject
    ) -> StoreCopy | None:
        store_id, target = str(resource.get("memory_store_id")), mount_path(resource)
        try:
            store, memories = await self.memory.tree(workspace_id, store_id)
        except CorralError as exc:
            self._tell(session_id, state, f"memory store {store_id} ({target}) is not mounted: {exc.message}")
            return None
        writable = resource.get("access", "read_write") == "read_write" and store.archived_at is None
        copy = StoreCopy(store_id, self.base / session_id / f"{index}-{store_id}", target, writable)
        copy.known, skipped = await anyio.to_thread.run_sync(tree.materialize, copy.root, memories)
        self._tell_paths(session_id, state, copy, skipped, "is not in the mount")
        return copy

    async def _sync_all(self, workspace_id: str, session_id: str, state: SessionCopies) -> None:
        await self._each(workspace_id, session_id, state, self._sync)

    async def _each(self, workspace_id: str, session_id: str, state: SessionCopies, step: Step) -> None:
        for copy in state.copies:
            try:
                await step(workspace_id, session_id, state, copy)
            except CorralError as exc:  # an archived or deleted store, say: the session hears it once
                self._tell(session_id, state, f"memory store {copy.store_id} ({copy.target}): {exc.message}")
            except Exception:  # never raised into the sandbox call it follows (corral.sandbox.attach); tried again
                log.exception("writing back %s of %s failed", copy.store_id, session_id)
                self._tell(session_id, state, f"memory store {copy.store_id} ({copy.target}): write-back failed")

    async def _sync(self, workspace_id: str, session_id: str, state: SessionCopies, copy: StoreCopy) -> None:
        if copy.writable:
            found = await anyio.to_thread.run_sync(scanning.scan, copy.root, copy.known)
            copy.known.update(found.restamped)
            self._tell_paths(session_id, state, copy, found.skipped, "is not saved to the store")
            if found.changes:
                ops = [change.op for change in found.changes]
                outcomes = await self.memory.write_back(workspace_id, copy.store_id, session_id, ops)
                told = sync.settle(copy.known, found.changes, outcomes)
                self._tell_paths(session_id, state, copy, told, "")
                if told:  # a conflict: the copy shows the store's head and the conflict copy at once
                    await self._refresh(workspace_id, session_id, state, copy)

    async def _refresh(self, workspace_id: str, session_id: str, state: SessionCopies, copy: StoreCopy) -> None:
        _, heads = await self.memory.heads(workspace_id, copy.store_id)
        wanted = sync.stale(copy.known, heads)
        present = {head.path for head in heads}
        if not wanted and all(path in present for path in copy.known):
            return  # the copy is the store (the common case: one query, nothing read)
        fetched = await self.memory.contents(workspace_id, copy.store_id, wanted) if wanted else []
        skipped = await anyio.to_thread.run_sync(sync.refresh, copy.root, copy.known, heads, fetched)
        self._tell_paths(session_id, state, copy, skipped, "is not in the mount")

    # ------------------------------------------------------------------ notices

    def _tell_paths(
        self, session_id: str, state: SessionCopies, copy: StoreCopy, items: list[tuple[str, str]], what: str
    ) -> None:
        for path, why in items:
            where = copy.target.rstrip("/") + path
            self._tell(session_id, state, f"{where} {what}: {why}" if what else f"{where}: {why}")

    def _tell(self, session_id: str, state: SessionCopies, message: str) -> None:
        if message in state.told:
            return
        state.told.add(message)
        self._notices.setdefault(session_id, []).append(ProvisionNotice(NOTICE_TYPE, message))


def _make_dirs(directory: Path) -> None:
    """The session's directory of copies, reachable (not writable) by sandboxes' uids."""
    directory.mkdir(0o755, parents=True, exist_ok=True)
    for each in (directory.parent, directory):
        each.chmod(0o755)
