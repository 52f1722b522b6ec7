"""The ``sandbox`` suite: the hands, measured through ``SandboxProvider`` / ``Sandbox`` on the real local provider.

Arms: ``local`` (bubblewrap sandboxes of ``LocalSandboxProvider``): cold start (``provision`` for a session
with no warm pool), warm-pool claim (``provision`` when the environment's pool has a ready sandbox), a
``bash true`` round trip through ``Sandbox.execute``, and from the start of ``provision`` to the first command's
result, cold and from a warm pool (what a session waits for: the first command included); ``mounts``
(``sandbox_mounts``): what a session's resources add to a start; ``footprint`` (``sandbox_footprint``): memory per
idle and per active sandbox; ``remote`` (``sandbox_remote``): cold start and
``bash true`` through a sandbox host; ``egress`` (``sandbox_egress``): the egress proxy's overhead on an HTTP
request.

Invariants: every sandbox started here is released, and the provider closed, before the suite returns; a
warm claim is timed only once the pool reports a ready sandbox, so pool refills are never counted as claims.
An arm is "not measured" only when the local provider cannot start on this host (not root, no bubblewrap, no
cgroups: its own ``SandboxError`` says which) or, for ``egress``, when the host has no curl; any error after
that is a failure.
"""

from __future__ import annotations

import itertools
import time

import anyio

from corral.bench.measure import add_latency, interleave
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites import sandbox_egress, sandbox_footprint, sandbox_mounts, sandbox_remote
from corral.config import Settings
from corral.errors import SandboxError
from corral.sandbox import ProvisionSpec, Sandbox, SandboxProvider
from corral.sandbox.local.provider import LocalSandboxProvider
from corral.vocab.tools import BASH

_ids = itertools.count(1)


def _spec(environment: str, pool: int = 0) -> ProvisionSpec:
    return ProvisionSpec(session_id=f"sesn_bench{next(_ids):06d}", environment_id=environment, warm_pool_size=pool)


async def _bash_true(
    provider: SandboxProvider, calls: int, first_result: list[float] | None = None
) -> tuple[list[float], list[float]]:
    """One cold start, then ``calls`` round trips of ``bash true`` in that sandbox; ``first_result`` gets the time
    from the start of ``provision`` to the first command's result (the first command included)."""
    started = time.perf_counter()
    sandbox = await provider.provision(_spec("env_bench_cold"))
    cold = [time.perf_counter() - started]
    trips: list[float] = []
    try:
        for index in range(calls):
            began = time.perf_counter()
            await _true(sandbox, index)
            trips.append(time.perf_counter() - began)
            if index == 0 and first_result is not None:
                first_result.append(time.perf_counter() - started)
    finally:
        await sandbox.release()
    return cold, trips


async def _true(sandbox: Sandbox, index: int) -> None:
    result = await sandbox.execute(BASH, {"command": "true"}, f"toolu_bench{next(_ids)}_{index}")
    if result.is_error:
        raise SandboxError(f"`bash true` failed: {result.content}")


async def _warm_claim(provider: SandboxProvider, first_result: list[float]) -> list[float]:
    spec = _spec("env_bench_warm", pool=2)
    await provider.prepare(spec)
    for _ in range(6000):  # a refill takes one cold start; give it a minute
        if provider.warm_ready(spec):
            break
        await anyio.sleep(0.01)
    else:
        raise TimeoutError("the warm pool did not refill within 60 s")
    began = time.perf_counter()
    sandbox = await provider.provision(spec)
    claimed = time.perf_counter() - began
    try:
        await _true(sandbox, 0)
        first_result.append(time.perf_counter() - began)
    finally:
        await sandbox.release()
    return [claimed]


async def _measure_local(ctx: Context, arm: Arm, provider: SandboxProvider) -> None:
    starts, trips = ctx.pick("sandbox.cold", 3, 40), ctx.pick("sandbox.trips", 10, 20)
    cold: list[float] = []
    bash: list[float] = []
    first: dict[str, list[float]] = {"cold": [], "warm": []}

    async def cold_round() -> list[float]:
        started, calls = await _bash_true(provider, max(1, trips), first["cold"])
        cold.extend(started)
        bash.extend(calls)
        return started

    async def warm_round() -> list[float]:
        return await _warm_claim(provider, first["warm"])

    samples, failed = await interleave(
        ctx, "sandbox · cold start, bash true, warm claim", {"cold": cold_round, "warm": warm_round}, starts
    )
    if failed:
        arm.status = "failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        return
    add_latency(arm, "cold_start", "provision, cold (no warm pool)", cold)
    add_latency(arm, "warm_claim", "provision from a warm pool of 2", samples["warm"])
    add_latency(arm, "bash_true", "`bash true` round trip via Sandbox.execute", bash)
    label = "provision → the first command's result (`bash true`), the first command included"
    add_latency(arm, "cold_first_result", f"{label}, cold", first["cold"])
    add_latency(arm, "warm_first_result", f"{label}, from a warm pool of 2", first["warm"])


async def run(ctx: Context, result: SuiteResult) -> None:
    arm = Arm("local", "LocalSandboxProvider: bubblewrap sandbox per session, agent inside, cgroups v1, seccomp")
    result.arms.append(arm)
    await _run_local(ctx, arm, result)
    egress = Arm("egress", "an HTTP GET from a sandbox through the egress proxy (mitmproxy) vs from the host directly")
    result.arms.append(egress)
    await sandbox_egress.measure(ctx, egress)


async def _run_local(ctx: Context, arm: Arm, result: SuiteResult) -> None:
    settings = Settings(data_dir=ctx.scratch / "data", egress_enabled=False)
    try:
        provider = await LocalSandboxProvider(settings).__aenter__()
    except SandboxError as exc:
        arm.not_measured(f"the local sandbox provider cannot start here: {exc.message}")
        return
    try:
        await _measure_local(ctx, arm, provider)
        mounts = Arm("mounts", "a sandbox start with a session's resources mounted (3 files, 8 directories) vs without")
        result.arms.append(mounts)
        await sandbox_mounts.measure(ctx, mounts, provider)
        footprint = Arm("footprint", "memory per sandbox, idle and active: this process and its descendants")
        result.arms.append(footprint)
        await sandbox_footprint.measure(ctx, footprint, provider)
        remote = Arm("remote", "a sandbox host (`corral sandbox-host` on loopback) via the remote provider vs local")
        result.arms.append(remote)
        await sandbox_remote.measure(ctx, remote, provider, _bash_true)
    finally:
        await provider.aclose()


SUITE = Suite(
    "sandbox",
    "root, bubblewrap, cgroup v1 (the local provider); the egress proxy",
    run,
)
