"""Workspace snapshots over each blob backend: round trip, incremental saves, a hostile tree, corrupt snapshots."""

from __future__ import annotations

import os
import random
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import zstandard

from corral.blobs import BlobStore
from corral.errors import ErrorCode, SandboxError
from corral.sandbox.snapshots import CHUNK_BYTES, Snapshots
from corral.sandbox.snapshots.manifest import FORMAT, Manifest, decode
from tests.blobs.conftest import stored

pytestmark = pytest.mark.anyio

UID = 4_000_123


def tree(root: Path) -> None:
    """A small workspace: nested directories, an empty file, a file of three chunks, an executable, links."""
    (root / "src" / "deep").mkdir(parents=True)
    (root / "empty").write_bytes(b"")
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "src" / "deep" / "big.bin").write_bytes(random.Random(1).randbytes(2 * CHUNK_BYTES + 123))
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "ro").mkdir(mode=0o500)
    (root / "link").symlink_to("src/main.py")
    (root / "escape").symlink_to("/etc")


def listing(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    out: dict[str, tuple[str, int, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", 0, os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", info.st_mode & 0o7777, "")
            elif path.is_fifo():
                out[rel] = ("fifo", 0, "")
            else:
                out[rel] = ("file", info.st_mode & 0o7777, path.read_bytes())
    return out


async def test_round_trip(store: BlobStore, tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    source.mkdir()
    target.mkdir()
    tree(source)
    os.mkfifo(source / "fifo")  # special files are skipped, never opened
    snapshots = Snapshots(store)
    saved = await snapshots.save(source)
    assert saved.scan.skipped == 1
    await snapshots.restore(await snapshots.load(saved.ref), target, UID)
    expected = listing(source)
    del expected["fifo"]
    assert listing(target) == expected
    assert {(target / rel).lstat().st_uid for rel in expected} == {UID}
    assert (target / "escape").is_symlink()  # stored as a link, never followed


async def test_unchanged_workspace_stores_nothing(store: BlobStore, tmp_path: Path) -> None:
    tmp_path = tmp_path / "w"  # beside the local store's directory, not around it
    tmp_path.mkdir()
    tree(tmp_path)
    snapshots = Snapshots(store)
    first = await snapshots.save(tmp_path)
    before = await stored(store)
    again = await snapshots.save(tmp_path, first.manifest)
    assert (again.ref, again.stored_blobs, again.scan.read_files) == (first.ref, 0, 0)
    assert await stored(store) == before


async def test_a_change_stores_its_chunk(store: BlobStore, tmp_path: Path) -> None:
    tmp_path = tmp_path / "w"
    tmp_path.mkdir()
    tree(tmp_path)
    snapshots = Snapshots(store)
    first = await snapshots.save(tmp_path)
    with (tmp_path / "src" / "deep" / "big.bin").open("r+b") as f:
        f.seek(CHUNK_BYTES + 10)  # the middle chunk only
        f.write(b"changed")
    second = await snapshots.save(tmp_path, first.manifest)
    assert second.scan.read_files == 1
    assert second.stored_blobs == 2  # that chunk and the new manifest
    restored = tmp_path.parent / "restored"
    restored.mkdir()
    await snapshots.restore(await snapshots.load(second.ref), restored, UID)
    assert listing(restored) == listing(tmp_path)


async def test_a_missing_chunk_is_a_clear_error(store: BlobStore, tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "f").write_text("bytes")
    snapshots = Snapshots(store)
    saved = await snapshots.save(tmp_path / "w")
    manifest = await snapshots.load(saved.ref)
    await store.delete(manifest.entries[0].chunks[0].ref)
    (tmp_path / "r").mkdir()
    with pytest.raises(SandboxError) as caught:
        await snapshots.restore(manifest, tmp_path / "r", UID)
    assert caught.value.code == ErrorCode.WORKSPACE_SNAPSHOT_FAILED
    await store.delete(saved.ref)
    with pytest.raises(SandboxError) as caught:
        await snapshots.load(saved.ref)
    assert caught.value.code == ErrorCode.WORKSPACE_SNAPSHOT_FAILED


async def test_a_chunk_that_is_not_what_its_manifest_says_is_refused(store: BlobStore, tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "f").write_text("bytes")
    snapshots = Snapshots(store)
    saved = await snapshots.save(tmp_path / "w")
    entry = saved.manifest.entries[0]
    lying = replace(entry, chunks=(replace(entry.chunks[0], raw="0" * 64),))
    (tmp_path / "r").mkdir()
    with pytest.raises(SandboxError) as caught:
        await snapshots.restore(Manifest((lying,)), tmp_path / "r", UID)
    assert caught.value.code == ErrorCode.WORKSPACE_SNAPSHOT_FAILED


def manifest_of(rows: list[list[object]]) -> bytes:
    return zstandard.ZstdCompressor().compress(orjson.dumps({"format": FORMAT, "entries": rows}))


HOSTILE: list[list[list[object]]] = [
    [["../outside", "file", 0o644, 0, 0, [], ""]],
    [["/etc/passwd", "file", 0o644, 0, 0, [], ""]],
    [["a/./b", "dir", 0o755, 0, 0, [], ""]],
    [["link", "symlink", 0o777, 0, 0, [], "/etc"], ["link/file", "file", 0o644, 0, 0, [], ""]],
    [["dir/file", "file", 0o644, 0, 0, [], ""], ["dir", "dir", 0o755, 0, 0, [], ""]],
    [["f", "file", 0o644, 0, 0, [], ""], ["f", "file", 0o644, 0, 0, [], ""]],
    [["f", "file", 0o4755, 0, 0, [], ""]],
    [["f", "file", 0o644, 5, 0, [["sha256:" + "0" * 64, 4, "0" * 64]], ""]],
    [["f", "file", 0o644, 4, 0, [["md5:abc", 4, "0" * 64]], ""]],
    [["f", "file", 0o644, 4, 0, [["sha256:" + "0" * 64, 4, "not a sha256"]], ""]],
    [["f", "file", 0o644, 4, 0, [["sha256:" + "0" * 64, 4]], ""]],
    [["f", "device", 0o644, 0, 0, [], ""]],
]


@pytest.mark.parametrize("rows", HOSTILE)
def test_hostile_manifests_are_refused(rows: list[list[object]]) -> None:
    with pytest.raises(SandboxError) as caught:
        decode(manifest_of(rows))
    assert caught.value.code == ErrorCode.WORKSPACE_SNAPSHOT_FAILED


def test_garbage_is_refused() -> None:
    for data in (b"", b"not zstd", zstandard.ZstdCompressor().compress(b"[1, 2]")):
        with pytest.raises(SandboxError):
            decode(data)
