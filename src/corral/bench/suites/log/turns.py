"""Turn cost by session length (issue 14, item 3): does a turn cost more because the session is long?

One session per side is driven turn after turn, the same work every turn (a short ``user.message``, the scripted
model's same short answer, no tools), to the last measured point (turn 1,000 in a full run). Each turn is what a
worker does for it: the client's send, the claim, ``wake``, the release, timed as wall milliseconds (the platform
time of the turn; the model server, in its own process, answers at once) and as this process's CPU milliseconds.
The sides differ in one setting: ``warm`` keeps the logs of finished wakes (``CORRAL_WARM_LOG_EVENTS``, corral's
default), ``cold`` keeps none (every wake reads and folds the whole log). Sampled: ``turn_samples`` turns from each
point on (turns 10… and 1,000…); the figure is the median of the late window ÷ the early one, with a bootstrap
interval. Beside it, the events each wake's log read returned (``WarmStats.events_read``): what the warm logs
save, counted rather than timed. The context and its request body are kept and extended too
(``harness.context_cache``, ``Message.wire``, ``ModelRequest.memo``); what still grows on the warm side is the size of
the request itself (O(context), which compaction bounds): sent, and read by the model server, every turn.

Invariants: the sides run on separate SQLite files of the same settings, interleaved turn by turn (the order rotates
every turn), so the machine's drift falls on both; every turn must end idle ``end_turn`` with its answer, and the
warm side must have continued every wake after the first, the cold side read every one whole (a hard check: a
figure of sessions that did not do the work counts for nothing).
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from statistics import mean

import anyio.to_thread

from corral._types import JSONObject
from corral.bench import stats
from corral.bench.measure import add_latency, add_ratio, add_value
from corral.bench.procs import ModelServer
from corral.bench.results import Arm, Check, Metric, SuiteResult
from corral.bench.suite import Context
from corral.config import ProviderConfig, Settings
from corral.db.engines import open_database
from corral.harness import Runtime
from corral.harness.harness import Harness
from corral.harness.wake import wake
from corral.session import NewEvent, NewSession, SessionStore

WORKSPACE, OWNER = "wrkspc_bench", "bench-turns"
AGENT: JSONObject = {
    "type": "agent",
    "id": "agent_bench",
    "version": 1,
    "model": {"id": "claude-bench"},
    "system": "Be brief.",
    "tools": [],
}
SCRIPT: JSONObject = {"replies": [{"content": [{"type": "text", "text": "Noted."}]}], "repeat_last": True}
SIDES = {"warm": None, "cold": 0}  # CORRAL_WARM_LOG_EVENTS: the default, or off


@dataclass
class _Side:
    name: str
    store: SessionStore
    harness: Harness
    session_id: str
    wall: dict[int, list[float]] = field(default_factory=lambda: dict[int, list[float]]())
    cpu: dict[int, list[float]] = field(default_factory=lambda: dict[int, list[float]]())
    #: events the wakes' log reads returned (``WarmStats.events_read``), per sampled turn
    read: dict[int, list[float]] = field(default_factory=lambda: dict[int, list[float]]())

    async def turn(self, number: int, point: int | None) -> None:
        """Drive turn ``number``; record it under ``point`` if it is one of the sampled turns."""
        message = NewEvent("user.message", {"content": [{"type": "text", "text": f"Turn {number}."}]}, queued=True)
        read = self.harness.warm.stats.events_read
        began, cpu = time.perf_counter(), time.process_time()
        await self.store.send_client_events(self.session_id, WORKSPACE, [message])
        fence = await self.store.claim_one(self.session_id, OWNER, self.harness.limits.lease_ttl)
        if fence is None:
            raise RuntimeError(f"turn {number}: the session was not runnable after its message")
        seen = await wake(self.harness, fence)
        await self.store.release(fence, seen)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        if point is not None:
            self.wall.setdefault(point, []).append(wall)
            self.cpu.setdefault(point, []).append(cpu)
            self.read.setdefault(point, []).append(self.harness.warm.stats.events_read - read)


async def turns(ctx: Context, result: SuiteResult) -> None:
    points: list[int] = ctx.pick("log.turns", [10, 300], [10, 1000])
    samples: int = ctx.pick("log.turn_samples", 15, 40)
    result.params["turns"] = {"points": points, "samples": samples}
    arm = Arm("turns", "one session driven turn after turn on SQLite (claim, wake, release), warm logs on and off")
    result.arms.append(arm)
    async with AsyncExitStack() as stack:
        model = ModelServer(SCRIPT, ctx.scratch)
        stack.push_async_callback(model.aclose)
        await model.start()
        sides = [await _open(ctx, stack, name, model.url, capacity) for name, capacity in SIDES.items()]
        last = max(points) + samples - 1
        tick = ctx.progress.task("log · turns of a growing session", last)
        for number in range(1, last + 1):
            point = next((p for p in points if p <= number < p + samples), None)
            for side in sides[number % 2 :] + sides[: number % 2]:
                await side.turn(number, point)
            tick(1)
        result.checks.append(await _did_the_work(sides, last))
    _record(arm, sides, points)


async def _open(ctx: Context, stack: AsyncExitStack, name: str, model_url: str, capacity: int | None) -> _Side:
    db = open_database(f"sqlite:///{ctx.scratch / f'turns-{name}.db'}")
    await db.open()
    stack.push_async_callback(db.close)
    store = SessionStore(db)
    stack.push_async_callback(store.aclose)
    provider = ProviderConfig("anthropic", "anthropic", base_url=model_url, api_key="bench")
    settings = Settings(providers={"anthropic": provider}, lease_ttl_seconds=30.0, data_dir=ctx.scratch / name)
    if capacity is not None:
        settings = replace(settings, warm_log_events=capacity)
    runtime = Runtime(store, settings, pools=0)
    stack.push_async_callback(runtime.harness.aclose)
    await anyio.to_thread.run_sync(runtime.harness.models.warm)
    record, _ = await store.create_session(NewSession(WORKSPACE, "agent_bench", 1, "env_bench", {"agent": AGENT}))
    return _Side(name, store, runtime.harness, record.id)


async def _did_the_work(sides: list[_Side], last: int) -> Check:
    details: list[str] = []
    ok = True
    for side in sides:
        events = await side.store.get_events(side.session_id)
        answers = sum(1 for e in events if e.type == "agent.message")
        ends = sum(
            1 for e in events if e.type == "session.status_idle" and e.data()["stop_reason"] == {"type": "end_turn"}
        )
        warm = side.harness.warm.stats
        expected = (last - 1, 1) if side.name == "warm" else (0, last)
        ok = ok and answers == ends == last and (warm.continued, warm.whole) == expected
        details.append(
            f"{side.name}: {len(events):,} events, {ends} turns ended, wakes continued {warm.continued}, read whole"
            f" {warm.whole}"
        )
    name = "turns: every turn of both sides answered and ended; warm wakes continued, cold ones read the whole log"
    return Check(name, ok, f"{last} turns per side; " + "; ".join(details))


def _record(arm: Arm, sides: list[_Side], points: list[int]) -> None:
    early, late = min(points), max(points)
    for side in sides:
        for point in points:
            wall, cpu, read = (series.get(point, []) for series in (side.wall, side.cpu, side.read))
            at = f"{side.name}: turns {point:,}…,"
            add_latency(
                arm, f"{side.name}.turn@{point}", f"{at} platform time per turn", wall, ((0.5, "p50"), (0.95, "p95"))
            )
            if cpu:  # a figure without its samples: the wall times' are the ones plotted
                estimate = stats.quantile_ci([c * 1000.0 for c in cpu], 0.5)
                arm.add(Metric.of(f"{side.name}.cpu@{point}.p50", f"{at} CPU per turn p50", estimate, "ms", n=len(cpu)))
            if read:
                add_value(
                    arm,
                    f"{side.name}.events_read@{point}",
                    f"{at} events the wake read",
                    mean(read),
                    "events",
                    n=len(read),
                )
        for metric, what, series in (("turn", "platform time", side.wall), ("cpu", "CPU", side.cpu)):
            add_ratio(
                arm,
                f"{side.name}.{metric}@{late}.vs_{metric}@{early}",
                f"{side.name}: turn {late:,} ÷ turn {early:,} ({what} per turn, p50)",
                series.get(late, []),
                series.get(early, []),
            )
