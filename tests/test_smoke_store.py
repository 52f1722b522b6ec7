"""A first end-to-end check of the session log on both engines (the full contract suite lives in tests/contract)."""

from __future__ import annotations

import anyio
import pytest

from corral.db import Database
from corral.session import NewEvent, NewSession, SessionStore

pytestmark = pytest.mark.anyio


async def test_append_and_tail(database: Database) -> None:
    store = SessionStore(database)
    try:
        record, _ = await store.create_session(NewSession("wrkspc_a", "agent_a", 1, "env_a", {"title": "t"}))
        async with store.subscribe(record.id) as subscriber:
            first = await store.emit_event(record.id, NewEvent("session.status_running"))
            with anyio.fail_after(5):
                got = await subscriber.receive.receive()
        assert got == first
        assert first.seq == 1
        assert [e.seq for e in await store.get_events(record.id)] == [1]
        assert (await store.get_session(record.id)).status == "running"
    finally:
        await store.aclose()
