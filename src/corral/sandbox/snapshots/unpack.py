"""Writing a manifest's tree into a fresh, empty directory: blocking, run in a worker thread.

The directory is the session's new workspace before any sandbox uses it, so nothing else writes into it meanwhile;
``decode`` already checked that every entry's parent is an earlier directory entry. Each entry is created
exclusively (``O_EXCL``, ``O_NOFOLLOW``; ``mkdir``; ``symlink`` never followed), so no entry is written through a
link. Everything is owned by ``uid`` (the session's host uid); files get their mode and mtime back (the mtime lets
the next snapshot reuse their chunks), directories their mode last (a read-only directory is filled first).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from corral.sandbox.snapshots.manifest import Chunk, Entry, Manifest

#: the uncompressed, verified bytes of one chunk (called from the worker thread; it may block)
GetChunk = Callable[[Chunk], bytes]


def unpack(manifest: Manifest, root: Path, uid: int, get: GetChunk) -> None:
    directories: list[tuple[Path, int]] = []
    for entry in manifest.entries:
        path = root / entry.path
        if entry.kind == "dir":
            path.mkdir(mode=0o700)
            directories.append((path, entry.mode))
        elif entry.kind == "symlink":
            os.symlink(entry.target, path)
        else:
            _write(path, entry, get)
        os.chown(path, uid, uid, follow_symlinks=False)
    for path, mode in reversed(directories):
        path.chmod(mode)


def _write(path: Path, entry: Entry, get: GetChunk) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        for chunk in entry.chunks:
            data = get(chunk)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        os.fchmod(fd, entry.mode)
        os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
    finally:
        os.close(fd)
