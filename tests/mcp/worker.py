"""A harness worker for the MCP tests: ``python -m tests.mcp.worker``.

It composes what ``corral worker`` composes (store on ``CORRAL_DATABASE_URL``, server-side tools, the MCP client
of ``corral.compose.workers.mcp_tools``), except where MCP tokens come from: ``MCP_TEST_TOKENS``, a JSON object
``{server_url: token}``, stands in for the session's vaults (``corral.vault`` is not wired yet). No sandbox
provider: the agents of these tests have no sandbox tools. Prints ``ready`` on stderr once it works; SIGTERM
stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import anyio

from corral.compose.workers import mcp_tools, server_tools
from corral.config import load_settings
from corral.db.engines import open_database
from corral.egress.mcp import StaticBearers
from corral.harness import Runtime
from corral.session import SessionStore


async def main() -> None:
    settings = load_settings().with_overrides(workers=1)
    tokens: dict[str, str] = json.loads(os.environ.get("MCP_TEST_TOKENS") or "{}")
    db = open_database(settings.resolved_database_url)
    await db.open()
    store = SessionStore(db)
    try:
        async with mcp_tools(settings, store, StaticBearers(tokens)) as mcp:
            await serve(Runtime(store, settings, executors=server_tools(settings), mcp=mcp, poll_interval=0.2))
    finally:
        await store.aclose()
        await db.close()


async def serve(runtime: Runtime) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with runtime.running():
            print("corral: MCP test worker ready", file=sys.stderr, flush=True)
            async for _ in signals:  # SIGTERM hands the sessions in flight over, as `corral worker` does
                break


if __name__ == "__main__":
    anyio.run(main)
