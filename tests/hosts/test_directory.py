"""The host directory on both engines: registration under a lease, sticky placement, one winner under races."""

from __future__ import annotations

import anyio
import pytest

from corral.db import Database
from corral.hosts.directory import HostDirectory, HostReport, Placement

pytestmark = pytest.mark.anyio


async def test_a_host_registers_and_its_lease_lapses(database: Database) -> None:
    directory = HostDirectory(database)
    await directory.report(HostReport("host_a", "http://a", capacity=2), ttl=30)
    [host] = await directory.hosts()
    assert (host.host_id, host.url, host.capacity, host.live) == ("host_a", "http://a", 2, True)
    await directory.report(HostReport("host_a", "http://a2", capacity=3, in_use=1), ttl=-1)  # lapsed
    [host] = await directory.hosts()
    assert (host.url, host.capacity, host.in_use, host.live) == ("http://a2", 3, 1, False)
    assert await directory.place("sesn_1") is None


async def test_placement_is_sticky_and_prefers_room(database: Database) -> None:
    directory = HostDirectory(database)
    await directory.report(HostReport("host_a", "http://a", capacity=4, in_use=3), ttl=30)
    await directory.report(HostReport("host_b", "http://b", capacity=4, in_use=1), ttl=30)
    first = await directory.place("sesn_1")
    assert first is not None and first.host.host_id == "host_b"
    again = await directory.place("sesn_1")
    assert again is not None and again.host.host_id == "host_b"
    found = await directory.placement("sesn_1")
    assert found is not None and found.host.host_id == "host_b"


async def test_placement_prefers_a_host_with_warm_sandboxes(database: Database) -> None:
    directory = HostDirectory(database)
    await directory.report(HostReport("host_a", "http://a", capacity=8, in_use=0), ttl=30)
    await directory.report(HostReport("host_b", "http://b", capacity=8, in_use=6, warm=1), ttl=30)
    placed = await directory.place("sesn_1")
    assert placed is not None and placed.host.host_id == "host_b"  # warm beats free


async def test_a_full_host_gets_no_placement(database: Database) -> None:
    directory = HostDirectory(database)
    await directory.report(HostReport("host_a", "http://a", capacity=1, in_use=1), ttl=30)
    assert await directory.place("sesn_1") is None


async def test_avoiding_a_host_moves_the_placement(database: Database) -> None:
    directory = HostDirectory(database)
    await directory.report(HostReport("host_a", "http://a", capacity=4), ttl=30)
    first = await directory.place("sesn_1")
    assert first is not None
    await directory.report(HostReport("host_b", "http://b", capacity=4), ttl=30)
    moved = await directory.place("sesn_1", avoid=frozenset({first.host.host_id}))
    assert moved is not None and moved.host.host_id != first.host.host_id
    await directory.expire(moved.host.host_id)  # its host stops: the session goes back to one that lives
    back = await directory.place("sesn_1")
    assert back is not None and back.host.host_id == first.host.host_id
    await directory.unplace("sesn_1")
    assert await directory.placement("sesn_1") is None


async def test_racing_placements_of_one_session_agree(database: Database) -> None:
    directory = HostDirectory(database)
    for name in "abcd":
        await directory.report(HostReport(f"host_{name}", f"http://{name}", capacity=100), ttl=30)
    got: list[Placement | None] = []

    async def place() -> None:
        got.append(await directory.place("sesn_race"))

    async with anyio.create_task_group() as tasks:
        for _ in range(8):
            tasks.start_soon(place)
    winners = {placement.host.host_id for placement in got if placement is not None}
    stored = await directory.placement("sesn_race")
    assert len(got) == 8 and stored is not None and winners == {stored.host.host_id}


async def test_racing_moves_agree(database: Database) -> None:
    directory = HostDirectory(database)
    await directory.report(HostReport("host_a", "http://a", capacity=100), ttl=30)
    await directory.place("sesn_race")
    for name in "bcd":
        await directory.report(HostReport(f"host_{name}", f"http://{name}", capacity=100), ttl=30)
    got: list[Placement | None] = []

    async def move() -> None:
        got.append(await directory.place("sesn_race", avoid=frozenset({"host_a"})))

    async with anyio.create_task_group() as tasks:
        for _ in range(8):
            tasks.start_soon(move)
    stored = await directory.placement("sesn_race")
    assert stored is not None and stored.host.host_id != "host_a"
    assert {placement.host.host_id for placement in got if placement is not None} == {stored.host.host_id}
