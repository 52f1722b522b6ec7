"""The ``credentials`` suite: what corral adds to the requests that carry a session's credentials.

Arms: ``mcp`` (``mcp_calls``): an MCP tool call through ``McpTools`` vs the same call with the ``mcp`` SDK on an
open session; ``injection`` (``injection``): an HTTPS request from a sandbox through the egress proxy with a
credential for the host (TLS intercepted, header injected) vs without one (TLS passed through).

Invariants: every server, proxy, sandbox and database an arm starts is stopped before the arm returns. An arm is
"not measured" only when it needs something from outside corral this host lacks (see each arm); any other error
fails it.
"""

from __future__ import annotations

from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites.credentials import injection, mcp_calls


async def run(ctx: Context, result: SuiteResult) -> None:
    mcp = Arm("mcp", "an MCP tool call through McpTools vs the same call with the mcp SDK on an open session")
    result.arms.append(mcp)
    await mcp_calls.measure(ctx, mcp)
    inject = Arm("injection", "an HTTPS request from a sandbox through the egress proxy with vs without injection")
    result.arms.append(inject)
    await injection.measure(ctx, inject)


SUITE = Suite(
    "credentials",
    "a loopback MCP server (corral.testing); root, bubblewrap, curl and the egress proxy (injection)",
    run,
)
