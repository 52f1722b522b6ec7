"""The ``egress`` arm of the ``sandbox`` suite: what the egress proxy adds to an HTTP request from a sandbox.

Setup as in production, with one test-only exemption: a loopback "upstream" HTTP server on the host, the real
egress proxy (``EgressServer``, mitmproxy) whose safety blocklist exempts exactly that upstream
(``AddressGuard(exempt=...)``, a constructor argument no configuration reaches), and the real local sandbox
provider whose sandbox (networking ``limited`` to 127.0.0.1) reaches the proxy through its egress channel.

Measured with the same tool on both paths: curl's own ``time_total`` for a GET from inside the sandbox through
the proxy, and for the same GET from the host straight to the upstream. Overhead = the difference of medians.

Invariants: the upstream server, the proxy and the provider are stopped before the arm returns. The arm is
"not measured" only when the host has no curl or the local provider cannot start here; any later error raises.
"""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import anyio.to_thread

from corral.bench import stats
from corral.bench.measure import add_latency, add_value
from corral.bench.results import Arm, Metric
from corral.bench.suite import Context
from corral.config import Settings
from corral.egress.client import EgressClient
from corral.egress.layout import state_paths
from corral.egress.policy import AddressGuard
from corral.egress.server import EgressServer, running_egress
from corral.errors import SandboxError
from corral.sandbox import ProvisionSpec, ToolResult
from corral.sandbox.local.provider import LocalSandboxProvider
from corral.vocab.tools import BASH

_BODY = b"ok\n" * 100


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        self.wfile.write(_BODY)

    def log_message(self, format: str, *args: object) -> None:
        return


@asynccontextmanager
async def _upstream() -> AsyncGenerator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="bench-upstream", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        await anyio.to_thread.run_sync(server.shutdown)
        server.server_close()


def _curl(url: str, count: int, proxy: str | None) -> str:
    via = f"--noproxy '' -x {proxy}" if proxy else "--noproxy '*'"
    return f"for i in $(seq {count}); do curl -s -o /dev/null -m 30 {via} -w '%{{time_total}}\\n' {url}; done"


def _times(text: str) -> list[float]:
    return [float(line) for line in text.split() if line.replace(".", "", 1).isdigit()]


async def _through_proxy(provider: LocalSandboxProvider, url: str, count: int) -> ToolResult:
    spec = ProvisionSpec(
        session_id="sesn_benchegress",
        environment_id="env_bench_egress",
        networking={"type": "limited", "allowed_hosts": ["127.0.0.1"]},
    )
    sandbox = await provider.provision(spec)
    try:
        return await sandbox.execute(
            BASH, {"command": _curl(url, count, "http://127.0.0.1:3128")}, "toolu_benchegress1"
        )
    finally:
        await sandbox.release()


async def measure(ctx: Context, arm: Arm) -> None:
    if shutil.which("curl") is None:
        arm.not_measured("curl is not installed on the host")
        return
    count = ctx.pick("sandbox.egress_requests", 10, 100)
    data_dir = ctx.scratch / "egress-data"
    async with _upstream() as port:
        url = f"http://127.0.0.1:{port}/"
        server = EgressServer(*state_paths(data_dir), guard=AddressGuard(exempt=frozenset({("127.0.0.1", port)})))
        async with AsyncExitStack() as stack:  # the proxy side, closed before the direct requests
            await stack.enter_async_context(running_egress(server))
            client = EgressClient(server.control_path)
            stack.push_async_callback(client.aclose)
            try:
                provider = await stack.enter_async_context(LocalSandboxProvider(Settings(data_dir=data_dir), client))
            except SandboxError as exc:
                arm.not_measured(f"the local sandbox provider cannot start here: {exc.message}")
                return
            inside = await _through_proxy(provider, url, count)
        direct = await anyio.run_process(_curl(url, count, None), check=False)  # a POSIX shell loop
    proxied = _times("".join(str(b.get("text", "")) for b in inside.content))
    straight = _times(direct.stdout.decode())
    if inside.is_error or len(proxied) < count or len(straight) < count:
        arm.status = f"failed: curl through the proxy returned {len(proxied)} of {count} timings"
        return
    add_latency(arm, "proxied", "GET from the sandbox through the egress proxy (curl time_total)", proxied)
    add_latency(arm, "direct", "the same GET from the host, no proxy (curl time_total)", straight)
    overhead = stats.quantile(proxied, 0.5) - stats.quantile(straight, 0.5)
    arm.add(
        Metric(
            "overhead.p50", "egress proxy overhead per request (difference of medians)", overhead * 1000, "ms", n=count
        )
    )
    add_value(arm, "requests", "requests per path", float(count), "")
