"""No storage call blocks the event loop: the whole store workload runs under blockbuster, which fails any
blocking call (file and socket I/O, sqlite3, sleeps…) made on the event loop's thread.

One exception, in asyncpg: when it opens a connection it parses its settings, which looks for files
(``~/.pgpass``, client certificates under ``~/.postgresql``). That happens only when a connection is opened,
never per query.
"""

from __future__ import annotations

import anyio
import pytest
from blockbuster import blockbuster_ctx

from corral.db.engines import open_database
from corral.session import SessionStore

from .helpers import WORKSPACE, message, new_session, runnable_session

pytestmark = pytest.mark.anyio


async def test_the_store_never_blocks_the_event_loop(db_url: str) -> None:
    with blockbuster_ctx("corral") as blockbuster:
        for function in blockbuster.functions.values():
            function.can_block_in("asyncpg/connect_utils.py", "_parse_connect_dsn_and_args")
        db = open_database(db_url)
        await db.open()
        store = SessionStore(db)
        try:
            record, _ = await store.create_session(new_session())
            async with store.subscribe(record.id) as subscriber:
                written = [await store.emit_event(record.id, message(n)) for n in range(3)]
                written += await store.emit_events(record.id, [message(n) for n in range(3, 6)])
                with anyio.fail_after(10):
                    assert [await subscriber.receive.receive() for _ in written] == written
            assert await store.get_events(record.id, 2, 4) == written[1:3]
            await store.update_session(record.id, WORKSPACE, {"title": "x"})
            runnable = await runnable_session(store)
            (fence,) = await store.claim("w", 30)
            await store.renew(fence, 30)
            assert await store.release(fence, (await store.get_session(runnable.id)).last_seq)
            await store.delete_session(record.id, WORKSPACE)
        finally:
            await store.aclose()
            await db.close()
