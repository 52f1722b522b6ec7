"""``Snapshots``: a workspace directory to a manifest blob and back, over any ``BlobStore``.

``save(directory, base)`` walks the directory (``scan``), storing each changed file's chunks zstd-compressed as
blobs and the manifest last; ``load(ref)`` reads and checks a manifest; ``restore(manifest, directory, uid)``
writes it into a fresh directory (``unpack``), checking every chunk against its address before using it.

Invariants:

* Incremental: a file unchanged since ``base`` (same size and mtime) is not read, and a chunk whose bytes ``base``
  already holds (the same sha256 of its uncompressed bytes, anywhere in ``base``) is neither compressed nor stored
  again, so snapshotting an unchanged workspace stores nothing new and a 1 MiB change in a large file costs
  reading and hashing that file plus storing about one chunk.
* Collection-safe: ``base`` must be the manifest the session's record names (it is live, so its chunks are); every
  other chunk is ``put`` (which makes an old copy young again), never skipped because it happens to exist.
* A manifest or chunk that is missing, or whose bytes do not match its address, is a ``SandboxError`` of code
  ``workspace_snapshot_failed``; the directory a failed ``restore`` half wrote is the caller's to discard.
* Blocking work (walking, hashing, compressing, writing) runs in a worker thread; blob I/O on the event loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.to_thread
import zstandard

from corral.blobs import BlobRef, BlobStore
from corral.blobs.base import blob_ref
from corral.errors import NotFound
from corral.sandbox.snapshots.manifest import CHUNK_BYTES, Chunk, Manifest, corrupt, decode, encode
from corral.sandbox.snapshots.scan import Scan, ScanStats
from corral.sandbox.snapshots.unpack import unpack

_LEVEL = 3  # zstd: fast, deterministic for a given library version (so unchanged bytes give the same blob)


@dataclass(frozen=True)
class Saved:
    ref: BlobRef  # the manifest's blob
    manifest: Manifest
    scan: ScanStats
    stored_blobs: int  # blobs put by this snapshot (chunks and the manifest); 0 when nothing changed
    stored_bytes: int


def manifest_ref(manifest: Manifest) -> BlobRef:
    """The address ``manifest`` is stored under (encoding is deterministic)."""
    return blob_ref(hashlib.sha256(encode(manifest)).hexdigest())


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Snapshots:
    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    async def load(self, ref: BlobRef) -> Manifest:
        return decode(await self._fetch(ref))

    async def save(self, directory: Path, base: Manifest | None = None) -> Saved:
        known = base.refs() | {manifest_ref(base)} if base is not None else set[BlobRef]()
        # same bytes, same chunk: those of base are live (its record names it), those put by this save are young
        same: dict[str, Chunk] = {c.raw: c for e in base.entries for c in e.chunks} if base is not None else {}
        stored = [0, 0]

        async def upload(ref: BlobRef, data: bytes) -> None:
            if ref in known:
                return
            await self.blobs.put(_one(data))
            known.add(ref)
            stored[0] += 1
            stored[1] += len(data)

        def put(raw: bytes) -> Chunk:
            digest = hashlib.sha256(raw).hexdigest()
            if (chunk := same.get(digest)) is not None:
                return chunk
            data = zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True).compress(raw)
            ref = blob_ref(hashlib.sha256(data).hexdigest())
            anyio.from_thread.run(upload, ref, data)
            same[digest] = chunk = Chunk(ref, len(raw), digest)
            return chunk

        scan = Scan(base.by_path() if base is not None else {}, put)
        entries = await anyio.to_thread.run_sync(scan.run, str(directory))
        manifest = Manifest(tuple(entries))
        data = encode(manifest)
        ref = blob_ref(hashlib.sha256(data).hexdigest())
        await upload(ref, data)
        return Saved(ref, manifest, scan.stats, stored[0], stored[1])

    async def restore(self, manifest: Manifest, directory: Path, uid: int) -> None:
        def get(chunk: Chunk) -> bytes:
            data = anyio.from_thread.run(self._fetch, chunk.ref)
            try:
                raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=CHUNK_BYTES)
            except zstandard.ZstdError as exc:
                raise corrupt(f"chunk {chunk.ref} does not decompress ({exc})") from None
            if len(raw) != chunk.size or hashlib.sha256(raw).hexdigest() != chunk.raw:
                raise corrupt(f"chunk {chunk.ref} does not hold the bytes its manifest says")
            return raw

        await anyio.to_thread.run_sync(unpack, manifest, directory, uid, get)

    async def _fetch(self, ref: BlobRef) -> bytes:
        """The blob's bytes, checked against its address (a store that lost or mangled it is a corrupt snapshot)."""
        parts: list[bytes] = []
        try:
            async with self.blobs.open(ref) as chunks:
                async for part in chunks:
                    parts.append(part)
        except NotFound:
            raise corrupt(f"blob {ref} is missing") from None
        data = b"".join(parts)
        if blob_ref(hashlib.sha256(data).hexdigest()) != ref:
            raise corrupt(f"blob {ref} does not match its address")
        return data
