"""Workspace snapshots: a session's ``/workspace`` as blobs, so its next sandbox finds it on any host.

``Snapshots`` (``snapshots``) saves a directory as a manifest blob plus compressed, content-addressed chunk blobs
(``manifest``: the format and its checks; ``scan``: the hostile-safe walk; ``unpack``: the safe restore) and
restores one into a fresh directory. It needs only the ``BlobStore`` interface.
"""

from corral.sandbox.snapshots.manifest import CHUNK_BYTES, Chunk, Entry, Manifest
from corral.sandbox.snapshots.scan import ScanStats
from corral.sandbox.snapshots.snapshots import Saved, Snapshots, manifest_ref

__all__ = ["CHUNK_BYTES", "Chunk", "Entry", "Manifest", "Saved", "ScanStats", "Snapshots", "manifest_ref"]
