"""Reading a (hostile) workspace into a manifest: blocking, run in a worker thread.

The tree is walked by file descriptors (``openat`` with ``O_NOFOLLOW``), so a sandbox still running cannot steer
the walk out of its workspace by swapping a directory for a symlink mid-walk: a symlink is recorded as a link,
never followed; devices, fifos and sockets are skipped (files are opened ``O_NONBLOCK`` and checked with
``fstat``, so a file swapped for a fifo cannot hang the walk); names that are not UTF-8, entries past
``MAX_ENTRIES`` and directories deeper than ``MAX_DEPTH`` are skipped and counted. An entry that vanishes
mid-walk is skipped.

Incremental: a file whose size and mtime (ns) equal its entry in the ``base`` manifest keeps that entry's chunks
without being read, so a snapshot costs what changed since the base (plus one ``stat`` per entry).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from corral.sandbox.snapshots.manifest import CHUNK_BYTES, MAX_DEPTH, MAX_ENTRIES, MAX_PATH, MODE_BITS, Chunk, Entry

#: stores one chunk's bytes and says where (called from the worker thread; it may block)
PutChunk = Callable[[bytes], Chunk]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass
class ScanStats:
    files: int = 0
    bytes: int = 0
    read_files: int = 0  # files whose bytes were read (changed since the base, or no base)
    read_bytes: int = 0
    skipped: int = 0  # special files, non-UTF-8 names, entries past the limits, entries that vanished


@dataclass
class Scan:
    base: dict[str, Entry]
    put: PutChunk
    entries: list[Entry] = field(default_factory=list[Entry])
    stats: ScanStats = field(default_factory=ScanStats)

    def run(self, root: str) -> list[Entry]:
        fd = os.open(root, _DIR_FLAGS)
        try:
            self._walk(fd, "", 1)
        finally:
            os.close(fd)
        return self.entries

    def _walk(self, dir_fd: int, prefix: str, depth: int) -> None:
        with os.scandir(dir_fd) as listing:
            names = sorted(item.name for item in listing)
        for name in names:
            path = f"{prefix}{name}"
            if len(self.entries) >= MAX_ENTRIES or not _storable(path):
                self.stats.skipped += 1
                continue
            try:
                self._one(dir_fd, name, path, depth)
            except (FileNotFoundError, NotADirectoryError, OSError):  # vanished or swapped mid-walk
                self.stats.skipped += 1

    def _one(self, dir_fd: int, name: str, path: str, depth: int) -> None:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        mode = stat.S_IMODE(info.st_mode) & MODE_BITS
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(name, dir_fd=dir_fd)
            if target and "\0" not in target and len(target.encode()) <= MAX_PATH:
                self.entries.append(Entry(path, "symlink", 0o777, target=target))
            return
        if stat.S_ISDIR(info.st_mode):
            if depth >= MAX_DEPTH:
                self.stats.skipped += 1
                return
            child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                self.entries.append(Entry(path, "dir", mode))
                self._walk(child, f"{path}/", depth + 1)
            finally:
                os.close(child)
            return
        if not stat.S_ISREG(info.st_mode):
            self.stats.skipped += 1
            return
        self.entries.append(self._file(dir_fd, name, path, info))

    def _file(self, dir_fd: int, name: str, path: str, info: os.stat_result) -> Entry:
        mode = stat.S_IMODE(info.st_mode) & MODE_BITS
        self.stats.files += 1
        known = self.base.get(path)
        if (
            known is not None
            and known.kind == "file"
            and (known.size, known.mtime_ns) == (info.st_size, info.st_mtime_ns)
        ):
            self.stats.bytes += known.size
            return Entry(path, "file", mode, known.size, known.mtime_ns, known.chunks)
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                raise OSError(f"{path} is no longer a regular file")
            chunks = self._read(fd)
        finally:
            os.close(fd)
        size = sum(chunk.size for chunk in chunks)
        self.stats.bytes += size
        self.stats.read_files += 1
        self.stats.read_bytes += size
        return Entry(path, "file", mode, size, opened.st_mtime_ns, tuple(chunks))

    def _read(self, fd: int) -> list[Chunk]:
        chunks: list[Chunk] = []
        while True:
            data = _read_full(fd, CHUNK_BYTES)
            if not data:
                return chunks
            chunks.append(self.put(data))


def _read_full(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the file)."""
    parts: list[bytes] = []
    left = size
    while left:
        part = os.read(fd, left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _storable(path: str) -> bool:
    try:
        encoded = path.encode()
    except UnicodeEncodeError:  # a name that is not UTF-8 (os gives it as surrogates)
        return False
    return len(encoded) <= MAX_PATH and "\0" not in path
