"""Reading a directory a sandbox owns (its outputs), as the host, without trusting anything in it.

The sandbox may change the tree while it is read: replace a directory with a symlink, a file with a fifo, write
to a file as it is read. So:

* ``scan`` lists regular files only (by ``lstat``: symlinks, fifos, sockets and devices are skipped, never
  followed), walking with directory descriptors (``os.fwalk``), at most ``MAX_DEPTH`` levels and ``max_files``
  files; names that are not UTF-8 are skipped.
* ``open_beneath`` opens a listed file again one component at a time with ``O_NOFOLLOW`` (a symlink swapped in
  anywhere fails with ``OSError``), non-blocking (a fifo swapped in does not hang), and refuses anything that is
  not a regular file once open. What it returns lies inside the directory, whatever happened meanwhile.
* ``chunks`` reads an open file in worker threads, one chunk at a time; a file written meanwhile is taken as read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio.to_thread

MAX_DEPTH = 32
CHUNK = 1024 * 1024

Signature = tuple[int, int, int, int]
"""``(size, mtime ns, ctime ns, inode)``: a file that keeps it is taken as unchanged."""


@dataclass(frozen=True)
class Found:
    relative: str  # "/"-separated, below the directory
    signature: Signature


@dataclass(frozen=True)
class Scan:
    files: list[Found]
    skipped: list[str]  # what was left out and why, for the session to be told


def signature(info: os.stat_result) -> Signature:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def scan(top: str, max_files: int) -> Scan:
    files: list[Found] = []
    skipped: list[str] = []
    for directory, dirnames, filenames, dir_fd in os.fwalk(top, follow_symlinks=False):
        relative_dir = os.path.relpath(directory, top)
        depth = 0 if relative_dir == "." else relative_dir.count("/") + 1
        if depth >= MAX_DEPTH and dirnames:
            skipped.append(f"{relative_dir}: deeper than {MAX_DEPTH} levels")
            dirnames.clear()
        for name in sorted(filenames):
            relative = name if relative_dir == "." else f"{relative_dir}/{name}"
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            if not stat.S_ISREG(info.st_mode):
                continue  # a symlink, fifo, socket or device: never an output
            if not _utf8(relative):
                skipped.append(f"{relative.encode(errors='surrogateescape')!r}: the name is not UTF-8")
                continue
            if len(files) >= max_files:
                skipped.append(f"{relative}: more than {max_files} files")
                continue
            files.append(Found(relative, signature(info)))
    return Scan(files, skipped)


def _utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def open_beneath(top: str, relative: str) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file ``relative`` below ``top`` and its ``fstat``; ``OSError`` when it is
    not (any more) a regular file reached without a symlink."""
    parts = relative.split("/")
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
        opened = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)
    info = os.fstat(opened)
    if not stat.S_ISREG(info.st_mode):
        os.close(opened)
        raise OSError(f"{relative} is not a regular file")
    return opened, info


async def chunks(fd: int) -> AsyncIterator[bytes]:
    """The file's bytes from its start, one chunk at a time (the descriptor stays the caller's to close)."""
    offset = 0
    while chunk := await anyio.to_thread.run_sync(os.pread, fd, CHUNK, offset):
        offset += len(chunk)
        yield chunk
