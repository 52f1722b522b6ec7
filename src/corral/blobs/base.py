"""The blob store's one interface: bytes that are not rows (files, skill archives, session outputs).

A blob is addressed by its content: ``BlobRef("sha256:<64 hex>")``. The same bytes always get the same address,
so storing them twice stores them once, and a ref never points at other bytes than those it names.

Invariants every backend keeps (``tests/blobs`` runs one contract suite against each):

* **Streamed.** ``put`` reads ``chunks`` and ``open`` yields chunks; neither holds a whole blob in memory (a
  backend buffers at most one part of a multipart upload).
* **Never partial.** A blob is visible under its address only once all its bytes are stored (written under a
  temporary name, then published); a failed, cancelled or too large ``put`` leaves nothing under any address.
* **Limited.** ``put`` raises ``BlobTooLarge`` as soon as the stream passes the limit (the smaller of the call's
  ``limit`` and the store's ``max_bytes``), before the rest is read.
* **Collected, never lost.** ``collect(live, older_than)`` deletes the blobs that no row references (``live``) and
  whose last ``put`` finished more than ``older_than`` seconds before the collection started. The rule a caller
  keeps: *reference the blob (commit its row) within ``older_than`` of ``put`` returning*. Collection fixes its
  cutoff before it asks ``live``, so a row committed in time is in the live set, and a blob put again after the
  cutoff is young again; each backend makes "is it old? then delete" atomic against a concurrent ``put`` of the
  same bytes (see ``local`` and ``s3``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import NewType, Protocol

from corral.errors import BlobTooLarge, ErrorCode, InvalidRequest, NotFound

BlobRef = NewType("BlobRef", str)

_REF = re.compile(r"sha256:([0-9a-f]{64})")


def blob_ref(digest_hex: str) -> BlobRef:
    return BlobRef(f"sha256:{digest_hex}")


def digest_of(ref: str) -> str:
    """The hex digest a ref names; ``InvalidRequest`` for anything that is not ``sha256:<64 lowercase hex>``."""
    match = _REF.fullmatch(ref)
    if match is None:
        raise InvalidRequest(f"not a blob address: {ref[:80]!r}")
    return match.group(1)


def not_found(ref: str) -> NotFound:
    return NotFound(f"no blob {ref}", code=ErrorCode.BLOB_NOT_FOUND)


@dataclass(frozen=True)
class BlobInfo:
    ref: BlobRef
    size: int
    modified: float  # POSIX seconds of the last ``put`` of these bytes (what ``collect`` measures age by)


class Digest:
    """Hashes and counts a stream as it passes; raises ``BlobTooLarge`` the moment it passes ``limit``."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.size = 0
        self._sha = hashlib.sha256()

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise BlobTooLarge(f"blob larger than the limit of {self.limit} bytes", details={"limit": self.limit})
        self._sha.update(chunk)

    @property
    def hex(self) -> str:
        return self._sha.hexdigest()

    @property
    def ref(self) -> BlobRef:
        return blob_ref(self.hex)


def effective_limit(limit: int | None, max_bytes: int | None) -> int | None:
    """The tighter of a call's limit and the store's."""
    given = [value for value in (limit, max_bytes) if value is not None]
    return min(given) if given else None


LiveRefs = Callable[[], AsyncIterable[BlobRef]]
"""What ``collect`` asks, after fixing its cutoff, for every ref a row holds."""


class BlobStore(Protocol):
    """Content-addressed bytes. Backends: ``corral.blobs.local`` (a directory), ``corral.blobs.s3`` (an
    S3-compatible object store); ``corral.compose.blobs.open_blob_store`` picks one from the settings."""

    max_bytes: int | None  # the store's own cap on every put (CORRAL_BLOB_MAX_BYTES), whatever a call asks

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> BlobRef:
        """Store the stream's bytes and return their address (idempotent: the same bytes, the same address)."""
        ...

    def open(
        self, ref: BlobRef, *, start: int = 0, end: int | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """``async with store.open(ref) as chunks``: the bytes ``[start, end)``; ``NotFound`` on entering when the
        blob is not there."""
        ...

    async def stat(self, ref: BlobRef) -> BlobInfo:
        """Size and age; ``NotFound`` when the blob is not there."""
        ...

    async def exists(self, ref: BlobRef) -> bool: ...

    async def delete(self, ref: BlobRef) -> bool:
        """Remove the blob now (whatever references it); whether it was there."""
        ...

    async def collect(self, live: LiveRefs, *, older_than: float) -> int:
        """Delete unreferenced blobs older than ``older_than`` seconds (and leftovers of failed puts); how many
        blobs went. See the module docstring for the rule that keeps a racing ``put`` safe."""
        ...

    async def aclose(self) -> None: ...
