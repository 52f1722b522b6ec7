"""The ``ttft`` suite: time to first token with the sandbox provisioned eagerly (coupled), lazily,
speculatively, or from a warm pool (coupled or lazy), on the same random draws (common random numbers).

Everything is real: corral's harness (``Runtime``, a worker pool) on a SQLite session log, a scripted model
server process with a seeded latency model, the local bubblewrap sandbox provider. A synthetic, heavy-tailed
start time is added to cold provisions (like remote container providers); arrivals are open-loop Poisson; a
share of sessions never needs a sandbox. TTFT is measured from the persisted ``user.message`` to the harness's
first model token (its ``first_token`` hook point); the API-level path is the ``api`` suite's business.

Needs: ``corral.harness.Runtime``, ``corral.testing`` (scripted model server), ``corral.sandbox.local``.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import asdict, replace

from corral.bench.procs import ModelServer
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites.ttft import report
from corral.bench.suites.ttft.arms import ARMS, ArmSpec, Outcome, run_block, settings
from corral.bench.suites.ttft.draws import Params, SessionDraw, draw
from corral.bench.suites.ttft.world import SyntheticStart, script
from corral.config import Settings
from corral.db.engines import open_database
from corral.errors import SandboxError
from corral.sandbox.local.provider import LocalSandboxProvider
from corral.session import SessionStore


def params_for(ctx: Context) -> Params:
    base = (
        Params(sessions=80)
        if not ctx.quick
        else Params(sessions=16, arrivals_per_second=8.0, time_scale=0.05, warm_pool_size=2)
    )
    return replace(base, **ctx.overrides.get("ttft.params", {}))


async def run(ctx: Context, result: SuiteResult) -> None:
    params = params_for(ctx)
    result.params.update(asdict(params))
    result.arms.extend(Arm(a.name, a.description) for a in ARMS)
    draws = draw(params, ctx.seed)
    blocks = ctx.pick("ttft.blocks", 1, 2)
    outcomes: dict[str, list[Outcome]] = {a.name: [] for a in ARMS}
    costs: dict[str, list[float]] = {a.name: [0.0, 0.0, 0.0] for a in ARMS}  # provisions, cold, sandbox-seconds
    async with AsyncExitStack() as stack:
        world = await _world(ctx, result, stack, params)
        if world is None:
            return
        store, provider, base = world
        tick = ctx.progress.task("ttft · arms × blocks", blocks * len(ARMS))
        for index in range(blocks):
            block = draws[index::blocks]
            for arm in ARMS[index % len(ARMS) :] + ARMS[: index % len(ARMS)]:
                await _one(
                    result, store, provider, arm, block, replace(base, sandbox_mode=arm.mode), params, outcomes, costs
                )
                tick(1)
    report.record(result, draws, outcomes, costs)


async def _one(
    result: SuiteResult,
    store: SessionStore,
    provider: SyntheticStart,
    arm: ArmSpec,
    block: list[SessionDraw],
    base: Settings,
    params: Params,
    outcomes: dict[str, list[Outcome]],
    costs: dict[str, list[float]],
) -> None:
    found = result.arm(arm.name)
    if found is None or not found.ok:
        return
    before = (provider.provisions, provider.cold, provider.sandbox_seconds)
    try:
        outcomes[arm.name] += await run_block(
            store, provider, arm, block, base, params.warm_pool_size if arm.pooled else 0
        )
    except Exception as exc:  # an arm's failure is a result
        found.status = f"failed: {type(exc).__name__}: {exc}"[:300]
    after = (provider.provisions, provider.cold, provider.sandbox_seconds)
    costs[arm.name] = [c + a - b for c, a, b in zip(costs[arm.name], after, before, strict=True)]


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
