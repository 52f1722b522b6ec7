"""The ``remote`` arm of the ``sandbox`` suite: a sandbox host (``corral sandbox-host``, a child process on
loopback) reached through ``RemoteSandboxProvider``, against the in-process local provider.

It measures a cold start and ``bash true`` round trips on both, interleaved (the same machine, the same load),
and reports the remote figures and what the network hop adds at the median (the target: ≤ 1 ms for
``bash true``, within 10 ms for a cold start).

Invariants: the host child runs on a SQLite file and data dir below ``ctx.scratch`` and is stopped before the
arm returns; every sandbox started is released.
"""

from __future__ import annotations

import secrets
import statistics
import sys
from collections.abc import Awaitable, Callable

import anyio
import httpx

from corral.bench.measure import add_latency, add_value, interleave
from corral.bench.procs import BIN_PATH, Child, free_port
from corral.bench.results import Arm
from corral.bench.suite import Context
from corral.db.engines import open_database
from corral.hosts.remote import RemoteSandboxProvider
from corral.sandbox import SandboxProvider

BashTrue = Callable[[SandboxProvider, int], Awaitable[tuple[list[float], list[float]]]]


async def _start_host(ctx: Context, db_url: str, token: str) -> Child:
    port = free_port()
    data = ctx.scratch / "remote-host"
    data.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": BIN_PATH,
        "HOME": str(data),
        "LANG": "C.UTF-8",
        "CORRAL_DATA_DIR": str(data),
        "CORRAL_DATABASE_URL": db_url,
        "CORRAL_SANDBOX_HOST_TOKEN": token,
        "CORRAL_EGRESS": "0",
    }
    command = [sys.executable, "-m", "corral", "sandbox-host", "--host", "127.0.0.1", "--port", str(port)]
    host = Child(command, env, ctx.scratch / "remote-host.log")
    await host.start()
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(1200):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return host
            except httpx.HTTPError:
                pass
            await anyio.sleep(0.1)
    await host.aclose()
    raise TimeoutError("the sandbox host was not ready within 120 s")


async def measure(ctx: Context, arm: Arm, local: SandboxProvider, bash_true: BashTrue) -> None:
    db_url = f"sqlite:///{ctx.scratch / 'remote-hosts.db'}"
    token = secrets.token_hex(16)
    host = await _start_host(ctx, db_url, token)
    try:
        async with RemoteSandboxProvider(open_database(db_url), token, owns_database=True) as remote:
            await _compare(ctx, arm, local, remote, bash_true)
    finally:
        await host.aclose()


async def _compare(
    ctx: Context, arm: Arm, local: SandboxProvider, remote: SandboxProvider, bash_true: BashTrue
) -> None:
    rounds, trips = ctx.pick("sandbox.remote_rounds", 3, 20), ctx.pick("sandbox.trips", 10, 20)
    cold: dict[str, list[float]] = {"local": [], "remote": []}
    bash: dict[str, list[float]] = {"local": [], "remote": []}

    def round_of(name: str, provider: SandboxProvider) -> Callable[[], Awaitable[list[float]]]:
        async def one() -> list[float]:
            first, calls = await bash_true(provider, trips)
            cold[name].extend(first)
            bash[name].extend(calls)
            return first

        return one

    arms = {"local": round_of("local", local), "remote": round_of("remote", remote)}
    _, failed = await interleave(ctx, "sandbox · remote vs local", arms, rounds)
    if failed:
        arm.status = "failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        return
    add_latency(arm, "cold_start", "provision on a sandbox host, cold", cold["remote"])
    add_latency(arm, "bash_true", "`bash true` round trip via a sandbox host", bash["remote"])
    added = statistics.median(bash["remote"]) - statistics.median(bash["local"])
    add_value(arm, "bash_true.p50_added", "`bash true` p50, remote minus local", added * 1000, "ms")
    cold_added = statistics.median(cold["remote"]) - statistics.median(cold["local"])
    add_value(arm, "cold_start.p50_added", "cold start p50, remote minus local", cold_added * 1000, "ms")
