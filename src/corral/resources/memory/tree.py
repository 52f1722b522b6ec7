"""A memory store's copy on the host: the directory a session's sandbox mounts, and what is known of each file.

``Known`` maps each memory path the copy holds to an ``Entry``: the memory (id, version) and content hash it was
in sync with, and the file's ``Stamp`` when it was (inode, size, mtime). A file whose stamp is unchanged holds
what the entry says without being read, unless the entry is *racy*: its mtime was within ``RACY_NS`` of when
the stamp was taken, so a write in the same clock tick would leave the stamp as it was (file timestamps are
coarse); a racy entry is always read again.

Invariants (all of this runs in worker threads, never on the event loop):

* Memory path ``/a/b.md`` is ``<root>/a/b.md``; directories are made 0755, files 0644, owned by whoever owns
  ``root`` (the sandbox's uid once a writable mount is provisioned: the file tools can change what is placed).
* Nothing is ever followed: files are opened with ``O_NOFOLLOW`` and a path whose directories are not all real
  directories is not written (a link the sandbox made cannot send a write elsewhere on the host).
* A file is replaced atomically (written beside it, then renamed), so the sandbox never sees half of one.
* A file the sandbox changed since the copy knew it (its stamp moved) is never overwritten nor removed here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from corral.memory import MemoryRecord

RACY_NS = 50_000_000  # well above a clock tick of file timestamps (1–10 ms)
NAME_MAX = 255
_DIR_MODE, _FILE_MODE = 0o755, 0o644


@dataclass(frozen=True)
class Stamp:
    ino: int
    size: int
    mtime_ns: int
    racy: bool

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(st.st_ino, st.st_size, st.st_mtime_ns, time.time_ns() - st.st_mtime_ns < RACY_NS)

    def same(self, st: os.stat_result) -> bool:
        return (st.st_ino, st.st_size, st.st_mtime_ns) == (self.ino, self.size, self.mtime_ns)

    def holds(self, st: os.stat_result) -> bool:
        """The file with status ``st`` is known to hold what it held when this stamp was taken, unread."""
        return not self.racy and self.same(st)


@dataclass(frozen=True)
class Entry:
    memory_id: str
    sha256: str
    version_id: str
    stamp: Stamp | None  # None: the file is not there (yet)


Known = dict[str, Entry]


def local(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def lstat(file: Path) -> os.stat_result | None:
    try:
        return file.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None


def clean(root: Path, path: str, entry: Entry) -> bool:
    """The file at ``path`` is as the copy left it (or absent where the copy has none): safe to replace."""
    file = local(root, path)
    st = lstat(file)
    if entry.stamp is None:
        return st is None
    if st is None or not stat.S_ISREG(st.st_mode) or not entry.stamp.same(st):
        return False
    return not entry.stamp.racy or _sha256(file) == entry.sha256


def _sha256(file: Path) -> str | None:
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def unplaceable(path: str) -> str | None:
    """Why a memory at ``path`` cannot be a file of the copy (a segment longer than a file name), or None."""
    if any(len(segment.encode("utf-8")) > NAME_MAX for segment in path[1:].split("/")):
        return f"a segment of its path is longer than {NAME_MAX} bytes, the longest file name"
    return None


def _owner(root: Path) -> tuple[int, int]:
    st = root.lstat()
    return st.st_uid, st.st_gid


def _directory(root: Path, path: str, owner: tuple[int, int]) -> Path | None:
    """The directory of ``path`` in the copy, made if missing; None if anything on the way is not a directory."""
    here = root
    for segment in path[1:].split("/")[:-1]:
        here = here / segment
        st = lstat(here)
        if st is None:
            here.mkdir(_DIR_MODE)
            here.chmod(_DIR_MODE)  # not left to the umask
            os.chown(here, *owner)
        elif not stat.S_ISDIR(st.st_mode):
            return None
    return here


def place(root: Path, memory: MemoryRecord) -> Entry | None:
    """Write ``memory`` into the copy (atomically; its directories made as needed); None if its place is taken
    by something that is not a directory on the way."""
    owner = _owner(root)
    directory = _directory(root, memory.path, owner)
    if directory is None:
        return None
    target = directory / memory.path.rsplit("/", 1)[1]
    if (st := lstat(target)) is not None and not stat.S_ISREG(st.st_mode):
        return None
    scratch = directory / f".corral-{os.getpid()}-{time.monotonic_ns()}"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(memory.content.encode("utf-8"))
        os.fchmod(fd, _FILE_MODE)
        os.fchown(fd, *owner)
    os.replace(scratch, target)
    return Entry(memory.id, memory.content_sha256, memory.version_id, Stamp.of(target.lstat()))


def remove(root: Path, path: str) -> None:
    local(root, path).unlink(missing_ok=True)


def materialize(root: Path, memories: list[MemoryRecord]) -> tuple[Known, list[tuple[str, str]]]:
    """Build the copy afresh at ``root`` from ``memories``: what is known of it, and (path, why) of those that
    could not be placed."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(_DIR_MODE, parents=True)
    root.chmod(_DIR_MODE)
    known: Known = {}
    skipped: list[tuple[str, str]] = []
    for memory in memories:
        why = unplaceable(memory.path)
        entry = None if why is not None else place(root, memory)
        if entry is None:
            skipped.append((memory.path, why or "its place in the directory is taken"))
        else:
            known[memory.path] = entry
    return known, skipped
