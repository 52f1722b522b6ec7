"""The ``ttft`` suite: time to first token with the sandbox provisioned eagerly (coupled), lazily,
speculatively, or from a warm pool (coupled, lazy or speculative), on the same random draws (common random numbers),
over many seeds, at real time.

Everything is real: corral's harness (``Runtime``, a worker pool) on a SQLite session log, a scripted model
server process with a seeded latency model, the local bubblewrap sandbox provider. A synthetic, heavy-tailed
start time is added to cold provisions (like remote container providers); arrivals are open-loop Poisson; a
share of sessions never needs a sandbox. TTFT is measured from the persisted ``user.message`` to the harness's
first model token (its ``first_token`` hook point); the API-level path is the ``api`` suite's business.

Invariants: each seed is one block of sessions that every arm runs (order rotating by seed), so ratios pair
sessions within a seed; the headline ratios are medians over seeds, with the seeds' spread. The sensitivity table
runs the headline's two arms again under other start-time distributions (same seeds, same arrivals and model
latencies), beside the ratio those distributions predict with no corral in them. No time is ever scaled.

Needs: ``corral.harness.Runtime``, ``corral.testing`` (scripted model server), ``corral.sandbox.local``.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import asdict, replace

from corral.bench.procs import ModelServer
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites.ttft import report
from corral.bench.suites.ttft.arms import ARMS, SENSITIVITY_ARMS, ArmSpec, run_block, settings
from corral.bench.suites.ttft.draws import ASSUMED, VARIANTS, Params, draw
from corral.bench.suites.ttft.report import SeedRun
from corral.bench.suites.ttft.world import SyntheticStart, script
from corral.config import Settings
from corral.db.engines import open_database
from corral.errors import SandboxError
from corral.sandbox.local.provider import LocalSandboxProvider
from corral.session import SessionStore


def params_for(ctx: Context) -> Params:
    base = Params() if not ctx.quick else Params(sessions=10, warm_pool_size=2)
    return replace(base, **ctx.overrides.get("ttft.params", {}))


async def run(ctx: Context, result: SuiteResult) -> None:
    params = params_for(ctx)
    seeds = ctx.pick("ttft.seeds", 3, 20)
    sensitivity_seeds = ctx.pick("ttft.sensitivity_seeds", 1, 5)
    variants: list[str] = ctx.pick("ttft.variants", ["starts-x0.5", "starts-x2"], list(VARIANTS))
    result.params.update(asdict(params))
    result.params.update({"seeds": seeds, "sensitivity_seeds": sensitivity_seeds, "variants": variants})
    result.arms.extend(Arm(a.name, a.description) for a in ARMS)
    runs: list[SeedRun] = []
    async with AsyncExitStack() as stack:
        world = await _world(ctx, result, stack, params)
        if world is None:
            return
        store, provider, base = world
        plan = [(ASSUMED, params, ARMS, k) for k in range(seeds)]
        sensitive = tuple(a for a in ARMS if a.name in SENSITIVITY_ARMS)
        plan += [(v, VARIANTS[v](params), sensitive, k) for v in variants for k in range(sensitivity_seeds)]
        tick = ctx.progress.task("ttft · seeds × arms", sum(len(arms) for _, _, arms, _ in plan))
        for variant, varied, arms, k in plan:
            run_ = SeedRun(variant, ctx.seed + k, draw(varied, ctx.seed + k))
            for arm in arms[k % len(arms) :] + arms[: k % len(arms)]:
                await _one(result, store, provider, arm, run_, replace(base, sandbox_mode=arm.mode), varied)
                tick(1)
            runs.append(run_)
    report.record(result, params, runs)


async def _one(
    result: SuiteResult,
    store: SessionStore,
    provider: SyntheticStart,
    arm: ArmSpec,
    run_: SeedRun,
    base: Settings,
    params: Params,
) -> None:
    found = result.arm(arm.name)
    if found is None or not found.ok:
        return
    before = (provider.provisions, provider.cold, provider.sandbox_seconds)
    try:
        pool = params.warm_pool_size if arm.pooled else 0
        run_.outcomes[arm.name] = await run_block(store, provider, arm, run_.draws, base, pool)
    except Exception as exc:  # an arm's failure is a result
        found.status = f"failed: {type(exc).__name__}: {exc}"[:300]
    after = (provider.provisions, provider.cold, provider.sandbox_seconds)
    run_.costs[arm.name] = [a - b for a, b in zip(after, before, strict=True)]


async def _world(
    ctx: Context, result: SuiteResult, stack: AsyncExitStack, params: Params
) -> tuple[SessionStore, SyntheticStart, Settings] | None:
    db = open_database(f"sqlite:///{ctx.scratch / 'ttft.db'}")
    await db.open()
    stack.push_async_callback(db.close)
    store = SessionStore(db)
    stack.push_async_callback(store.aclose)
    model = ModelServer(script(params, ctx.seed), ctx.scratch)
    stack.push_async_callback(model.aclose)
    await model.start()
    base = settings(ctx.scratch / "data", model.url, "lazy")
    try:
        local = await LocalSandboxProvider(base).__aenter__()
    except SandboxError as exc:
        for arm in result.arms:
            arm.not_measured(f"the local sandbox provider cannot start here: {exc.message}")
        return None
    stack.push_async_callback(local.aclose)
    return store, SyntheticStart(local), base


SUITE = Suite(
    "ttft",
    "corral.harness Runtime; corral.testing scripted model server; the local sandbox provider",
    run,
)
