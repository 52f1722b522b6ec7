"""``python -m corral.bench.append_probe URL SYNCHRONOUS N SEED``: append ``N`` workload events to a fresh session
through ``SessionStore.emit_event``, one at a time, as the ``log`` suite's ``emit`` phase does, and exit. The ``log``
suite runs it under strace to count the sync calls of one append (``corral.bench.suites.log.fsyncs``); nothing here is
timed. It imports no more than an append needs, so that the probe's start stays short.
"""

from __future__ import annotations

import sys

import anyio

from corral.bench.events import new_event
from corral.bench.workload import steps
from corral.db.engines import open_database
from corral.session import NewSession, SessionStore


async def append(url: str, synchronous: str, n: int, seed: int) -> None:
    db = open_database(url, sqlite_synchronous=synchronous)
    await db.open()
    store = SessionStore(db)
    try:
        record, _ = await store.create_session(NewSession("wrkspc_bench", "agent_bench", 1, "env_bench", {}))
        for step in steps(seed, n):
            await store.emit_event(record.id, new_event(step))
    finally:
        await store.aclose()
        await db.close()


def main() -> None:
    url, synchronous, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    anyio.run(append, url, synchronous, n, seed)


if __name__ == "__main__":
    main()
