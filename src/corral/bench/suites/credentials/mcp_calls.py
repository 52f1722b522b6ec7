"""The ``mcp`` arm of the ``credentials`` suite: what ``McpTools`` adds to an MCP tool call beyond the server's time.

Both paths call ``echo`` on the same loopback ``ScriptedMcpServer`` (with a bearer token; in a child process: bench
code never imports the test doubles, and the server does not share this process's interpreter): through
``McpTools`` as a worker makes it (the session's token looked up, the exactly-once journal in a SQLite database,
the result redacted), on its kept connection after the turn's listing; and directly with the ``mcp`` SDK on a
session that is already open and has listed the tools. Overhead = p50 of the first minus p50 of the second.

Invariants: the server, the SDK session, ``McpTools`` and the database are closed before the arm returns; a call
that does not answer ``echo: …`` fails the arm.
"""

from __future__ import annotations

import itertools
import secrets
import sys
import time
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from corral.bench import stats
from corral.bench.measure import add_latency, add_value, interleave
from corral.bench.procs import Child
from corral.bench.results import Arm, Metric
from corral.bench.suite import Context
from corral.db.engines import open_database
from corral.egress.addresses import AddressGuard, PrivateAllowance
from corral.egress.mcp import McpTools, StaticBearers
from corral.harness import McpServer, SessionScope, ToolCall
from corral.session import NewSession, SessionStore

WORKSPACE = "wrkspc_benchmcp"
_ids = itertools.count(1)
#: the server double in a child: prints its URL, serves until SIGTERM
_SERVER = """
import signal, sys
from corral.testing.mcp import ScriptedMcpServer
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
with ScriptedMcpServer(token=sys.argv[1]) as server:
    print(server.url, flush=True)
    signal.sigwait({signal.SIGTERM})
"""


@asynccontextmanager
async def _server(ctx: Context, token: str) -> AsyncGenerator[str]:
    child = Child([sys.executable, "-c", _SERVER, token], log=ctx.scratch / "mcp-server.log")
    try:
        await child.start()
        with anyio.fail_after(60):
            url = await child.line()
        yield url
    finally:
        await child.aclose()


@asynccontextmanager
async def _direct(url: str, token: str) -> AsyncGenerator[Client]:
    """An SDK session to ``url``, open and having listed the tools."""
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, trust_env=False, timeout=60)
    async with http, Client(streamable_http_client(url, http_client=http), cache=None) as client:
        await client.list_tools()
        yield client


def _expect(text: object) -> None:
    if not (isinstance(text, str) and text.startswith("echo: ")):
        raise RuntimeError(f"echo answered {text!r}")


async def measure(ctx: Context, arm: Arm) -> None:
    rounds, per_round = ctx.pick("credentials.mcp_rounds", 10, 100), ctx.pick("credentials.mcp_calls", 5, 10)
    token = "bench-token-" + secrets.token_hex(12)
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(_server(ctx, token))
        db = open_database(f"sqlite:///{ctx.scratch / 'mcp.db'}")
        await db.open()
        stack.push_async_callback(db.close)
        store = SessionStore(db)
        stack.push_async_callback(store.aclose)
        record, _ = await store.create_session(NewSession(WORKSPACE, "agent_benchmcp", 1, "env_benchmcp", {}, []))
        scope = SessionScope(record.id, WORKSPACE, ())
        ref = McpServer("bench", url)
        guard = AddressGuard(allowance=PrivateAllowance.parse(["127.0.0.1"]))
        tools = await stack.enter_async_context(McpTools(db, guard, StaticBearers({url: token}), timeout=60))
        await tools.list_tools(scope, ref)  # the turn's listing, once
        direct = await stack.enter_async_context(_direct(url, token))

        async def through_tools() -> list[float]:
            times: list[float] = []
            for _ in range(per_round):
                call = ToolCall(scope.session_id, f"sevt_bench{next(_ids):08d}", "echo", {"text": "hi"}, {})
                began = time.perf_counter()
                result = await tools.call_tool(scope, ref, call)
                times.append(time.perf_counter() - began)
                _expect(result.content[0].get("text"))
            return times

        async def sdk() -> list[float]:
            times: list[float] = []
            for _ in range(per_round):
                began = time.perf_counter()
                result = await direct.call_tool("echo", {"text": "hi"})
                times.append(time.perf_counter() - began)
                _expect(getattr(result.content[0], "text", None))
            return times

        samples, failed = await interleave(ctx, "credentials · MCP calls", {"tools": through_tools, "sdk": sdk}, rounds)
    if failed:
        arm.status = "failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        return
    label = "echo through McpTools (journal, token, redaction; kept connection)"
    add_latency(arm, "mcp_tools", label, samples["tools"])
    add_latency(arm, "sdk", "echo with the mcp SDK on an open session", samples["sdk"])
    overhead = stats.difference_ci([s * 1000 for s in samples["tools"]], [s * 1000 for s in samples["sdk"]])
    arm.add(Metric.of("overhead.p50", "McpTools overhead per call (difference of medians)", overhead, "ms"))
    add_value(arm, "calls", "calls per path", float(len(samples["sdk"])), "")
