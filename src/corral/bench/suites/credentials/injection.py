"""The ``injection`` arm of the ``credentials`` suite: what credential injection adds to an HTTPS request from a
sandbox (issue 17's target: p50 added < 2 ms after the first connection).

Setup as in production, with the test-only parts the egress tests use: a loopback HTTPS upstream on the host
(``upstream``: a throwaway self-signed certificate for ``localhost`` and ``127.0.0.1``); the real egress proxy
(``EgressServer``, mitmproxy) whose safety blocklist exempts exactly that upstream (``AddressGuard(exempt=...)``, a
constructor argument no configuration reaches) and which trusts its certificate on intercepted connections
(``upstream_ca``); the real local sandbox provider, whose ``EgressClient`` has the proxy's CA and a ``SecretSource``
holding one ``environment_variable`` credential (``BENCH_TOKEN``, allowed host ``localhost``, injected in headers)
for the arm's one sandbox (networking ``limited`` to ``localhost`` and ``127.0.0.1``).

Two paths from that one sandbox through the same proxy, with the same curl command line but for the URL's host and
the one certificate curl trusts (``--cacert``, a file written into the workspace, so that curl itself refuses a
path the proxy handles otherwise than intended):

* ``injected``: ``https://localhost:<port>/injected/…``, a host of the credential. The proxy terminates TLS with a
  certificate of its CA (the one curl trusts), puts the secret in place of the placeholder that curl sends in
  ``Authorization: Bearer $BENCH_TOKEN``, redacts the response and re-encrypts towards the upstream;
* ``through``: ``https://127.0.0.1:<port>/through/…``, no credential for that host: TLS passes through the proxy
  untouched (curl trusts the upstream's own certificate) and the placeholder arrives as sent.

Each round runs one curl per path (the order rotating, ``interleave``), each fetching ``requests + 1`` URLs on one
kept connection to the proxy; the sample is curl's own ``time_total`` per transfer. The first transfer of each
invocation (CONNECT, TLS handshakes) is reported apart: the target holds after the first connection. Overhead =
median of ``injected`` minus median of ``through``, with a bootstrap interval. curl speaks HTTP/1.1 (``--http1.1``),
as the upstream (``http.server``) does: offered HTTP/2 by a client, mitmproxy never multiplexes it onto an HTTP/1.1
upstream connection and opens one per request by design, which would measure an upstream without HTTP/2 rather than
the injection (an HTTP/2 upstream is reused either way). How many connections the upstream accepted per request on
each path is reported too: what the proxy does not reuse is in the figures.

Invariants: the upstream answers 200 only to the expected header (the real secret on ``injected``, the sandbox's
placeholder on ``through``), else 403; a transfer not answered 200, a later transfer that opened a connection, or
an invocation with missing timings fails the arm. The upstream, the proxy, the sandbox and the provider are stopped
before the arm returns. The arm is "not measured" only when the host has no curl or the local provider cannot start
here; any later error raises.
"""

from __future__ import annotations

import itertools
import re
import secrets
import shutil
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from corral.bench import stats
from corral.bench.measure import Call, add_latency, add_value, interleave
from corral.bench.results import Arm, Metric
from corral.bench.suite import Context
from corral.bench.suites.credentials.upstream import Upstream, serving
from corral.config import Settings
from corral.egress.client import EgressClient
from corral.egress.credentials import SessionSecret
from corral.egress.injection import PREFIX
from corral.egress.layout import CA_CERT, state_paths
from corral.egress.policy import AddressGuard
from corral.egress.server import EgressServer, running_egress
from corral.errors import SandboxError
from corral.sandbox import ProvisionSpec, Sandbox
from corral.sandbox.local.provider import LocalSandboxProvider
from corral.vocab.tools import BASH

_VARIABLE = "BENCH_TOKEN"
_SESSION = "sesn_benchinject"
_NETWORKING = {"type": "limited", "allowed_hosts": ["localhost", "127.0.0.1"]}
#: path (the URL's first segment) → (the URL's host, the one certificate curl trusts: a file in the workspace)
_PATHS = {"injected": ("localhost", "/workspace/proxy-ca.pem"), "through": ("127.0.0.1", "/workspace/upstream-ca.pem")}
_TRANSFER = re.compile(r"^(\d{3}) (\d+) (\d+(?:\.\d+)?)$", re.MULTILINE)
_MEDIAN = ((0.5, "p50"),)
_ids = itertools.count(1)


async def _provider(stack: AsyncExitStack, data_dir: Path, upstream: Upstream, secret: str) -> LocalSandboxProvider:
    """The proxy and the provider, as in ``tests/egress/test_injection.py``; ``SandboxError`` if it cannot start."""
    credential = SessionSecret("vlt_benchinject", "vcrd_benchinject", _VARIABLE, secret, ("localhost",), True, False)

    async def source(session_id: str) -> list[SessionSecret]:
        return [credential] if session_id == _SESSION else []

    trusted = data_dir / "upstream-ca.pem"
    await anyio.Path(data_dir).mkdir(parents=True, exist_ok=True)
    await anyio.Path(trusted).write_text(upstream.cert_pem)
    socket_dir, confdir = state_paths(data_dir)
    guard = AddressGuard(exempt=frozenset({("127.0.0.1", upstream.port)}))
    server = EgressServer(socket_dir, confdir, guard=guard, upstream_ca=trusted)
    await stack.enter_async_context(running_egress(server))
    client = EgressClient(server.control_path, secrets=source, ca_cert=confdir / CA_CERT)
    stack.push_async_callback(client.aclose)
    return await stack.enter_async_context(LocalSandboxProvider(Settings(data_dir=data_dir), client))


async def _bash(sandbox: Sandbox, command: str) -> str:
    result = await sandbox.execute(BASH, {"command": command}, f"toolu_benchinject{next(_ids):06d}")
    text = "".join(str(block.get("text", "")) for block in result.content)
    if result.is_error:
        raise RuntimeError(f"bash in the sandbox failed: {text[-300:]}")
    return text


async def _prepare(sandbox: Sandbox, proxy_ca: str, upstream: Upstream) -> str:
    """Write the two certificates into the workspace; the sandbox's placeholder."""
    files = "".join(
        f"cat > {path} <<'EOF'\n{pem.strip()}\nEOF\n"
        for path, pem in ((_PATHS["injected"][1], proxy_ca), (_PATHS["through"][1], upstream.cert_pem))
    )
    placeholder = (await _bash(sandbox, files + f"printenv {_VARIABLE}")).strip().splitlines()[-1]
    if not placeholder.startswith(PREFIX):
        raise RuntimeError(f"{_VARIABLE} in the sandbox is not a placeholder")
    return placeholder


def _curl(path: str, port: int, requests: int) -> str:
    host, cacert = _PATHS[path]
    return (
        f"curl -sS -m 60 --http1.1 --noproxy '' -x http://127.0.0.1:3128 --cacert {cacert}"
        f' -H "Authorization: Bearer ${_VARIABLE}" -o /dev/null'
        f" -w '%{{http_code}} %{{num_connects}} %{{time_total}}\\n' 'https://{host}:{port}/{path}/[0-{requests}]'"
    )


def _timings(path: str, text: str, requests: int) -> list[float]:
    """curl's ``time_total`` per transfer (the first one first), after the invariants."""
    found = _TRANSFER.findall(text)
    if len(found) != requests + 1:
        raise RuntimeError(f"{path}: curl gave {len(found)} of {requests + 1} timings: {text[-300:]}")
    if any(code != "200" for code, _, _ in found):
        raise RuntimeError(f"{path}: the upstream refused a request (statuses {sorted({c for c, _, _ in found})})")
    if any(connects != "0" for _, connects, _ in found[1:]):
        raise RuntimeError(f"{path}: a later transfer opened a new connection")
    return [float(seconds) for _, _, seconds in found]


@dataclass
class _Path:
    """What one path's invocations gave besides the later transfers' times."""

    firsts: list[float] = field(default_factory=lambda: list[float]())
    upstream_connections: int = 0
    transfers: int = 0


def _round(sandbox: Sandbox, upstream: Upstream, path: str, requests: int, seen: _Path) -> Call:
    """One curl invocation on ``path``: its later transfers' times (rounds run one at a time, so the upstream's
    new connections meanwhile are this invocation's)."""

    async def call() -> list[float]:
        before = len(upstream.connections)
        times = _timings(path, await _bash(sandbox, _curl(path, upstream.port, requests)), requests)
        seen.upstream_connections += len(upstream.connections) - before
        seen.transfers += len(times)
        seen.firsts.append(times[0])
        return times[1:]

    return call


_LABELS = {
    "injected": "HTTPS GET through the proxy, TLS intercepted and the secret injected",
    "through": "the same GET through the proxy, no credential for the host (TLS passed through)",
}


def _record(arm: Arm, samples: dict[str, list[float]], failed: dict[str, str], seen: dict[str, _Path]) -> None:
    if failed:
        arm.status = "failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        return
    for path, label in _LABELS.items():
        add_latency(arm, path, f"{label}, after the first transfer (curl time_total)", samples[path])
        add_latency(arm, f"{path}.first", f"{label}, first transfer (CONNECT, handshakes)", seen[path].firsts, _MEDIAN)
        ratio = seen[path].upstream_connections / seen[path].transfers
        add_value(arm, f"{path}.upstream_connections", f"{path}: upstream connections per request", ratio, "")
    overhead = stats.difference_ci([s * 1000 for s in samples["injected"]], [s * 1000 for s in samples["through"]])
    label = "injection overhead per request after the first (difference of medians)"
    arm.add(Metric.of("overhead.p50", label, overhead, "ms"))
    add_value(arm, "requests", "requests per path (after the first of each invocation)", len(samples["through"]), "")


async def measure(ctx: Context, arm: Arm) -> None:
    if shutil.which("curl") is None:
        arm.not_measured("curl is not installed on the host")
        return
    rounds = ctx.pick("credentials.injection_rounds", 10, 100)
    requests = ctx.pick("credentials.injection_requests", 20, 50)
    data_dir = ctx.scratch / "injection-data"
    secret = "bench-secret-" + secrets.token_hex(16)
    seen = {path: _Path() for path in _PATHS}
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(serving(ctx.scratch))
        try:
            provider = await _provider(stack, data_dir, upstream, secret)
        except SandboxError as exc:
            arm.not_measured(f"the local sandbox provider cannot start here: {exc.message}")
            return
        sandbox = await provider.provision(ProvisionSpec(_SESSION, "env_benchinject", _NETWORKING))
        stack.push_async_callback(sandbox.release)
        proxy_ca = await anyio.Path(state_paths(data_dir)[1] / CA_CERT).read_text()
        placeholder = await _prepare(sandbox, proxy_ca, upstream)
        upstream.expected.update(injected=f"Bearer {secret}", through=f"Bearer {placeholder}")

        calls = {path: _round(sandbox, upstream, path, requests, seen[path]) for path in _PATHS}
        samples, failed = await interleave(ctx, "credentials · injection", calls, rounds)
    _record(arm, samples, failed, seen)
