"""PostgreSQL engine specifics: the LISTEN connection survives being killed, our own notifications are not
delivered twice, the pools queue callers instead of failing, deadlocks are retried, deltas cross processes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from corral.db import Flow, Row, exec_, notify, one
from corral.db.postgres import PostgresDatabase
from corral.db.postgres.driver import connect
from corral.session import Delta, Event, SessionStore

from ..conftest import fresh_postgres_url, postgres_admin_url
from .helpers import PATIENCE, Heard, make_session, message

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg_url() -> str:
    return await fresh_postgres_url()


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresDatabase]:
    db = PostgresDatabase(pg_url, keepalive=0.5)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def terminate(pid: int) -> None:
    """Terminate a backend and return once it is gone (it has stopped listening, too)."""
    conn = await connect(postgres_admin_url())
    try:
        # (with a timeout, PostgreSQL answers once the backend has actually ended)
        assert await conn.fetchval("SELECT pg_terminate_backend($1, $2)", pid, int(PATIENCE * 1000))
    finally:
        await conn.close()


async def test_a_killed_listen_connection_is_replaced(pg: PostgresDatabase, pg_url: str) -> None:
    """Terminate the LISTEN backend; a subscriber here still gets what another process writes later."""
    other = PostgresDatabase(pg_url)
    await other.open()
    store, writer = SessionStore(pg), SessionStore(other)
    try:
        record = await make_session(writer)
        async with store.subscribe(record.id) as subscriber:
            before = await writer.emit_event(record.id, message(1))
            with anyio.fail_after(10):
                assert await subscriber.receive.receive() == before
            pid = pg.listener.backend_pid
            assert pid is not None
            reconnected = anyio.Event()

            def on_wake(payload: str | None) -> None:
                if payload is None:
                    reconnected.set()

            stop = pg.listen("wake", on_wake)
            await terminate(pid)
            with anyio.fail_after(10):
                await reconnected.wait()  # the doorbell rung after a reconnect
            stop()
            assert pg.listener.reconnects == 1
            assert pg.listener.backend_pid not in (None, pid)
            after = [await writer.emit_event(record.id, message(n)) for n in range(2, 6)]
            with anyio.fail_after(10):
                got = [await subscriber.receive.receive() for _ in after]
            assert got == after
    finally:
        await store.aclose()
        await writer.aclose()
        await other.close()


async def allow_connections(url: str, allowed: bool) -> None:
    conn = await connect(postgres_admin_url())
    try:
        await conn.execute(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    finally:
        await conn.close()


async def test_events_written_while_nobody_listened_are_caught_up(pg: PostgresDatabase, pg_url: str) -> None:
    """Notifications sent while the LISTEN connection is down are lost for good; the doorbell rung after
    the reconnect makes the subscriber read the log, so it still gets every event, in order."""
    other = PostgresDatabase(pg_url)
    await other.open()
    store, writer = SessionStore(pg), SessionStore(other)
    try:
        record = await make_session(writer)
        async with store.subscribe(record.id) as subscriber:
            pid = pg.listener.backend_pid
            assert pid is not None
            await allow_connections(pg_url, False)  # the listener cannot come back for now
            try:
                await terminate(pid)
                written = [await writer.emit_event(record.id, message(n)) for n in range(5)]
                with pytest.raises(anyio.WouldBlock):  # nobody listens, and nobody can start to
                    raise AssertionError(f"delivered while nobody listened: {subscriber.receive.receive_nowait()}")
            finally:
                await allow_connections(pg_url, True)
            with anyio.fail_after(15):
                got = [await subscriber.receive.receive() for _ in written]
            assert got == written
            assert pg.listener.reconnects == 1
    finally:
        await store.aclose()
        await writer.aclose()
        await other.close()


def ring(channel: str, payload: str) -> Flow[None]:
    yield notify(channel, payload)


async def test_our_own_notifications_are_delivered_once(pg: PostgresDatabase, pg_url: str) -> None:
    store = SessionStore(pg)
    other = PostgresDatabase(pg_url)
    await other.open()
    heard = Heard()
    stop = pg.listen("events", heard)
    try:
        record = await make_session(store)
        event = await store.emit_event(record.id, message(1))
        # Another engine's notification, committed after ours, as a marker: PostgreSQL delivers notifications
        # in commit order, so the server's echo of ours has arrived once the marker has.
        await other.write(ring, "events", "marker")
        assert await heard.until(2) == [f"{record.id}:{event.seq}", "marker"]
    finally:
        stop()
        await store.aclose()
        await other.close()


async def test_small_pools_queue_callers(pg_url: str) -> None:
    db = PostgresDatabase(pg_url, min_size=2, max_size=2)
    await db.open()
    store = SessionStore(db)
    try:
        record = await make_session(store)
        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(store.emit_event, record.id, message(n))
                tg.start_soon(store.get_events, record.id, 1, 5)
        assert [e.seq for e in await store.get_events(record.id)] == list(range(1, 41))
    finally:
        await store.aclose()
        await db.close()


def create_pair() -> Flow[None]:
    yield exec_("CREATE TABLE pair (id INTEGER PRIMARY KEY, x INTEGER NOT NULL)")
    yield exec_("INSERT INTO pair (id, x) VALUES (1, 0), (2, 0)")


def cross_update(first: int, second: int, attempts: list[int], updated: set[int]) -> Flow[int]:
    """Lock ``first``, wait until the other transaction holds its first lock too, lock ``second``: two of
    these in opposite orders deadlock. (A retry does not wait: the other one may have committed by then.)"""
    attempts.append(first)
    yield exec_("UPDATE pair SET x = x + 1 WHERE id = $1", first)
    updated.add(first)  # both flows run in this process: the other one reads this
    if attempts.count(first) == 1:
        yield from until_updated(updated, second)
    yield exec_("UPDATE pair SET x = x + 1 WHERE id = $1", second)
    return first


def until_updated(updated: set[int], row: int) -> Flow[None]:
    """Until the other transaction has updated (so holds) ``row``; its lock is held to its end."""
    for _ in range(int(PATIENCE * 100)):
        if row in updated:
            return
        yield one("SELECT pg_sleep(0.01)")
    raise AssertionError("no other transaction updated the pair")


def pair() -> Flow[int]:
    row: Row = yield one("SELECT sum(x) AS total FROM pair")
    return int(row["total"])


async def test_a_deadlock_is_retried(pg: PostgresDatabase) -> None:
    await pg.write(create_pair)
    attempts: list[int] = []
    results: list[int] = []
    updated: set[int] = set()

    async def run(first: int, second: int) -> None:
        results.append(await pg.write(cross_update, first, second, attempts, updated))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, 1, 2)
        tg.start_soon(run, 2, 1)
    assert sorted(results) == [1, 2]
    # The deadlock victim ran again; a retry can also meet a serialisation failure while the winner is
    # still committing (under load), so "again" is at least once more, never exactly once more.
    assert sorted(attempts.count(n) for n in (1, 2))[0] == 1
    assert len(attempts) >= 3
    assert await pg.read(pair) == 4  # and only its committed attempt counts


async def test_deltas_reach_subscribers_in_other_processes(pg: PostgresDatabase, pg_url: str) -> None:
    other = PostgresDatabase(pg_url)
    await other.open()
    here, there = SessionStore(pg), SessionStore(other)
    try:
        record = await make_session(here)
        async with there.subscribe(record.id, frozenset({"agent.message"})) as subscriber:
            await here.publish_delta(Delta(record.id, {"type": "event_delta", "delta": {"t": "a"}}), "agent.message")
            await here.publish_delta(Delta(record.id, {"type": "event_delta", "delta": {"t": "b"}}), "agent.tool_use")
            final = await here.emit_event(record.id, message(1))
            with anyio.fail_after(10):
                got = [await subscriber.receive.receive() for _ in range(2)]
        assert got == [Delta(record.id, {"type": "event_delta", "delta": {"t": "a"}}), final]
        assert isinstance(got[1], Event)
    finally:
        await here.aclose()
        await there.aclose()
        await other.close()


async def test_payloads_that_cannot_be_quoted_still_notify(pg: PostgresDatabase) -> None:
    """A payload containing the engine's dollar-quote tag falls back to parameters."""
    heard: list[str | None] = []
    arrived = anyio.Event()
    other = PostgresDatabase(pg.url)
    await other.open()

    def on_wake(payload: str | None) -> None:
        heard.append(payload)
        arrived.set()

    stop = other.listen("wake", on_wake)
    tricky = f"x{pg._dollar}y'\\"  # pyright: ignore[reportPrivateUsage]

    try:
        await pg.write(ring, "wake", tricky)
        with anyio.fail_after(10):
            await arrived.wait()
        assert heard == [tricky]
    finally:
        stop()
        await other.close()
