"""One upload's files become one zip archive, built on a temporary file as the parts arrive (never in memory).

``Builder`` takes the files of ``files[]`` one part at a time (``add``), or a whole skill sent as a single
``<anything>.zip`` part (``add_zip``); ``finish`` checks the tree (``corral.skills.paths``) and reads the slug and
description from ``SKILL.md``. The archive then streams into the blob store (``chunks``).

Invariants: the files' total size never passes ``max_bytes`` (``BlobTooLarge``, 413, as soon as it would, for a
zip upload before a byte is inflated when its directory already says so, and while inflating when it lied); a zip
upload may hold at most ``MAX_FILES`` entries, only regular files and directories (a symlink or device is a 400),
under the same path rules as ``files[]``; the archive's entries are the upload's paths, with a fixed timestamp, so
the same files make the same bytes (and the same blob). The temporary files are gone when the ``Builder`` closes.
"""

from __future__ import annotations

import contextlib
import stat
import tempfile
import zipfile
import zlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import anyio.to_thread

from corral.errors import BlobTooLarge
from corral.skills import paths
from corral.skills.paths import Tree, invalid

MAX_FILES = 1000
MAX_SKILL_MD_BYTES = 1024 * 1024
CHUNK = 1024 * 1024
EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP64_AT = 1 << 31


@dataclass(frozen=True)
class Bundle:
    """A checked upload: the skill's slug and description, and its archive's size."""

    name: str
    description: str
    size: int


def _too_large(limit: int) -> BlobTooLarge:
    return BlobTooLarge(f"the skill's files are larger than the limit of {limit} bytes", details={"limit": limit})


def _temporary(folder: Path | None) -> IO[bytes]:
    return tempfile.TemporaryFile(dir=folder)


def _entry(name: str, executable: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    return info


class Builder:
    def __init__(self, *, max_bytes: int | None, spool_dir: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self.spool_dir = spool_dir
        self.tree = Tree()
        self.total = 0
        self.skill_md = bytearray()
        self._spool: IO[bytes] | None = None
        self._zip: zipfile.ZipFile | None = None
        self._zipped_upload = False

    async def __aenter__(self) -> Builder:
        self._spool = await anyio.to_thread.run_sync(_temporary, self.spool_dir)
        self._zip = zipfile.ZipFile(self._spool, "w", zipfile.ZIP_DEFLATED)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        if self._zip is not None:
            with contextlib.suppress(ValueError, OSError):  # a refused upload's archive is thrown away
                self._zip.close()
        if self._spool is not None:
            self._spool.close()

    def _count(self, size: int) -> None:
        self.total += size
        if self.max_bytes is not None and self.total > self.max_bytes:
            raise _too_large(self.max_bytes)

    def _check_more(self) -> None:
        if self._zipped_upload:
            raise invalid("files[]: a skill sent as a .zip must be the only file part")
        if len(self.tree.files) >= MAX_FILES:
            raise invalid(f"files[]: a skill holds at most {MAX_FILES} files")

    def _keep(self, full: str, chunk: bytes) -> None:
        if full.count("/") == 1 and full.endswith("/" + paths.SKILL_FILE):
            self.skill_md += chunk
            if len(self.skill_md) > MAX_SKILL_MD_BYTES:
                raise invalid(f"{paths.SKILL_FILE}: larger than {MAX_SKILL_MD_BYTES} bytes")

    async def add(self, path: str | None, chunks: AsyncIterable[bytes]) -> None:
        """One file of ``files[]``: its path checked, its bytes streamed into the archive."""
        self._check_more()
        full = self.tree.add(path)
        assert self._zip is not None
        force = self.max_bytes is None or self.max_bytes >= ZIP64_AT
        sink = await anyio.to_thread.run_sync(lambda: self._zip_open(full, force))
        try:
            async for chunk in chunks:
                self._count(len(chunk))
                self._keep(full, chunk)
                await anyio.to_thread.run_sync(sink.write, chunk)
        finally:
            await anyio.to_thread.run_sync(sink.close)

    def _zip_open(self, full: str, force: bool, executable: bool = False) -> IO[bytes]:
        assert self._zip is not None
        return self._zip.open(_entry(full, executable), "w", force_zip64=force)

    async def add_zip(self, chunks: AsyncIterable[bytes]) -> None:
        """A whole skill as one zip: spooled (at most ``max_bytes``), then its entries checked and copied."""
        self._check_more()
        if self.tree.top is not None:
            raise invalid("files[]: a skill sent as a .zip must be the only file part")
        self._zipped_upload = True
        raw = await anyio.to_thread.run_sync(_temporary, self.spool_dir)
        try:
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if self.max_bytes is not None and size > self.max_bytes:
                    raise _too_large(self.max_bytes)
                await anyio.to_thread.run_sync(raw.write, chunk)
            await anyio.to_thread.run_sync(self._copy_zip, raw)
        finally:
            await anyio.to_thread.run_sync(raw.close)

    def _copy_zip(self, raw: IO[bytes]) -> None:
        try:
            with zipfile.ZipFile(raw) as source:
                entries = self._checked_entries(source)
                for info in entries:
                    self._copy_entry(source, info)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
            raise invalid(f"files[]: not a readable zip archive ({type(error).__name__})") from None

    def _checked_entries(self, source: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
        infos = source.infolist()
        if len(infos) > MAX_FILES:
            raise invalid(f"files[]: the zip holds {len(infos)} entries; a skill holds at most {MAX_FILES} files")
        files: list[zipfile.ZipInfo] = []
        for info in infos:
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if info.is_dir():
                paths.split(info.filename.rstrip("/") + "/entry")  # the directory's own path keeps the rules
                continue
            if kind not in (0, stat.S_IFREG):
                what = "a symlink" if kind == stat.S_IFLNK else "not a regular file"
                raise invalid(f"files[]: the zip entry {info.filename[:120]!r} is {what}; only files are accepted")
            files.append(info)
        declared = sum(info.file_size for info in files)
        if self.max_bytes is not None and declared > self.max_bytes:
            raise _too_large(self.max_bytes)
        return files

    def _copy_entry(self, source: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        full = self.tree.add(info.filename)
        force = self.max_bytes is None or self.max_bytes >= ZIP64_AT
        executable = bool((info.external_attr >> 16) & 0o111)
        with source.open(info) as reader, self._zip_open(full, force, executable) as sink:
            while chunk := reader.read(CHUNK):  # counted as inflated: a header that lies is caught here
                self._count(len(chunk))
                self._keep(full, chunk)
                sink.write(chunk)

    async def finish(self) -> Bundle:
        """Close the archive and check it: one top-level directory with ``SKILL.md`` giving name and description."""
        skill_file = self.tree.skill_file()
        name, description = paths.name_and_description(skill_file.split("/", 1)[0], bytes(self.skill_md))
        assert self._zip is not None and self._spool is not None
        await anyio.to_thread.run_sync(self._zip.close)
        spool = self._spool
        size = await anyio.to_thread.run_sync(lambda: spool.seek(0, 2))
        return Bundle(name=name, description=description, size=size)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The finished archive's bytes, from the start."""
        assert self._spool is not None
        spool = self._spool
        await anyio.to_thread.run_sync(spool.seek, 0)
        while chunk := await anyio.to_thread.run_sync(spool.read, CHUNK):
            yield chunk
