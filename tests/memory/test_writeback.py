"""``MemoryStores.write_back`` (what sessions write in their mounts) on both engines: versions by the session's
``session_actor``; a conflict keeps the head and stores the session's content beside it; racing sessions never
lose an update; an archived store takes nothing."""

from __future__ import annotations

import hashlib

import anyio
import pytest

from corral.db import Database
from corral.errors import InvalidRequest
from corral.memory import MemoryStores, VersionFilter, VersionRecord
from corral.memory.params import MemoryCreate, MemoryUpdate, StoreCreate
from corral.memory.writeback import Drop, Outcome, Put, conflict_path

pytestmark = pytest.mark.anyio
WS = "wrkspc_writeback"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def memory(database: Database) -> MemoryStores:
    return MemoryStores(database)


async def new_store(memory: MemoryStores) -> str:
    return (await memory.create_store(WS, StoreCreate(name="mounted"))).id


async def contents(memory: MemoryStores, store_id: str) -> dict[str, str]:
    _, found = await memory.tree(WS, store_id)
    return {each.path: each.content for each in found}


async def all_versions(memory: MemoryStores, store_id: str) -> list[VersionRecord]:
    page = await memory.list_versions(WS, store_id, VersionFilter(), limit=100, page=None)
    return [item for item in page.items if isinstance(item, VersionRecord)]


async def test_writes_are_versions_by_the_session(memory: MemoryStores) -> None:
    store = await new_store(memory)
    old = await memory.create_memory(WS, store, MemoryCreate(path="/old.md", content="old"), None)
    keep = await memory.create_memory(WS, store, MemoryCreate(path="/keep.md", content="keep"), None)
    ops = [
        Put("/new.md", "new"),
        Put("/keep.md", "kept, changed", keep.id, sha("keep")),
        Drop("/old.md", old.id, sha("old")),
    ]
    outcomes = await memory.write_back(WS, store, "sesn_writer", ops)
    assert [o.kind for o in outcomes] == ["written", "written", "dropped"]
    assert await contents(memory, store) == {"/keep.md": "kept, changed", "/new.md": "new"}
    mine = await memory.list_versions(WS, store, VersionFilter(session_id="sesn_writer"), limit=100, page=None)
    assert sorted(v.operation for v in mine.items) == ["created", "deleted", "modified"]
    assert all(v.created_by.wire() == {"type": "session_actor", "session_id": "sesn_writer"} for v in mine.items)


async def test_a_conflict_keeps_theirs_and_stores_ours_beside_it(memory: MemoryStores) -> None:
    store = await new_store(memory)
    base = await memory.create_memory(WS, store, MemoryCreate(path="/plan.md", content="v0"), None)
    await memory.update_memory(WS, store, base.id, MemoryUpdate(content="theirs"), None)
    copy = conflict_path("/plan.md", "sesn_late")
    (first,) = await memory.write_back(WS, store, "sesn_late", [Put("/plan.md", "ours", base.id, sha("v0"))])
    assert first.kind == "conflict" and first.memory is not None and first.memory.path == copy
    (again,) = await memory.write_back(WS, store, "sesn_late", [Put("/plan.md", "ours 2", base.id, sha("v0"))])
    assert again.kind == "conflict" and again.memory is not None and again.memory.id == first.memory.id
    assert await contents(memory, store) == {"/plan.md": "theirs", copy: "ours 2"}
    assert {v.content for v in await all_versions(memory, store)} == {"v0", "theirs", "ours", "ours 2"}
    (same,) = await memory.write_back(WS, store, "sesn_late", [Put("/plan.md", "theirs", base.id, sha("v0"))])
    assert same.kind == "written" and same.memory is not None and same.memory.version_id != first.memory.version_id


async def test_creating_a_taken_path_and_dropping_a_changed_memory(memory: MemoryStores) -> None:
    store = await new_store(memory)
    taken = await memory.create_memory(WS, store, MemoryCreate(path="/a/b.md", content="theirs"), None)
    ops: list[Put | Drop] = [
        Put("/a/b.md", "ours"),  # the session saw no memory there
        Put("/a", "a file where a directory is"),
        Drop("/a/b.md", taken.id, sha("what the session saw")),
        Drop("/gone.md", "mem_011CZkZDLs7fYzm1hXNPeRjv", sha("x")),
        Put("/" + "x" * 1020, "too long for a conflict copy", taken.id, sha("x")),
    ]
    outcomes = await memory.write_back(WS, store, "sesn_other", ops)
    assert [o.kind for o in outcomes] == ["conflict", "conflict", "kept", "dropped", "refused"]
    assert await contents(memory, store) == {
        "/a/b.md": "theirs",
        "/a/b.md.conflict-sesn_other": "ours",
        "/a.conflict-sesn_other": "a file where a directory is",
    }


async def test_racing_sessions_never_lose_an_update(memory: MemoryStores) -> None:
    store = await new_store(memory)
    base = await memory.create_memory(WS, store, MemoryCreate(path="/race.md", content="v0"), None)
    outcomes: dict[str, Outcome] = {}

    async def session(number: int) -> None:
        session_id = f"sesn_racer{number}"
        put = Put("/race.md", f"from {number}", base.id, sha("v0"))
        (outcomes[session_id],) = await memory.write_back(WS, store, session_id, [put])

    async with anyio.create_task_group() as group:
        for number in range(8):
            group.start_soon(session, number)
    assert sorted(o.kind for o in outcomes.values()) == ["conflict"] * 7 + ["written"]
    stored = await contents(memory, store)
    assert sorted(stored.values()) == sorted(f"from {n}" for n in range(8))  # every session's content survives
    (winner,) = [sid for sid, o in outcomes.items() if o.kind == "written"]
    assert stored["/race.md"] == f"from {winner.removeprefix('sesn_racer')}"
    assert len(await all_versions(memory, store)) == 1 + 8


async def test_an_archived_store_takes_nothing(memory: MemoryStores) -> None:
    store = await new_store(memory)
    await memory.archive_store(WS, store)
    with pytest.raises(InvalidRequest, match="archived"):
        await memory.write_back(WS, store, "sesn_late", [Put("/new.md", "new")])
    assert await contents(memory, store) == {}
