"""A harness worker that crashes on cue: ``python -m tests.harness.crash_worker POINT kill|stop``.

It composes what ``corral worker`` composes (store on ``CORRAL_DATABASE_URL``, the sandbox provider on
``CORRAL_DATA_DIR``, a ``Runtime``) and adds a hook: when a turn reaches ``POINT`` (see
``corral.harness.Hook``), the process sends itself SIGKILL (``kill``: a crash, nothing flushed) or
SIGSTOP (``stop``: a pause; the test sends SIGCONT later). Prints ``ready`` on stderr once it works.
"""

from __future__ import annotations

import os
import signal
import sys

import anyio

from corral.config import load_settings
from corral.db.engines import open_database
from corral.harness import Runtime
from corral.sandbox.registry import create_provider
from corral.session import SessionStore


async def main(point: str, action: str) -> None:
    settings = load_settings().with_overrides(workers=1)
    db = open_database(settings.resolved_database_url)
    await db.open()
    store = SessionStore(db)
    fired = False

    async def hook(reached: str, session_id: str) -> None:
        nonlocal fired
        if reached == point and not fired:
            fired = True
            os.kill(os.getpid(), signal.SIGKILL if action == "kill" else signal.SIGSTOP)

    try:
        async with create_provider(settings) as sandbox:
            async with Runtime(store, settings, sandbox=sandbox, hook=hook, poll_interval=0.2).running():
                print("corral: crash worker ready", file=sys.stderr, flush=True)
                await anyio.sleep_forever()
    finally:
        await store.aclose()
        await db.close()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
