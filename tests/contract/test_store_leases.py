"""Leases: claim with fencing tokens, non-overlapping claims across processes, renew, release, expiry and
fencing (a worker whose lease was taken over never writes again, even after being paused)."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest

from corral.db import Database
from corral.errors import LeaseLost
from corral.session import Fence, NewEvent, SessionStore

from .helpers import WORKSPACE, Heard, make_session, message, runnable_session, until_clock_passes, until_passed
from .procs import Child, child, children

pytestmark = pytest.mark.anyio

USER = NewEvent("user.message", {"content": [{"type": "text", "text": "more"}]})


async def test_claim_gives_each_runnable_session_once_with_a_new_token(store: SessionStore) -> None:
    sessions = {(await runnable_session(store)).id for _ in range(5)}
    idle = await make_session(store)
    fences = await store.claim("worker-a", 30, limit=3)
    fences += await store.claim("worker-b", 30, limit=10)
    assert sorted(f.session_id for f in fences) == sorted(sessions)
    assert idle.id not in {f.session_id for f in fences}
    assert all(f.token == 1 for f in fences)
    assert {f.owner for f in fences[:3]} == {"worker-a"} and {f.owner for f in fences[3:]} == {"worker-b"}
    assert await store.claim("worker-c", 30) == []
    record = await store.get_session(fences[0].session_id)
    assert (record.lease_owner, record.lease_token) == ("worker-a", 1) and record.lease_expires is not None


async def test_claim_one(store: SessionStore) -> None:
    record = await runnable_session(store)
    fence = await store.claim_one(record.id, "a", 30)
    assert fence == Fence(record.id, "a", 1)
    assert await store.claim_one(record.id, "b", 30) is None
    assert await store.claim_one((await make_session(store)).id, "b", 30) is None  # not runnable


async def test_fenced_writes_succeed_while_the_lease_is_held(store: SessionStore) -> None:
    record = await runnable_session(store)
    fence = await store.claim_one(record.id, "a", 30)
    assert fence is not None
    event = await store.emit_event(record.id, message(1), fence=fence)
    assert await store.mark_processed(record.id, [event.id], fence=fence) == 0
    await store.renew(fence, 30)
    assert await store.release(fence, event.seq) is True


async def test_expired_lease_can_be_taken_and_the_old_fence_is_dead(store: SessionStore) -> None:
    record = await runnable_session(store)
    old = await store.claim_one(record.id, "a", 1.0)
    assert old is not None
    assert await store.claim("b", 30) == []
    await until_passed(store, record.id, "lease_expires")
    with pytest.raises(LeaseLost):
        await store.emit_event(record.id, message(1), fence=old)  # expired, even before anyone took it
    with pytest.raises(LeaseLost):
        await store.renew(old, 30)
    (new,) = await store.claim("b", 30)
    assert new == Fence(record.id, "b", old.token + 1)
    before = (await store.get_session(record.id)).last_seq
    with pytest.raises(LeaseLost):
        await store.emit_events(record.id, [message(2), message(3)], fence=old)
    with pytest.raises(LeaseLost):
        await store.mark_processed(record.id, [], fence=old)
    assert await store.release(old, before) is False
    assert (await store.get_session(record.id)).last_seq == before
    await store.emit_event(record.id, message(4), fence=new)
    assert [e.data().get("n") for e in await store.get_events(record.id, before + 1)] == [4]


async def test_renew_extends_the_lease(store: SessionStore) -> None:
    """Renewed before its end, a lease outlives the end it was claimed with."""
    record = await runnable_session(store)
    fence = await store.claim_one(record.id, "a", 1.0)
    assert fence is not None
    claimed = await store.get_session(record.id)
    await store.renew(fence, 30)
    renewed = await store.get_session(record.id)
    assert claimed.lease_expires is not None and renewed.lease_expires is not None
    assert renewed.lease_expires > claimed.lease_expires
    await until_clock_passes(store, claimed.lease_expires)
    await store.emit_event(record.id, message(1), fence=fence)
    assert await store.claim("b", 30) == []


async def test_release_keeps_the_session_runnable_only_if_something_is_new(store: SessionStore) -> None:
    record = await runnable_session(store)
    fence = await store.claim_one(record.id, "a", 30)
    assert fence is not None
    seen = (await store.get_session(record.id)).last_seq
    assert await store.release(fence, seen) is True
    released = await store.get_session(record.id)
    assert not released.runnable and released.lease_owner is None
    assert await store.claim("b", 30) == []

    await store.emit_event(record.id, USER)
    fence = await store.claim_one(record.id, "a", 30)
    assert fence is not None and fence.token == 2
    seen = (await store.get_session(record.id)).last_seq
    await store.emit_event(record.id, USER)  # arrives while the worker runs the turn
    assert await store.release(fence, seen) is True
    assert (await store.get_session(record.id)).runnable
    (again,) = await store.claim("b", 30)
    assert again.token == 3


async def test_release_for_a_retry_later(store: SessionStore) -> None:
    record = await runnable_session(store)
    fence = await store.claim_one(record.id, "a", 30)
    assert fence is not None
    seen = (await store.get_session(record.id)).last_seq
    assert await store.release(fence, seen, runnable=True, retry_in=1.0) is True
    assert await store.claim("b", 30) == []
    await until_passed(store, record.id, "wake_at")
    (retry,) = await store.claim("b", 30)
    assert retry.session_id == record.id


async def test_archive_and_delete_end_leases(store: SessionStore) -> None:
    archived = await runnable_session(store)
    deleted = await runnable_session(store)
    fences = {f.session_id: f for f in await store.claim("a", 30)}
    await store.archive_session(archived.id, WORKSPACE)
    await store.delete_session(deleted.id, WORKSPACE)
    for session_id in (archived.id, deleted.id):
        with pytest.raises(LeaseLost):
            await store.emit_event(session_id, message(1), fence=fences[session_id])
        with pytest.raises(LeaseLost):
            await store.renew(fences[session_id], 30)


async def test_wake_is_rung_when_a_session_becomes_runnable(store: SessionStore, database: Database) -> None:
    # A doorbell without a payload ("look for yourself") may ring at any time, e.g. at the SQLite writer's
    # first look for other processes' commits; only the named wake-ups are this test's business. This
    # process's listeners hear of a commit before the write returns, so nothing can arrive late.
    rung = Heard(keep=lambda payload: payload is not None)
    stop = database.listen("wake", rung)
    try:
        record = await make_session(store)
        await store.emit_event(record.id, message(1))
        assert rung.payloads == []
        await store.emit_event(record.id, USER)
        await store.emit_event(record.id, USER)  # already runnable: no second wake-up
        assert rung.payloads == [record.id]
        fence = await store.claim_one(record.id, "a", 30)
        assert fence is not None
        await store.emit_event(record.id, USER)  # arrives while leased
        await store.release(fence, 1)
        assert rung.payloads == [record.id, record.id]
    finally:
        stop()


async def test_claiming_processes_never_overlap(store: SessionStore, db_url: str, tmp_path: Path) -> None:
    """Three processes and this one claim from the same 60 runnable sessions at once."""
    sessions = {(await runnable_session(store)).id for _ in range(60)}
    claims: list[tuple[str, str]] = []
    owners = [f"child-{i}" for i in range(3)]
    argvs = [["claim", db_url, "--owner", owner, "--limit", "2", "--ttl", "60"] for owner in owners]

    async def collect(proc: Child, owner: str) -> None:
        claims.extend((owner, line.split()[1]) for line in await proc.lines())
        await proc.succeed()

    async def claim_here() -> None:
        while fences := await store.claim("parent", 60, limit=2):
            claims.extend(("parent", f.session_id) for f in fences)

    async with children(tmp_path, argvs) as procs, anyio.create_task_group() as tg:
        for proc, owner in zip(procs, owners, strict=True):
            tg.start_soon(collect, proc, owner)
        tg.start_soon(claim_here)
    claimed = [session_id for _, session_id in claims]
    assert sorted(claimed) == sorted(sessions)  # every session exactly once
    for owner, session_id in claims:
        assert (await store.get_session(session_id)).lease_owner == owner


async def test_a_paused_worker_never_writes_after_a_takeover(store: SessionStore, db_url: str, tmp_path: Path) -> None:
    """SIGSTOP a process holding a fence, let its lease expire, take the session over from here, SIGCONT:
    its next write is refused (``LeaseLost``) and nothing of it lands after the takeover."""
    record = await runnable_session(store)
    args = ["hold", db_url, "--session", record.id, "--owner", "paused", "--ttl", "2"]
    async with child(tmp_path, *args) as proc:
        token = int((await proc.expect("ready"))[1])
        acked: list[list[str]] = []
        for _ in range(3):
            await proc.send("write")
            acked.append(await proc.expect("ack"))
        proc.signal(signal.SIGSTOP)  # right after an acknowledgement: between two transactions
        await until_passed(store, record.id, "lease_expires")
        fence = await store.claim_one(record.id, "successor", 30)
        assert fence is not None and fence.token == token + 1
        takeover = await store.emit_event(record.id, message(0, "successor"), fence=fence)
        await proc.send("write")  # what it will do first when it runs again
        proc.signal(signal.SIGCONT)
        rest = await proc.lines()
        await proc.succeed()
    acked += [line.split() for line in rest if line.startswith("ack")]
    assert rest[-1] == "lost"
    assert len(acked) <= 4  # (it was stopped between two writes: none was on its way)
    held = [e for e in await store.get_events(record.id) if e.data().get("tag") == "held"]
    assert [[str(e.seq), e.id] for e in held] == [fields[1:3] for fields in acked]
    assert all(e.seq < takeover.seq for e in held)
    assert (await store.get_session(record.id)).last_seq == takeover.seq
