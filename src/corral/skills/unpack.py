"""A version's archive unpacked into a directory, for a sandbox to mount read-only.

The archive was checked when it was uploaded (``corral.skills.archive``), but it comes back from a blob store, so
it is checked again as it is unpacked: every entry keeps the path rules of ``corral.skills.paths`` under the one
top-level directory ``name`` (nothing is ever written outside ``into``), only regular files and directories are
made (a symlink or device entry is refused, never followed), at most ``MAX_FILES`` entries and no more bytes than
each entry declares (a lying header cannot inflate past it). Directories are 0755, files 0644, or 0755 when the
archive marks them executable.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import IO

from corral.skills.archive import CHUNK, MAX_FILES
from corral.skills.paths import Tree, invalid


def _executable(info: zipfile.ZipInfo) -> bool:
    return bool((info.external_attr >> 16) & 0o111)


def _regular(info: zipfile.ZipInfo) -> bool:
    return stat.S_IFMT(info.external_attr >> 16) in (0, stat.S_IFREG)


def _write(source: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    left = info.file_size
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as sink, source.open(info) as reader:
        while chunk := reader.read(min(CHUNK, left + 1)):
            left -= len(chunk)
            if left < 0:
                raise invalid(f"skill archive: {info.filename[:120]!r} is larger than it declares")
            sink.write(chunk)
    os.chmod(target, 0o755 if _executable(info) else 0o644)


def unpack(archive: IO[bytes], into: Path, name: str) -> None:
    """Unpack ``archive`` (a skill named ``name``) into the new, empty directory ``into``: ``into/<name>/…``."""
    tree = Tree()
    with zipfile.ZipFile(archive) as source:
        infos = [info for info in source.infolist() if not info.is_dir()]
        if len(infos) > MAX_FILES:
            raise invalid(f"skill archive: {len(infos)} entries; a skill holds at most {MAX_FILES} files")
        for info in infos:
            if not _regular(info):
                raise invalid(f"skill archive: {info.filename[:120]!r} is not a regular file")
            full = tree.add(info.filename)
            if tree.top != name:
                raise invalid(f"skill archive: {full[:120]!r} is not under {name}/")
            target = into.joinpath(*full.split("/"))
            for parent in reversed(target.relative_to(into).parents):
                folder = into / parent
                if not folder.is_dir():
                    folder.mkdir(mode=0o755)
                    folder.chmod(0o755)  # whatever the umask
            _write(source, info, target)
