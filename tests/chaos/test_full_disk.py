"""A full SQLite disk (found by ``corral chaos``: writes were 500s): a write that finds no space is
``StorageFull`` (the API's 503 with ``retry-after``), nothing of it is kept, reads go on, and the same write
succeeds once space is freed. The database sits alone on a small loop-mounted filesystem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.db.engines import open_database
from corral.errors import StorageFull
from corral.session import NewEvent, NewSession, SessionStore
from corral.testing.disks import LoopFilesystem, drain, fill

pytestmark = pytest.mark.anyio


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = LoopFilesystem(tmp_path / "db.img", tmp_path / "db", size=32 * 1024**2)
    disk.create()
    try:
        yield disk.mount
    finally:
        drain(disk.mount)
        disk.unmount()


async def test_a_write_on_a_full_sqlite_disk_is_storage_full_and_works_once_space_is_freed(small_disk: Path) -> None:
    database = open_database(f"sqlite:///{small_disk / 'corral.db'}")
    await database.open()
    store = SessionStore(database)
    try:
        record, _ = await store.create_session(NewSession("wrkspc_a", "agent_a", 1, "env_a", {"title": "t"}))
        fill(small_disk, slack=0)
        big = NewEvent("user.message", {"content": [{"type": "text", "text": "x" * 200_000}]})
        with pytest.raises(StorageFull) as refused:
            for _ in range(200):  # the WAL may hold a few of them in space it already has
                await store.emit_event(record.id, big)
        assert refused.value.status == 503 and refused.value.retry_after > 0
        stored = [e.seq for e in await store.get_events(record.id)]  # reads go on
        drain(small_disk)
        after = await store.emit_event(record.id, big)
        assert after.seq == len(stored) + 1  # the refused write kept nothing
    finally:
        await store.aclose()
        await database.close()
