"""``FileAttachments``: a session's ``file`` resources, read-only in its sandboxes.

Host layout under ``<mount root>/files``: ``cache/`` holds each blob once (``HostCache``); a session has
``sessions/<session id>/held/<file id>@<sha256 hex>`` (a hard link to the cache file: the session's own hold on
the bytes) and ``sessions/<session id>/uploads/`` (what its sandboxes show at ``/mnt/session/uploads``).

Invariants:

* Every sandbox of a session mounts its uploads directory read-only at ``/mnt/session/uploads``. A file whose
  ``mount_path`` lies under it (the default, ``/mnt/session/uploads/<file id>``) is a hard link at that relative
  path inside; ``before_call`` brings the directory up to date, so such a file added to (or removed from) a
  running session is there (or gone) for the next tool call, without a new sandbox.
* A file mounted anywhere else is a read-only mount of its own: a sandbox started after it was added has it (and
  one started after it was removed does not); a running sandbox keeps what it started with.
* A session keeps the bytes it was given: a file deleted from the Files API (or expired) after the session first
  mounted it stays mounted for that session, as on the hosted API. One deleted, expired or missing before then is
  not mounted and the session is told once (a ``session.error`` notice, the session goes on).
* Nothing the sandbox does reaches these directories (they are mounted read-only and owned by corral).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import anyio
import anyio.to_thread

from corral.blobs import BlobRef, digest_of
from corral.errors import NotFound, StorageError
from corral.files import FileStore
from corral.ids import is_id, now, rfc3339
from corral.resources import records
from corral.resources.hostcache import HostCache, replace_with_link
from corral.resources.locks import KeyedLocks
from corral.resources.records import SessionReader
from corral.sandbox.attach import Attachments, Mount, SessionAttachments
from corral.sandbox.base import ProvisionNotice

log = logging.getLogger(__name__)

UPLOADS = "/mnt/session/uploads"


@dataclass(frozen=True)
class Wanted:
    """One ``file`` resource: which file, where."""

    file_id: str
    mount_path: str

    @property
    def inside(self) -> str | None:
        """The path relative to the uploads directory, when the file is mounted under it."""
        prefix = UPLOADS + "/"
        return self.mount_path[len(prefix) :] if self.mount_path.startswith(prefix) else None


def _wanted(resource: dict[str, object]) -> Wanted | None:
    file_id, path = resource.get("file_id"), resource.get("mount_path")
    if not isinstance(file_id, str) or not is_id("file", file_id):
        return None
    mount_path = path if isinstance(path, str) else f"{UPLOADS}/{file_id}"
    parts = PurePosixPath(mount_path).parts
    if not mount_path.startswith("/") or "\x00" in mount_path or ".." in parts or len(parts) < 2:
        return None
    return Wanted(file_id, str(PurePosixPath(mount_path)))


class FileAttachments(SessionAttachments):
    def __init__(self, sessions: SessionReader, files: FileStore, root: Path) -> None:
        self.sessions = sessions
        self.files = files
        self.root = root / "files"
        self.cache = HostCache(self.root / "cache", files.blobs)
        self._locks = KeyedLocks()
        self._synced: dict[str, frozenset[Wanted]] = {}
        self._notices: dict[str, list[ProvisionNotice]] = {}

    def home(self, session_id: str) -> Path:
        if not is_id("session", session_id):
            raise NotFound(f"session {session_id[:80]!r} not found")
        return self.root / "sessions" / session_id

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        wanted = await self._wanted(workspace_id, session_id)
        async with self._locks.hold(session_id):
            held = await self._sync(workspace_id, session_id, wanted)
        home = self.home(session_id)
        mounts = [Mount(str(home / "uploads"), UPLOADS)]
        mounts += [Mount(str(path), want.mount_path) for want, path in held if want.inside is None]
        return Attachments(mounts=tuple(mounts))

    async def before_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        wanted = await self._wanted(workspace_id, session_id)
        if self._synced.get(session_id) == wanted:
            return  # nothing changed since this process last arranged the session's directories
        async with self._locks.hold(session_id):
            await self._sync(workspace_id, session_id, wanted)

    async def forget(self, session_id: str) -> None:
        async with self._locks.hold(session_id):
            home = self.home(session_id)
            refs = await anyio.to_thread.run_sync(_held, home / "held")
            await anyio.to_thread.run_sync(shutil.rmtree, home, True)
            for ref in {ref for _, ref in refs.values()}:
                await self.cache.release(ref)
            self._synced.pop(session_id, None)

    def take_notices(self, session_id: str) -> list[ProvisionNotice]:
        return self._notices.pop(session_id, [])

    # ------------------------------------------------------------------ arranging the host directories

    async def _wanted(self, workspace_id: str, session_id: str) -> frozenset[Wanted]:
        found = await records.of_kind(self.sessions, workspace_id, session_id, "file")
        wanted = [_wanted(resource) for resource in found]
        for resource, want in zip(found, wanted, strict=True):
            if want is None:
                log.warning("session %s: file resource %s is malformed; not mounted", session_id, resource.get("id"))
        return frozenset(want for want in wanted if want is not None and not _over_uploads(want))

    async def _sync(self, workspace_id: str, session_id: str, wanted: frozenset[Wanted]) -> list[tuple[Wanted, Path]]:
        home = self.home(session_id)
        held = await anyio.to_thread.run_sync(_prepare, home)
        placed: list[tuple[Wanted, Path]] = []
        for want in sorted(wanted, key=lambda w: w.mount_path):
            if want.file_id not in held:
                ref = await self._hold(workspace_id, session_id, want.file_id, home / "held")
                if ref is None:
                    continue
                held[want.file_id] = (home / "held" / f"{want.file_id}@{digest_of(ref)}", ref)
            placed.append((want, held[want.file_id][0]))
        inside = {want.inside: path for want, path in placed if want.inside is not None}
        for problem in await anyio.to_thread.run_sync(_arrange, home / "uploads", inside):
            self._tell(session_id, f"file resource at {UPLOADS}/{problem} cannot be placed there; not mounted")
        await self._let_go(held, {want.file_id for want in wanted})
        self._synced[session_id] = wanted
        return placed

    async def _hold(self, workspace_id: str, session_id: str, file_id: str, directory: Path) -> BlobRef | None:
        """Link the file's bytes into the session's ``held`` directory; None (and a notice) when it cannot."""
        try:
            record = await self.files.get(workspace_id, file_id)
            if record.expired(rfc3339(now())):
                raise NotFound(f"file {file_id} expired at {record.expires_at}")
            await self.cache.link(record.blob_ref, directory / f"{file_id}@{digest_of(record.blob_ref)}")
        except (NotFound, StorageError) as exc:
            self._tell(session_id, f"file resource {file_id} cannot be mounted: {exc.message}")
            return None
        return record.blob_ref

    async def _let_go(self, held: dict[str, tuple[Path, BlobRef]], keep: set[str]) -> None:
        """Drop the session's hold on files no resource names any more (and cache files nothing else holds)."""
        for file_id, (path, ref) in held.items():
            if file_id not in keep:
                await anyio.to_thread.run_sync(os.unlink, path)
                await self.cache.release(ref)

    def _tell(self, session_id: str, message: str) -> None:
        log.warning("session %s: %s", session_id, message)
        self._notices.setdefault(session_id, []).append(ProvisionNotice("unknown_error", message))


def _over_uploads(want: Wanted) -> bool:
    """A file cannot be mounted at the uploads directory itself, nor above it (it would hide the directory)."""
    return want.mount_path == UPLOADS or UPLOADS.startswith(want.mount_path + "/")


def _prepare(home: Path) -> dict[str, tuple[Path, BlobRef]]:
    """Make the session's directories (reachable by the sandboxes' uids, writable by corral only); what it holds."""
    for directory, mode in ((home, 0o711), (home / "held", 0o711), (home / "uploads", 0o755)):
        directory.mkdir(mode=mode, parents=True, exist_ok=True)
    return _held(home / "held")


def _held(directory: Path) -> dict[str, tuple[Path, BlobRef]]:
    """``file id -> (held path, blob ref)`` of the files a session holds."""
    found: dict[str, tuple[Path, BlobRef]] = {}
    if not directory.is_dir():
        return found
    for entry in os.scandir(directory):
        file_id, _, hexd = entry.name.partition("@")
        if hexd:
            found[file_id] = (Path(entry.path), BlobRef(f"sha256:{hexd}"))
    return found


def _arrange(uploads: Path, wanted: dict[str, Path]) -> list[str]:
    """Make ``uploads`` hold exactly ``wanted`` (relative path → held file), each a hard link; the relative paths
    that could not be placed (a file where a directory must go, or the reverse)."""
    for directory, _, names in os.walk(uploads, topdown=False):
        for name in names:
            path = Path(directory, name)
            source = wanted.get(path.relative_to(uploads).as_posix())
            if source is None or not os.path.samestat(path.lstat(), source.stat()):
                path.unlink()
        if directory != str(uploads):
            try:
                os.rmdir(directory)  # only an empty one goes
            except OSError:
                pass
    problems: list[str] = []
    for relative, source in sorted(wanted.items()):
        target = uploads / relative
        try:
            if target.exists() and os.path.samestat(target.lstat(), source.stat()):
                continue
            _make_parents(uploads, target)
            replace_with_link(source, target)
        except OSError:
            problems.append(relative)
    return problems


def _make_parents(uploads: Path, target: Path) -> None:
    current = uploads
    for part in target.relative_to(uploads).parts[:-1]:
        current = current / part
        current.mkdir(mode=0o755, exist_ok=True)
