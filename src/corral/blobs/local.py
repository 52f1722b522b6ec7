"""The embedded blob store: a directory, by default ``<CORRAL_DATA_DIR>/blobs``.

Layout: ``sha256/<first two hex>/<hex>`` holds each blob (256 fan-out directories), ``tmp/`` the puts in
flight, ``locks/<first two hex>`` one lock file per fan-out directory.

Invariants:

* A blob file appears under its address only by ``rename`` of a complete temporary file that was ``fsync``-ed
  first (then its directory is ``fsync``-ed), so a reader or a crash never sees a partial blob.
* Every ``put`` of bytes already stored refreshes the blob's mtime, which is its age for ``collect``.
* Publishing (rename or mtime refresh) holds a shared ``flock`` on the fan-out directory's lock file; ``collect``
  holds it exclusively while it checks a blob's age and unlinks it. So a blob that a ``put`` just published or
  refreshed is never unlinked by a collection that looked at its old age.
* File I/O runs in worker threads (``anyio``); memory is one chunk per stream, whatever the blob's size.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
from anyio import to_thread

from corral.blobs.base import BlobInfo, BlobRef, Digest, LiveRefs, digest_of, effective_limit, not_found

READ_CHUNK = 1024 * 1024


class LocalBlobStore:
    """A ``BlobStore`` in one directory of this machine (several processes on it may share it)."""

    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def _path(self, hexd: str) -> Path:
        return self.root / "sha256" / hexd[:2] / hexd

    def _lock(self, hexd: str) -> Path:
        return self.root / "locks" / hexd[:2]

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> BlobRef:
        tmp = self.root / "tmp" / uuid.uuid4().hex
        await anyio.Path(tmp.parent).mkdir(parents=True, exist_ok=True)
        digest = Digest(effective_limit(limit, self.max_bytes))
        try:
            async with await anyio.open_file(tmp, "wb") as out:
                async for chunk in chunks:
                    digest.feed(chunk)
                    await out.write(chunk)
                await out.flush()
                await to_thread.run_sync(os.fsync, out.wrapped.fileno())
            await to_thread.run_sync(self._publish, tmp, digest.hex)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.Path(tmp).unlink(missing_ok=True)
        return digest.ref

    def _publish(self, tmp: Path, hexd: str) -> None:
        """In a thread: move the complete file under its address, or refresh the one already there."""
        final = self._path(hexd)
        with _flock(self._lock(hexd), fcntl.LOCK_SH):
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.utime(final)  # already stored: the bytes are the same, only the age changes
                return
            except FileNotFoundError:
                pass
            os.rename(tmp, final)
            _fsync_dir(final.parent)

    @asynccontextmanager
    async def open(
        self, ref: BlobRef, *, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[AsyncIterator[bytes]]:
        path = self._path(digest_of(ref))
        try:
            handle = await anyio.open_file(path, "rb")
        except FileNotFoundError:
            raise not_found(ref) from None
        async with handle:
            await handle.seek(start)
            yield _read(handle, None if end is None else max(0, end - start))

    async def stat(self, ref: BlobRef) -> BlobInfo:
        try:
            found = await anyio.Path(self._path(digest_of(ref))).stat()
        except FileNotFoundError:
            raise not_found(ref) from None
        return BlobInfo(ref, found.st_size, found.st_mtime)

    async def exists(self, ref: BlobRef) -> bool:
        return await anyio.Path(self._path(digest_of(ref))).exists()

    async def delete(self, ref: BlobRef) -> bool:
        hexd = digest_of(ref)
        return await to_thread.run_sync(self._unlink_if, hexd, None)

    async def collect(self, live: LiveRefs, *, older_than: float) -> int:
        cutoff = time.time() - older_than  # fixed before asking for the live set (see corral.blobs.base)
        keep = {digest_of(ref) async for ref in live()}
        removed = 0
        for shard in await to_thread.run_sync(self._shards):
            for hexd in await to_thread.run_sync(_names, self.root / "sha256" / shard):
                if hexd not in keep and await to_thread.run_sync(self._unlink_if, hexd, cutoff):
                    removed += 1
        await to_thread.run_sync(_sweep_tmp, self.root / "tmp", cutoff)
        return removed

    def _shards(self) -> list[str]:
        return _names(self.root / "sha256")

    def _unlink_if(self, hexd: str, cutoff: float | None) -> bool:
        """In a thread, under the fan-out directory's exclusive lock: unlink the blob if it is older than
        ``cutoff`` (any age when None)."""
        final = self._path(hexd)
        with _flock(self._lock(hexd), fcntl.LOCK_EX):
            try:
                if cutoff is not None and final.stat().st_mtime > cutoff:
                    return False
                final.unlink()
            except FileNotFoundError:
                return False
        return True

    async def aclose(self) -> None:
        return None


async def _read(handle: anyio.AsyncFile[bytes], remaining: int | None) -> AsyncIterator[bytes]:
    while remaining is None or remaining > 0:
        chunk = await handle.read(READ_CHUNK if remaining is None else min(READ_CHUNK, remaining))
        if not chunk:
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


class _flock:
    """``flock`` on a lock file (made on first use), for the duration of a ``with`` (blocking: threads only)."""

    def __init__(self, path: Path, mode: int) -> None:
        self.path, self.mode = path, mode
        self.fd = -1

    def __enter__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, self.mode)

    def __exit__(self, *_: object) -> None:
        os.close(self.fd)  # closing releases the lock


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _names(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _sweep_tmp(tmp: Path, cutoff: float) -> None:
    """Leftovers of puts that died. A put in progress writes its file as bytes arrive, so only one stalled for
    longer than ``older_than`` loses its temporary file (and fails)."""
    for name in _names(tmp):
        with suppress(FileNotFoundError):
            if (tmp / name).stat().st_mtime < cutoff:
                (tmp / name).unlink()
