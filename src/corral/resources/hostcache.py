"""Blobs materialized as host files under the sandboxes' mount root, once per content: ``<dir>/<sha256 hex>``.

What a session mounts is a hard link to one of these (``link``), so a file attached to many sessions is on the
host disk once, and a session keeps its bytes even after the cache lets go of them.

Invariants:

* A cache file appears under its name only by ``rename`` of a complete temporary file whose SHA-256 was checked
  against the name while it was written (streamed, one chunk in memory): a reader never sees a partial or wrong
  file. Cache files are read-only (0444, owned by this process's user).
* Several processes may share the directory: two that materialize the same blob both write a whole copy and the
  second rename replaces the first with identical bytes.
* ``release`` removes a cache file no session links to any more (its link count is 1); a ``link`` racing with
  it materializes the blob again instead of failing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path

import anyio
import anyio.to_thread

from corral.blobs import BlobRef, BlobStore, digest_of
from corral.errors import StorageError


class HostCache:
    def __init__(self, directory: Path, blobs: BlobStore) -> None:
        self.directory = directory
        self.blobs = blobs

    def path_of(self, ref: BlobRef) -> Path:
        return self.directory / digest_of(ref)

    async def materialize(self, ref: BlobRef) -> Path:
        """The cache file of ``ref``, written from the blob store if it is not there yet (``NotFound``: no blob)."""
        path = self.path_of(ref)
        if await anyio.Path(path).exists():
            return path
        await anyio.to_thread.run_sync(_make_dirs, self.directory)
        tmp = self.directory / "tmp" / uuid.uuid4().hex
        try:
            await self._write(ref, tmp)
            await anyio.to_thread.run_sync(os.replace, tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                await anyio.to_thread.run_sync(os.unlink, tmp)
        return path

    async def _write(self, ref: BlobRef, tmp: Path) -> None:
        digest = hashlib.sha256()
        async with await anyio.open_file(tmp, "wb") as out, self.blobs.open(ref) as chunks:
            async for chunk in chunks:
                digest.update(chunk)
                await out.write(chunk)
        if digest.hexdigest() != digest_of(ref):
            raise StorageError(f"the blob store's bytes for {ref} do not match their address")
        await anyio.to_thread.run_sync(os.chmod, tmp, 0o444)

    async def link(self, ref: BlobRef, target: Path) -> None:
        """Make ``target`` (in a directory that exists) a hard link to the cache file of ``ref``, atomically."""
        for _ in range(3):
            source = await self.materialize(ref)
            try:
                await anyio.to_thread.run_sync(replace_with_link, source, target)
                return
            except FileNotFoundError:
                continue  # released between the two steps: materialize again
        raise StorageError(f"the host copy of {ref} kept disappearing")

    async def release(self, ref: BlobRef) -> None:
        """Remove the cache file of ``ref`` if nothing links to it any more."""
        await anyio.to_thread.run_sync(_release, self.path_of(ref))


def replace_with_link(source: Path, target: Path) -> None:
    """``target`` becomes a hard link to ``source`` in one step (a temporary link renamed over it)."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    os.link(source, tmp)
    try:
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _make_dirs(directory: Path) -> None:
    (directory / "tmp").mkdir(mode=0o700, parents=True, exist_ok=True)


def _release(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_nlink == 1:
            path.unlink()
