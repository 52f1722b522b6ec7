"""``OutputAttachments``: each session's ``/mnt/session/outputs``, collected into the Files API when a turn ends.

Host layout under ``<mount root>/outputs/<session id>``: ``files/`` (the writable directory every sandbox of the
session mounts at ``/mnt/session/outputs``, handed to the sandbox's uid) and ``collected.json`` (what was
collected, owned by corral; the sandbox cannot reach it).

Invariants:

* The directory belongs to the session, not to a sandbox: what a dead sandbox left there is in the next one and
  is collected at the end of the turn. ``forget`` removes it with the session.
* When a turn ends (``turn_ended``) every regular file in it that is new, or whose content changed since it was
  last collected, becomes a new file of the Files API: scoped to the session (``GET /v1/files?scope_id=``),
  ``downloadable``, named by its path below the directory (``charts/q1.png``), its mime type guessed from the
  name. A changed file is a new file (the earlier one stays, so an id a client holds keeps its bytes; the list
  is newest first); a file removed from the directory keeps its collected files. Unchanged files (same size,
  times and inode) are not read again; a file whose bytes are the same as last collected is not collected twice,
  even when ``collected.json`` was lost (the session's files say what was collected).
* The directory is the sandbox's, so it is read as hostile (``corral.resources.untrusted``): symlinks, fifos,
  sockets and devices are skipped and never followed, nothing outside it is read, a file larger than the blob
  store's limit is refused as it streams (nothing stored), at most ``MAX_FILES`` files per turn. Each refusal is
  a notice the session is told (``session.error``, the session goes on).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import anyio
import anyio.to_thread

from corral._types import JSONObject, json_object
from corral.errors import BlobTooLarge, InvalidRequest, NotFound
from corral.files import FileRecord, FileStore
from corral.files.store import Stored
from corral.ids import is_id
from corral.resources import untrusted
from corral.resources.locks import KeyedLocks
from corral.sandbox.attach import Attachments, Mount, SessionAttachments
from corral.sandbox.base import ProvisionNotice

log = logging.getLogger(__name__)

OUTPUTS = "/mnt/session/outputs"
MAX_FILES = 1000
Collected = dict[str, JSONObject]
"""``relative path -> {"signature": [...], "ref": "sha256:…" | None}`` (None: refused, not stored)."""


class OutputAttachments(SessionAttachments):
    def __init__(self, files: FileStore, root: Path) -> None:
        self.files = files
        self.root = root / "outputs"
        self._locks = KeyedLocks()
        self._notices: dict[str, list[ProvisionNotice]] = {}

    def home(self, session_id: str) -> Path:
        if not is_id("session", session_id):
            raise NotFound(f"session {session_id[:80]!r} not found")
        return self.root / session_id

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        directory = self.home(session_id) / "files"
        await anyio.to_thread.run_sync(_prepare, directory)
        return Attachments(mounts=(Mount(str(directory), OUTPUTS, read_only=False),))

    async def turn_ended(self, workspace_id: str, session_id: str) -> None:
        home = self.home(session_id)
        if not await anyio.Path(home / "files").is_dir():
            return
        async with self._locks.hold(session_id):
            collected = await self._collected(workspace_id, session_id)
            found = await anyio.to_thread.run_sync(untrusted.scan, str(home / "files"), MAX_FILES)
            for reason in found.skipped:
                self._tell(session_id, f"outputs: {reason}: not collected")
            for item in found.files:
                before = collected.get(item.relative)
                if before is not None and before.get("signature") == list(item.signature):
                    continue
                collected[item.relative] = await self._collect(workspace_id, session_id, item, before)
            await anyio.to_thread.run_sync(_save, home / "collected.json", collected)

    async def forget(self, session_id: str) -> None:
        async with self._locks.hold(session_id):
            await anyio.to_thread.run_sync(shutil.rmtree, self.home(session_id), True)

    def take_notices(self, session_id: str) -> list[ProvisionNotice]:
        return self._notices.pop(session_id, [])

    # ------------------------------------------------------------------ collecting

    async def _collect(
        self, workspace_id: str, session_id: str, item: untrusted.Found, before: JSONObject | None
    ) -> JSONObject:
        """Store one new or changed file; what ``collected.json`` records for it."""
        limit = self.files.blobs.max_bytes if self.files.max_bytes is None else self.files.max_bytes
        entry: JSONObject = {"signature": list(item.signature), "ref": None}
        try:
            if limit is not None and item.signature[0] > limit:
                raise BlobTooLarge(f"larger than the limit of {limit} bytes")
            stored = await self._store(str(self.home(session_id) / "files"), item.relative)
        except (BlobTooLarge, InvalidRequest) as exc:
            self._tell(session_id, f"outputs: {item.relative}: {exc.message}; not collected")
            return entry
        except OSError:
            return entry  # replaced by something that is not a regular file meanwhile: skipped
        entry["ref"] = stored.ref
        if before is None or before.get("ref") != stored.ref:
            await self.files.create_output(workspace_id, session_id, item.relative, stored)
        return entry

    async def _store(self, top: str, relative: str) -> Stored:
        fd, _ = await anyio.to_thread.run_sync(untrusted.open_beneath, top, relative)
        try:
            return await self.files.put(untrusted.chunks(fd))
        finally:
            os.close(fd)

    async def _collected(self, workspace_id: str, session_id: str) -> Collected:
        """What was collected: ``collected.json``, or (when it is missing) the session's files, newest first."""
        saved = await anyio.to_thread.run_sync(_load, self.home(session_id) / "collected.json")
        if saved is not None:
            return saved
        rebuilt: Collected = {}
        page: str | None = None
        while True:
            listed = await self.files.list(workspace_id, ids=None, scope_id=session_id, limit=1000, page=page)
            records: list[FileRecord] = listed.items
            for record in records:
                rebuilt.setdefault(record.filename, {"signature": None, "ref": record.blob_ref})
            if listed.next_page is None:
                return rebuilt
            page = listed.next_page

    def _tell(self, session_id: str, message: str) -> None:
        log.warning("session %s: %s", session_id, message)
        self._notices.setdefault(session_id, []).append(ProvisionNotice("unknown_error", message))


def _prepare(directory: Path) -> None:
    directory.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    directory.mkdir(mode=0o700, exist_ok=True)  # the starter hands it to the sandbox's uid


def _load(path: Path) -> Collected | None:
    try:
        loaded = json_object(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return None
    if loaded is None:
        return None
    return {key: entry for key, value in loaded.items() if (entry := json_object(value)) is not None}


def _save(path: Path, collected: Collected) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(collected, separators=(",", ":")))
    os.replace(tmp, path)
