"""What only the local backend has: its layout, and ages it keeps in file times (set back here to age a blob)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from corral.blobs.local import LocalBlobStore
from tests.blobs.test_contract import live_of, stream

pytestmark = pytest.mark.anyio

HOUR = 3600.0


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_a_put_of_bytes_already_stored_makes_them_young_again(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ref = await store.put(stream([b"again"]))
    path = tmp_path / "sha256" / ref[7:9] / ref[7:]
    age(path, 2 * HOUR)
    assert await store.put(stream([b"again"])) == ref  # a caller about to reference it
    assert await store.collect(live_of, older_than=HOUR) == 0
    assert path.read_bytes() == b"again"
    age(path, 2 * HOUR)
    assert await store.collect(live_of, older_than=HOUR) == 1
    assert not path.exists()


async def test_collect_removes_what_dead_puts_left_and_spares_puts_in_flight(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    (tmp_path / "tmp").mkdir(parents=True)
    dead, writing = tmp_path / "tmp" / "dead", tmp_path / "tmp" / "writing"
    dead.write_bytes(b"half a blob")
    writing.write_bytes(b"still coming")
    age(dead, 2 * HOUR)
    await store.collect(live_of, older_than=HOUR)
    assert sorted(os.listdir(tmp_path / "tmp")) == ["writing"]
