"""A workspace snapshot's manifest: every entry of the tree, in order, with the blobs holding each file's bytes.

A manifest is one blob (orjson, then zstd): ``{"format": FORMAT, "entries": [[path, kind, mode, size, mtime_ns,
[[ref, size, raw], …], target], …]}``. A file's bytes are cut into ``CHUNK_BYTES`` chunks, each stored compressed
as a blob of its own (``ref``, the blob's address), with the sha256 of its uncompressed bytes (``raw``), so an
unchanged chunk costs nothing in the next snapshot, not even compressing it again (``corral.sandbox.snapshots``).

Invariants (``decode`` checks each, so a corrupt or hostile manifest is refused as a whole, before anything is
written):

* A path is relative, ``/``-separated, with no empty, ``.`` or ``..`` component and no NUL, at most ``MAX_PATH``
  bytes and ``MAX_DEPTH`` components deep; paths are unique.
* Entries come parents first: an entry's parent directory is an earlier ``dir`` entry (or the root), so restoring
  in order never writes through a symlink.
* A file's chunk sizes add up to its size, each chunk is at most ``CHUNK_BYTES``; modes are permission bits only
  (no set-uid, set-gid); a manifest has at most ``MAX_ENTRIES`` entries.
* Encoding is deterministic: the same tree gives the same bytes, so an unchanged workspace's manifest is the
  same blob again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

import orjson
import zstandard

from corral.blobs import BlobRef
from corral.blobs.base import digest_of
from corral.errors import CorralError, ErrorCode, SandboxError

FORMAT = "corral.workspace.v1"
CHUNK_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 500_000
MAX_DEPTH = 128
MAX_PATH = 4096
MAX_MANIFEST_BYTES = 512 * 1024 * 1024  # decompressed: bounds what a hostile manifest blob can make us allocate
MODE_BITS = 0o1777  # permission bits and sticky; never set-uid / set-gid
_RAW = re.compile(r"[0-9a-f]{64}")

Kind = Literal["dir", "file", "symlink"]
KINDS: tuple[Kind, ...] = ("dir", "file", "symlink")


@dataclass(frozen=True)
class Chunk:
    ref: BlobRef  # the blob of the compressed bytes
    size: int  # uncompressed
    raw: str  # sha256 (hex) of the uncompressed bytes: an unchanged chunk is known without compressing it


@dataclass(frozen=True)
class Entry:
    path: str
    kind: Kind
    mode: int
    size: int = 0
    mtime_ns: int = 0
    chunks: tuple[Chunk, ...] = ()
    target: str = ""  # a symlink's target, stored as written (never followed)


@dataclass(frozen=True)
class Manifest:
    entries: tuple[Entry, ...]

    def by_path(self) -> dict[str, Entry]:
        return {entry.path: entry for entry in self.entries}

    def refs(self) -> set[BlobRef]:
        return {chunk.ref for entry in self.entries for chunk in entry.chunks}

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.entries)


def corrupt(why: str) -> SandboxError:
    return SandboxError(f"the workspace snapshot is corrupt: {why}", code=ErrorCode.WORKSPACE_SNAPSHOT_FAILED)


def encode(manifest: Manifest) -> bytes:
    rows = [
        [e.path, e.kind, e.mode, e.size, e.mtime_ns, [[c.ref, c.size, c.raw] for c in e.chunks], e.target]
        for e in manifest.entries
    ]
    raw = orjson.dumps({"format": FORMAT, "entries": rows})
    return zstandard.ZstdCompressor(level=3, write_checksum=True).compress(raw)


def decode(data: bytes) -> Manifest:
    """The manifest in ``data``; ``SandboxError`` (``workspace_snapshot_failed``) if it breaks any invariant."""
    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_MANIFEST_BYTES)
        document = orjson.loads(raw)
    except (zstandard.ZstdError, orjson.JSONDecodeError) as exc:
        raise corrupt(f"unreadable manifest ({exc})") from None
    if not isinstance(document, dict) or cast(dict[str, object], document).get("format") != FORMAT:
        raise corrupt("not a workspace manifest")
    rows = cast(dict[str, object], document).get("entries")
    if not isinstance(rows, list) or len(cast(list[object], rows)) > MAX_ENTRIES:
        raise corrupt("bad entry list")
    entries: list[Entry] = []
    directories: set[str] = {""}
    for row in cast(list[object], rows):
        entry = _entry(row)
        parent, _, _ = entry.path.rpartition("/")
        if parent not in directories:
            raise corrupt(f"{entry.path!r} comes before its directory")
        if entry.kind == "dir":
            if entry.path in directories:
                raise corrupt(f"{entry.path!r} twice")
            directories.add(entry.path)
        entries.append(entry)
    if len({entry.path for entry in entries}) != len(entries):
        raise corrupt("a path appears twice")
    return Manifest(tuple(entries))


def check_path(path: str) -> str:
    parts = path.split("/")
    if (
        not path
        or len(path.encode()) > MAX_PATH
        or len(parts) > MAX_DEPTH
        or "\0" in path
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise corrupt(f"bad path {path[:200]!r}")
    return path


def _entry(row: object) -> Entry:
    if not isinstance(row, list) or len(cast(list[object], row)) != 7:
        raise corrupt("bad entry")
    path, kind, mode, size, mtime_ns, chunks, target = cast(list[object], row)
    if not (isinstance(path, str) and isinstance(kind, str) and isinstance(target, str)):
        raise corrupt("bad entry")
    if kind not in KINDS or not _ints(mode, size, mtime_ns) or not isinstance(chunks, list):
        raise corrupt(f"bad entry {path[:200]!r}")
    mode, size, mtime_ns = cast(int, mode), cast(int, size), cast(int, mtime_ns)
    parsed = tuple(_chunk(item) for item in cast(list[object], chunks))
    if mode & ~MODE_BITS or size < 0 or sum(c.size for c in parsed) != size or (kind != "file" and parsed):
        raise corrupt(f"bad entry {path[:200]!r}")
    if (kind == "symlink") != bool(target) or "\0" in target or len(target.encode()) > MAX_PATH:
        raise corrupt(f"bad link {path[:200]!r}")
    return Entry(check_path(path), kind, mode, size, mtime_ns, parsed, target)


def _chunk(item: object) -> Chunk:
    if not isinstance(item, list) or len(cast(list[object], item)) != 3:
        raise corrupt("bad chunk")
    ref, size, raw = cast(list[object], item)
    if not isinstance(ref, str) or not _ints(size) or not 0 < cast(int, size) <= CHUNK_BYTES:
        raise corrupt("bad chunk")
    if not isinstance(raw, str) or not _RAW.fullmatch(raw):
        raise corrupt("bad chunk hash")
    try:
        digest_of(ref)
    except CorralError:
        raise corrupt("bad chunk address") from None
    return Chunk(BlobRef(ref), cast(int, size), raw)


def _ints(*values: object) -> bool:
    return all(isinstance(value, int) and not isinstance(value, bool) for value in values)
