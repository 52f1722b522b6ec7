"""The engine contract (``corral.db.base``), the same on both engines: flows are transactions, reads are
snapshots, notifications follow commits, unique violations void a flow, ``close`` answers everything."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest

from corral.db import Database, Flow, Row, UniqueViolation, all_rows, exec_, notify, one
from corral.db.engines import open_database
from corral.errors import NotFound, StorageError

pytestmark = pytest.mark.anyio


def create_probe() -> Flow[None]:
    yield exec_("CREATE TABLE probe (id INTEGER PRIMARY KEY, x INTEGER NOT NULL)")


def insert(key: int, x: int, note: str | None = None, fail: bool = False) -> Flow[int]:
    yield exec_("INSERT INTO probe (id, x) VALUES ($1, $2)", key, x)
    if note is not None:
        yield notify("events", note)
    if fail:
        raise NotFound("the flow changed its mind")
    return key


def rows() -> Flow[list[tuple[int, int]]]:
    found: list[Row] = yield all_rows("SELECT id, x FROM probe ORDER BY id")
    return [(int(r["id"]), int(r["x"])) for r in found]


@pytest.fixture
async def probe(database: Database) -> Database:
    await database.write(create_probe)
    return database


async def test_a_failing_flow_leaves_nothing_and_others_commit(probe: Database) -> None:
    outcomes: dict[int, str] = {}

    async def attempt(key: int) -> None:
        try:
            await probe.write(insert, key, key, None, key % 3 == 0)
            outcomes[key] = "ok"
        except NotFound:
            outcomes[key] = "refused"

    async with anyio.create_task_group() as tg:  # concurrent: on SQLite they share group commits
        for key in range(1, 61):
            tg.start_soon(attempt, key)
    assert await probe.read(rows) == [(k, k) for k in range(1, 61) if k % 3]
    assert {k for k, v in outcomes.items() if v == "refused"} == {k for k in range(1, 61) if k % 3 == 0}


async def test_notifications_follow_commits_only(probe: Database) -> None:
    heard: list[str | None] = []
    stop = probe.listen("events", heard.append)
    try:
        await probe.write(insert, 1, 1, "one")
        with pytest.raises(NotFound):
            await probe.write(insert, 2, 2, "two", True)
        # (this process's listeners hear of a commit before write returns: nothing of the second can be late)
    finally:
        stop()
    assert heard == ["one"]


def insert_catching(key: int, then_query: bool) -> Flow[str]:
    yield exec_("INSERT INTO probe (id, x) VALUES ($1, 0)", 1000 + key)  # an earlier write of the same flow
    try:
        yield exec_("INSERT INTO probe (id, x) VALUES ($1, 0)", key)
    except UniqueViolation:
        if then_query:
            yield one("SELECT 1 AS x")
        return "duplicate"
    return "inserted"


async def test_a_caught_unique_violation_voids_the_flow(probe: Database) -> None:
    await probe.write(insert, 1, 1)
    assert await probe.write(insert_catching, 2, False) == "inserted"
    assert await probe.write(insert_catching, 1, False) == "duplicate"
    with pytest.raises(StorageError):
        await probe.write(insert_catching, 1, True)
    with pytest.raises(UniqueViolation):
        await probe.write(insert, 1, 5)
    assert await probe.read(rows) == [(1, 1), (2, 0), (1002, 0)]  # nothing of the voided flows


def external_writer(database: Database) -> Callable[[int], None]:
    """A synchronous write through a connection of our own (another writer, as far as the engine knows)."""
    if database.dialect == "sqlite":
        path = database.url.removeprefix("sqlite:///")

        def write_sqlite(key: int) -> None:
            conn = sqlite3.connect("/" + path.lstrip("/"), timeout=30)
            try:
                conn.execute("INSERT INTO probe (id, x) VALUES (?, 0)", (key,))
                conn.commit()
            finally:
                conn.close()

        return write_sqlite

    def write_postgres(key: int) -> None:
        statement = f"INSERT INTO probe (id, x) VALUES ({key}, 0)"
        subprocess.run(["psql", "-q", "-X", database.url, "-c", statement], check=True, capture_output=True)

    return write_postgres


def counted_twice(write: Callable[[int], None], keys: list[int]) -> Flow[tuple[int, int]]:
    first: Row = yield one("SELECT count(*) AS n FROM probe")
    key = 100 + len(keys)
    keys.append(key)
    write(key)  # commits between our two statements
    second: Row = yield one("SELECT count(*) AS n FROM probe")
    return int(first["n"]), int(second["n"])


async def test_a_read_flow_sees_one_snapshot(probe: Database) -> None:
    keys: list[int] = []
    first, second = await probe.read(counted_twice, external_writer(probe), keys)
    assert first == second
    assert len(await probe.read(rows)) == len(keys)


async def test_reads_never_write(probe: Database) -> None:
    with pytest.raises(StorageError):
        await probe.read(insert, 1, 1)
    assert await probe.read(rows) == []


async def test_close_answers_pending_writes_and_refuses_later_ones(db_url: str) -> None:
    db = open_database(db_url)
    await db.open()
    await db.write(create_probe)
    results: list[int] = []

    async def write(key: int) -> None:
        results.append(await db.write(insert, key, key))

    async with anyio.create_task_group() as tg:
        for key in range(50):
            tg.start_soon(write, key)
        await anyio.lowlevel.checkpoint()  # every task has queued its write
        await db.close()
    assert sorted(results) == list(range(50))
    with pytest.raises(StorageError):
        await db.write(insert, 99, 99)
    with pytest.raises(StorageError):
        await db.read(rows)
    again = open_database(db_url)
    await again.open()
    try:
        assert len(await again.read(rows)) == 50
    finally:
        await again.close()
