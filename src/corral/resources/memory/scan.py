"""What a session changed in its copy of a memory store: a walk of the copy against what is ``Known`` of it.

Cost: one ``lstat`` per file and directory; a file is read and hashed only when its stamp moved (or is racy,
``tree.Stamp``), so an unchanged copy is never read. Each changed file is read once.

Invariants (runs in a worker thread):

* Nothing is followed: links are never read nor entered, files are opened with ``O_NOFOLLOW | O_NONBLOCK``.
* A file becomes a ``Put`` only if its path obeys the memory path rules (``corral.memory.paths``: UTF-8, NFC, no
  control or format characters, at most 20 segments and 1,024 bytes) and its content is UTF-8 text within the
  100 kB limit without NUL. Anything else (a link, a fifo, a device, a bad name, an oversized or binary file) is
  *skipped*, with why: it is not written back, and a directory with a bad name is skipped whole.
* A memory the copy knew becomes a ``Drop`` only when nothing at all is left at its path: a path taken by
  something that cannot be saved (a link, say) keeps its memory.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from corral.errors import InvalidRequest
from corral.memory import paths
from corral.memory.params import CONTENT_MAX_BYTES, check_content
from corral.memory.writeback import Drop, Op, Put
from corral.resources.memory.tree import Entry, Known, Stamp, local, lstat


@dataclass(frozen=True)
class Found:
    """A change to write back, with the stamp and hash of the file it was read from (None for a ``Drop``)."""

    op: Op
    stamp: Stamp | None = None
    sha256: str | None = None


@dataclass
class Scan:
    changes: list[Found] = field(default_factory=lambda: list[Found]())
    #: files read again (their stamp moved) that still hold what the copy knew: their new stamps
    restamped: dict[str, Entry] = field(default_factory=lambda: dict[str, Entry]())
    #: (path, why) of what cannot be written back
    skipped: list[tuple[str, str]] = field(default_factory=lambda: list[tuple[str, str]]())


def _path_problem(path: str) -> str | None:
    try:
        path.encode("utf-8")  # a name that is not UTF-8 arrives with surrogate escapes
        paths.memory_path(path)
    except UnicodeEncodeError:
        return "its name is not UTF-8"
    except InvalidRequest as exc:
        return exc.message.removeprefix("path: ")
    return None


def _read(file: Path) -> tuple[str | None, os.stat_result | None, str]:
    """The file's text and status, or None and why it cannot be a memory."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, None, f"it cannot be read ({exc.strerror})"
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, st, "it is not a regular file"
        data = handle.read(CONTENT_MAX_BYTES + 1)
    if len(data) > CONTENT_MAX_BYTES:
        return None, st, f"it is larger than {CONTENT_MAX_BYTES} bytes, the most a memory holds"
    try:
        return check_content(data.decode("utf-8")), st, ""
    except UnicodeDecodeError:
        return None, st, "it is not UTF-8 text"
    except InvalidRequest as exc:
        return None, st, exc.message.removeprefix("content: ")


def _file(scan: Scan, root: Path, path: str, st: os.stat_result, known: Known) -> None:
    entry = known.get(path)
    if entry is not None and entry.stamp is not None and entry.stamp.holds(st):
        return
    problem = _path_problem(path)
    if problem is None and st.st_size > CONTENT_MAX_BYTES:
        problem = f"it is larger than {CONTENT_MAX_BYTES} bytes, the most a memory holds"
    content, read_st = None, st
    if problem is None:
        content, read_st, problem = _read(local(root, path))
    if content is None or read_st is None:
        scan.skipped.append((path, problem or "it cannot be read"))
        return
    stamp, sha = Stamp.of(read_st), hashlib.sha256(content.encode("utf-8")).hexdigest()
    if entry is not None and entry.sha256 == sha:
        scan.restamped[path] = Entry(entry.memory_id, sha, entry.version_id, stamp)
        return
    expected = None if entry is None else entry.sha256
    op = Put(path, content, None if entry is None else entry.memory_id or None, expected)
    scan.changes.append(Found(op, stamp, sha))


def _walk(scan: Scan, root: Path, prefix: str, known: Known, seen: set[str]) -> None:
    with os.scandir(local(root, prefix) if prefix else root) as entries:
        listed = sorted(entries, key=lambda each: each.name)
    for each in listed:
        path = f"{prefix}/{each.name}"
        if each.name.startswith(".corral-"):
            continue  # a copy being placed (``tree.place``), not the session's
        seen.add(path)
        st = each.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            problem = _path_problem(path)
            if problem is None:
                _walk(scan, root, path, known, seen)
            else:
                scan.skipped.append((path + "/", problem))
        elif stat.S_ISREG(st.st_mode):
            _file(scan, root, path, st, known)
        else:
            scan.skipped.append((path, "it is not a regular file (links, fifos and devices are never followed)"))


def scan(root: Path, known: Known) -> Scan:
    """The changes in the copy at ``root`` since ``known``."""
    found, seen = Scan(), set[str]()
    if lstat(root) is None:
        return found
    _walk(found, root, "", known, seen)
    for path, entry in known.items():
        if path not in seen and entry.stamp is not None:
            found.changes.append(Found(Drop(path, entry.memory_id, entry.sha256)))
    return found
