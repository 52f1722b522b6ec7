"""The ``api`` suite: platform overhead measured at an HTTP/SSE client of a live ``corral serve``.

Arms: ``overhead@N`` (time from sending the ``user.message`` to the first model token at the SSE client, minus
the scripted model's fixed time to first token, with N sessions running turns back to back: a closed loop),
``open@N`` (the same overhead with turns arriving on a seeded Poisson schedule over N sessions, measured from each
turn's scheduled arrival: an open loop, see ``open_loop``), ``sse-fanout`` (lag to
200 subscribers of one session), ``http-throughput`` (stored events per second, live previews counted apart as
frames per second, delivered with 50 sessions running turns back to back), ``http-ingest`` (``events.send`` by 50
concurrent clients against a bare Starlette floor at the same concurrency, same client), ``memory`` (RSS of ``corral
serve`` per idle and per active session).

Needs: ``corral serve`` with harness workers (``corral.compose.workers``), the scripted model server. The server
runs on SQLite in the run's scratch directory, with one worker, no sandbox tools (the agent answers in text).
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from corral.bench.procs import CorralServe, ModelServer, corral_env, rss_kib
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites.api import phases
from corral.bench.suites.api.client import client, new_session, setup_agent
from corral.bench.suites.api.floor import FloorServer, ingestion, round_trips
from corral.bench.suites.api.open_loop import open_loop

#: the model's time to first token while clients ingest: each session's turn starts and waits on the model, so the
#: figure is ingestion beside running turns, not turn work (``http-throughput`` measures that)
INGEST_MODEL_TTFT = 60.0


async def run(ctx: Context, result: SuiteResult) -> None:
    levels = ctx.pick("api.sessions", [1, 5], [1, 50, 500])
    turns = ctx.pick("api.turns", 2, 4)
    fan, through, idle = (
        ctx.pick("api.subscribers", 10, 200),
        ctx.pick("api.throughput_sessions", 5, 50),
        ctx.pick("api.idle", 200, 10_000),
    )
    result.params.update(
        {
            "sessions": levels,
            "turns": turns,
            "subscribers": fan,
            "throughput_sessions": through,
            "idle_sessions": idle,
            "model_ttft_seconds": phases.MODEL_TTFT,
            "engine": "sqlite",
        }
    )
    # one session alone needs more turns for a distribution (its p99 is judged)
    turns_at = {n: ctx.pick("api.single_turns", 20, 200) if n == 1 else turns for n in levels}
    open_sessions, open_rate = ctx.pick("api.open_sessions", 5, 50), ctx.pick("api.open_rate", 5.0, 25.0)
    open_turns = ctx.pick("api.open_turns", 20, 750)
    result.params.update({"open_sessions": open_sessions, "open_rate": open_rate, "open_turns": open_turns})
    levels_arms = [Arm(f"overhead@{n}", f"{n} session(s) at once, {turns_at[n]} turns each") for n in levels]
    floor_arm = Arm(
        "http-floor", "one request at a time: a bare uvicorn + Starlette route beside corral's, same client"
    )
    open_arm = Arm(
        f"open@{open_sessions}",
        f"{open_turns} turns arriving at {open_rate:g}/s (seeded Poisson) over {open_sessions} sessions",
    )
    fan_arm = Arm("sse-fanout", f"{fan} SSE subscribers on one session")
    through_arm = Arm("http-throughput", f"{through} sessions")
    memory_arm = Arm("memory", "RSS of the corral serve process")
    ingest = ctx.pick("api.ingest_clients", 50, 50)
    ingest_arm = Arm(
        "http-ingest",
        f"events.send by {ingest} concurrent clients (one session each; their turns wait on a model with a"
        f" {INGEST_MODEL_TTFT:g} s time to first token) vs a bare uvicorn + Starlette route, same client and"
        " concurrency",
    )
    arms = [*levels_arms, open_arm, floor_arm, fan_arm, through_arm, ingest_arm, memory_arm]
    result.arms.extend(arms)
    async with AsyncExitStack() as stack:
        model = ModelServer(phases.model_script(phases.MODEL_TTFT), ctx.scratch)
        stack.push_async_callback(model.aclose)
        await model.start()
        # the idle-memory phase holds 10,000 sessions beside the others: past the default per-workspace quota
        env = corral_env(ctx.scratch / "serve", model.url, CORRAL_WORKERS="1", CORRAL_MAX_SESSIONS_PER_WORKSPACE="0")
        serve = CorralServe(env, ctx.scratch / "serve.log")
        stack.push_async_callback(serve.aclose)
        await serve.start()
        http = await stack.enter_async_context(client(serve.url, serve.key, 2 * max(levels + [fan, through]) + 50))
        ids = await setup_agent(http, "bench")
        tick = ctx.progress.task("api · floor, overhead, fan-out, throughput, ingestion, memory", len(levels) + 6)
        floor = FloorServer()
        stack.push_async_callback(floor.aclose)
        await floor.start()
        floor_session = await new_session(http, *ids)
        await round_trips(http, floor.url, floor_session, floor_arm, ctx.pick("api.round_trips", 30, 300))
        tick(1)
        baseline = await phases.idle_memory(http, ids, memory_arm, serve, idle)
        tick(1)
        peak = 0
        for arm, n in zip(levels_arms, levels, strict=True):
            peak = max(peak, await phases.overhead(http, ids, arm, n, turns_at[n], serve))
            tick(1)
        phases.active_memory(memory_arm, baseline, peak, max(levels))
        await open_loop(http, ids, open_arm, open_sessions, open_rate, open_turns, ctx.seed)
        tick(1)
        await phases.fanout(http, ids, fan_arm, fan, 3)
        tick(1)
        await model.set_script(phases.model_script(0.0))
        await phases.throughput(http, ids, through_arm, through, turns * 2)
        tick(1)
        await model.set_script(phases.model_script(INGEST_MODEL_TTFT))
        sessions = [await new_session(http, *ids) for _ in range(ingest)]
        requests, rounds = ctx.pick("api.ingest_requests", 10, 40), ctx.pick("api.ingest_rounds", 5, 8)
        result.params.update({"ingest_clients": ingest, "ingest_requests": requests, "ingest_rounds": rounds})
        await ingestion(ctx, http, floor.url, sessions, ingest_arm, requests, rounds)
        tick(1)
        result.notes.append(f"corral serve RSS at the end of the run: {rss_kib(serve.pid)} KiB")


SUITE = Suite(
    "api",
    "corral serve with harness workers; the scripted model server",
    run,
)
