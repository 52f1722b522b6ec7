"""The ``recovery`` suite: ``kill -9`` a ``corral worker`` mid-turn under load; another worker takes over.

Processes: a scripted model server, ``corral serve`` (API only, ``CORRAL_WORKERS=0``), ``corral worker`` A
and B on one database (PostgreSQL when available, else SQLite) and one data directory (shared sandbox
journal), the local sandbox provider in the workers. Each round starts sessions whose turns run several
``bash`` calls on workers A and B, and kills A with SIGKILL at a moment drawn from the run's seed (uniform over
the turn, one per round). Measured: time from the
kill to the session's next event (against the lease TTL), events lost (seen by an SSE client, missing from the
log afterwards), tool calls executed twice (from the session's own ledger), sessions that never finished.

Needs: ``corral worker`` (``corral.cli.worker``), the scripted model server, the local sandbox provider.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from corral.bench.measure import add_latency, add_value, phase
from corral.bench.procs import Child, CorralServe, ModelServer, corral_env
from corral.bench.results import Arm, Check, SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites.api.client import client, new_session
from corral.bench.suites.recovery.scenario import Round, drive, kill_delays, model_script, wait_running, worker
from corral.db.engines import open_database
from corral.session import SessionStore
from corral.vocab.tools import TOOLSET

TTL = 2.0


async def run(ctx: Context, result: SuiteResult) -> None:
    rounds, per_round = ctx.pick("recovery.rounds", 2, 8), ctx.pick("recovery.sessions", 4, 12)
    delays = kill_delays(ctx.seed, rounds)
    arm = Arm("kill-9", f"{per_round} sessions mid-turn on the killed worker, {rounds} round(s), lease TTL {TTL:g} s")
    result.arms.append(arm)
    url = await ctx.postgres.fresh_url() if not ctx.postgres.unavailable else f"sqlite:///{ctx.scratch / 'corral.db'}"
    result.params.update(
        {
            "rounds": rounds,
            "sessions_per_round": per_round,
            "lease_ttl_seconds": TTL,
            "engine": url.split(":")[0],
            "kill_after_seconds": delays,
        }
    )
    done: list[Round] = []
    async with AsyncExitStack() as stack:
        model = ModelServer(model_script(), ctx.scratch)
        stack.push_async_callback(model.aclose)
        await model.start()
        env = corral_env(ctx.scratch / "data", model.url, CORRAL_DATABASE_URL=url, CORRAL_LEASE_TTL=str(TTL))
        serve = CorralServe({**env, "CORRAL_WORKERS": "0"}, ctx.scratch / "serve.log")
        stack.push_async_callback(serve.aclose)
        a, b = _worker(stack, env, ctx.scratch, 0), _worker(stack, env, ctx.scratch, 1)
        with phase(result, "start"):
            async with anyio.create_task_group() as starting:  # all at once: they import the same code
                starting.start_soon(serve.start)
                starting.start_soon(_started, a)
                starting.start_soon(_started, b)
        db = open_database(url)
        await db.open()
        stack.push_async_callback(db.close)
        store = SessionStore(db)
        stack.push_async_callback(store.aclose)
        http = await stack.enter_async_context(client(serve.url, serve.key, 4 * per_round + 20))
        agent = {"name": "bench-recovery", "model": "claude-bench", "tools": [{"type": TOOLSET}]}
        agent_id = str((await http.post("/v1/agents", json=agent)).raise_for_status().json()["id"])
        environment = {
            "name": "bench-recovery-env",
            "config": {"type": "cloud", "networking": {"type": "unrestricted"}},
        }
        env_id = str((await http.post("/v1/environments", json=environment)).raise_for_status().json()["id"])
        tick = ctx.progress.task("recovery · kill -9 rounds", rounds)
        for index in range(rounds):
            sessions = [await new_session(http, agent_id, env_id) for _ in range(per_round)]
            with phase(result, f"round {index + 1}"):
                done.append(await drive(http, store, sessions, a, delays[index]))
            tick(1)
            if index + 1 < rounds:  # the survivor is the next round's victim; a fresh worker joins it
                a, b = b, _worker(stack, env, ctx.scratch, index + 2)
                await _started(b)
    _record(arm, result, done)


def _worker(stack: AsyncExitStack, env: dict[str, str], scratch: Path, number: int) -> Child:
    child = worker({**env, "CORRAL_WORKERS": "1"}, scratch / f"worker-{number}.log")
    stack.push_async_callback(child.aclose)
    return child


async def _started(child: Child) -> None:
    await child.start()
    assert child.log is not None
    await wait_running(child.log)


def _record(arm: Arm, result: SuiteResult, done: list[Round]) -> None:
    resumes = [r for round_ in done for r in round_.resumes]
    add_latency(arm, "resume", "kill -9 → the orphaned session's next event", resumes, ((0.5, "p50"), (1.0, "max")))
    add_latency(
        arm,
        "resume_beyond_ttl",
        "the same, minus the lease TTL (last renewed before the kill, so it can be < 0)",
        [r - TTL for r in resumes],
        ((0.5, "p50"), (1.0, "max")),
    )
    totals = {name: sum(getattr(r, name) for r in done) for name in ("lost", "doubles", "unfinished", "gaps")}
    add_value(arm, "orphaned", "sessions leased by the killed worker", float(sum(len(r.orphans) for r in done)), "")
    add_value(arm, "lost_events", "events seen by a client, missing from the log", float(totals["lost"]), "")
    add_value(arm, "double_executions", "tool calls executed twice", float(totals["doubles"]), "")
    add_value(arm, "unfinished", "sessions that never reached end_turn", float(totals["unfinished"]), "")
    result.checks.append(Check("no event lost after kill -9", totals["lost"] == 0, f"{totals['lost']} lost"))
    result.checks.append(
        Check("no tool call executed twice after kill -9", totals["doubles"] == 0, f"{totals['doubles']} doubles")
    )
    result.checks.append(
        Check(
            "positions stay dense (1, 2, 3 …) in every session",
            totals["gaps"] == 0,
            f"{totals['gaps']} sessions with gaps",
        )
    )
    result.notes += [note for r in done for note in r.notes][:10]


SUITE = Suite(
    "recovery",
    "corral worker; the scripted model server; the local sandbox provider; PostgreSQL (else SQLite)",
    run,
)
