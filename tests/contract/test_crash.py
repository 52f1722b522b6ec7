"""kill -9 durability: nothing acknowledged is ever lost.

A child process appends as fast as it can (four concurrent writers, so both engines commit in groups: SQLite's
writer thread, PostgreSQL's ``write_grouped``)
and prints each event's position and id the moment ``emit_event`` returned. We ``kill -9`` it at a random
moment, reopen the database with a fresh engine, and check that every acknowledged event is there, intact,
and that the positions are still dense. Three rounds on one session: each new writer continues the log the
killed one left behind.

Why this holds: an acknowledgement is sent only after COMMIT returned. On SQLite in WAL mode with
``synchronous=NORMAL`` a committed transaction is in the WAL file (in the OS page cache) when COMMIT
returns, so it survives the death of the process, though not necessarily a power cut (that needs
``synchronous=FULL``). On PostgreSQL the server holds the commit; killing the client rolls back only the
transaction it had open, which was never acknowledged. (The test server runs with ``fsync=off``: that
concerns crashes of the server, not of its clients.)
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

import anyio
import pytest

from corral.db.engines import open_database
from corral.session import SessionStore

from .helpers import make_session
from .procs import child

pytestmark = pytest.mark.anyio


async def kill_while_appending(db_url: str, session_id: str, tmp_path: Path, rng: random.Random) -> list[list[str]]:
    """Start a writer, kill -9 it after a random number of acknowledgements plus a random delay."""
    args = ["append", db_url, "--session", session_id, "--count", "1000000", "--tasks", "4", "--tag", "crash"]
    async with child(tmp_path, *args) as proc:
        acks = [(await proc.expect("ack"))[1:] for _ in range(rng.randint(1, 150))]
        await anyio.sleep(rng.uniform(0, 0.2))
        proc.signal(signal.SIGKILL)
        # whatever reached the pipe before the kill was acknowledged too
        acks += [line.split()[1:] for line in await proc.lines() if line.startswith("ack")]
        assert await proc.wait() == -signal.SIGKILL
    return acks


async def test_acknowledged_events_survive_kill_9(db_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    db = open_database(db_url)
    await db.open()
    try:
        session_id = (await make_session(SessionStore(db))).id
    finally:
        await db.close()
    acknowledged: dict[int, tuple[str, str]] = {}
    for _ in range(3):
        for seq, event_id, n in await kill_while_appending(db_url, session_id, tmp_path, rng):
            assert int(seq) not in acknowledged, f"seed {seed}"
            acknowledged[int(seq)] = (event_id, n)
        db = open_database(db_url)
        await db.open()
        try:
            store = SessionStore(db)
            events = await store.get_events(session_id)
            record = await store.get_session(session_id)
        finally:
            await db.close()
        assert [e.seq for e in events] == list(range(1, len(events) + 1)), f"seed {seed}"
        assert record.last_seq == len(events), f"seed {seed}"
        stored = {e.seq: e for e in events}
        for seq, (event_id, n) in acknowledged.items():
            event = stored.get(seq)
            assert event is not None, f"acknowledged event {seq} lost (seed {seed})"
            assert (event.id, event.data()) == (event_id, {"tag": "crash", "n": int(n)}), f"seed {seed}"
