"""The measurements of the ``log`` suite, one function per phase; every phase interleaves its arms.

Invariants:

* Every system appends, slices and recovers the very same workload (same seed, same slice positions).
* ``raw`` keeps every sample in seconds by ``(arm, key)``; ratios are computed from it, not from the
  thinned samples in the result file.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol, TypeVar

import anyio

from corral.bench.measure import add_latency, add_value, interleave
from corral.bench.results import SuiteResult
from corral.bench.suite import Context
from corral.bench.suites.log import fsyncs as syncs
from corral.bench.suites.log.peer import SCRIPT, PeerLog
from corral.bench.suites.log.setup import PEER, Systems

Raw = dict[tuple[str, str], list[float]]
SLICE = 100
T = TypeVar("T")


class Appender(Protocol):
    async def start_append(self, seed: int, n: int) -> None: ...
    async def append(self, count: int) -> list[float]: ...


def _fail(result: SuiteResult, arm_name: str, error: str) -> None:
    arm = result.arm(arm_name)
    if arm is not None and arm.ok:
        arm.status = f"failed: {error}"


def _appenders(systems: Systems) -> dict[str, tuple[str, str, str, Appender]]:
    """call name → (arm, metric key, label, system)."""
    found: dict[str, tuple[str, str, str, Appender]] = {}
    for name, corral in systems.corral.items():
        found[name] = (name, "emit", "emit_event", corral)
    for name, floor in systems.floors.items():
        found[name] = (name, "emit", "one-row INSERT transaction", floor)
    if systems.peer is not None:
        found[PEER] = (PEER, "emit", "EventLog.append", PeerLog(PEER, systems.peer, "eventlog"))
        found[f"{PEER}/state"] = (
            PEER,
            "append_event",
            "ConversationState.append_event",
            PeerLog(PEER, systems.peer, "state"),
        )
    return found


async def emit(ctx: Context, result: SuiteResult, systems: Systems, raw: Raw) -> None:
    n, rounds, warm = ctx.pick("log.emit", 100, 1000), ctx.pick("log.rounds", 2, 10), ctx.pick("log.warmup", 10, 100)
    result.params.update({"emit_events": n, "emit_rounds": rounds, "emit_warmup": warm})
    appenders = _appenders(systems)
    for _, _, _, system in appenders.values():
        await system.start_append(ctx.seed + 1, n + warm)
        await system.append(warm)
    calls = {name: partial(system.append, n // rounds) for name, (_, _, _, system) in appenders.items()}
    samples, failed = await interleave(ctx, "log · append one event", calls, rounds)
    for name, (arm_name, key, label, _) in appenders.items():
        if name in failed:
            _fail(result, arm_name, failed[name])
            continue
        arm = result.arm(arm_name)
        assert arm is not None
        raw[(arm_name, key)] = samples[name]
        add_latency(arm, key, label, samples[name])
        add_value(arm, f"{key}.rate", f"{label}, one writer", len(samples[name]) / sum(samples[name]), "events/s")


async def fsyncs(ctx: Context, result: SuiteResult, systems: Systems) -> None:
    """Sync calls per append on both sides of the peer ratio (``corral.bench.suites.log.fsyncs``; untimed)."""
    n = ctx.pick("log.fsync_appends", 20, 100)
    if not syncs.available():
        result.notes.append("sync calls per append not counted: strace is not installed")
        return
    sides: list[tuple[str, Callable[[], Awaitable[float]]]] = [
        (name, partial(syncs.corral_per_append, ctx.scratch, sync, n, ctx.seed + 3))
        for name, sync in (("corral/sqlite", "NORMAL"), ("corral/sqlite-full", "FULL"))
    ]
    if systems.peer is not None:
        python = systems.peer.python
        sides.append((PEER, partial(syncs.peer_per_append, ctx.scratch, python, SCRIPT, n, ctx.seed + 3)))
    for name, count in sides:
        arm = result.arm(name)
        if arm is None or not arm.ok:
            continue
        try:
            value = await count()
        except (RuntimeError, OSError) as exc:  # strace refused here (no ptrace): say so, time nothing less
            result.notes.append(f"sync calls per append of {name} not counted: {exc}"[:300])
            continue
        label = f"sync calls (fsync, fdatasync, …) per append, counted with strace over {n} appends"
        add_value(arm, "emit.syncs_per_append", label, value, "", n=n)


async def concurrent(ctx: Context, result: SuiteResult, systems: Systems) -> None:
    writers, each, rounds = (
        ctx.pick("log.writers", 10, 50),
        ctx.pick("log.writer_events", 10, 40),
        ctx.pick("log.rounds", 2, 5),
    )
    result.params.update({"concurrent_writers": writers, "events_per_writer": each})

    async def one(name: str) -> list[float]:
        return [await systems.corral[name].concurrent(writers, each, ctx.seed + 2)]

    calls = {name: partial(one, name) for name in systems.corral}
    samples, failed = await interleave(ctx, f"log · {writers} concurrent writers", calls, rounds)
    for name in systems.corral:
        if name in failed:
            _fail(result, name, failed[name])
            continue
        arm = result.arm(name)
        assert arm is not None
        label = f"emit_event throughput, {writers} sessions writing at once (median of {rounds})"
        add_value(arm, "concurrent.rate", label, statistics.median(samples[name]), "events/s", n=writers * each)


class Fills:
    """Sessions (corral) and conversations (peer) of ``n`` workload events, filled once and shared by phases."""

    def __init__(self, ctx: Context, systems: Systems):
        self.ctx, self.systems = ctx, systems
        self.done: dict[tuple[str, int, float], str] = {}

    async def ensure(self, n: int, scale: float, *, peer: bool) -> dict[str, str]:
        """system name → session id / conversation name, for every system that could be filled.

        Reads do not depend on SQLite's ``synchronous`` setting, so the FULL-durability database is only
        used for appends (its read figures would repeat the NORMAL ones and cost a fill).
        """
        corral = [name for name in self.systems.corral if not name.endswith("-full")]
        names = corral + ([PEER] if peer and self.systems.peer is not None else [])
        tick = self.ctx.progress.task(f"log · fill {n:,}-event sessions", len(names))

        async def fill(name: str) -> None:
            if (name, n, scale) not in self.done:
                self.done[(name, n, scale)] = await self._fill(name, n, scale)
            tick(1)

        # Side by side: filling is set-up, not a measurement, and the peer and PostgreSQL work in their own
        # processes. Nothing is timed until every fill is done.
        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(fill, name)
        return {name: self.done[(name, n, scale)] for name in names if (name, n, scale) in self.done}

    async def disk_bytes(self) -> dict[str, int]:
        """Bytes on disk of every corral database the slices read (see ``CorralLog.disk_bytes``)."""
        return {name: await log.disk_bytes() for name, log in self.systems.corral.items() if not name.endswith("-full")}

    async def record_disk(self, result: SuiteResult, n: int, before: dict[str, int], targets: dict[str, str]) -> None:
        """Bytes on disk per event: the database's growth across the fill of an ``n``-event session ÷ ``n``, beside
        the events' own JSON payload bytes (what the row, the indexes and the page overhead add)."""
        after = await self.disk_bytes()
        for name, size in after.items():
            arm, session_id = result.arm(name), targets.get(name)
            payload = self.systems.corral[name].payload_bytes.get(session_id or "")
            if arm is None or payload is None or name not in before:
                continue
            label = f"bytes on disk per event (database growth over a {n:,}-event session ÷ {n:,})"
            add_value(arm, f"disk@{n}.bytes_per_event", label, (size - before[name]) / n, "B", n=n)
            label = "JSON payload bytes per event in that session (the workload's own sizes)"
            add_value(arm, f"payload@{n}.bytes_per_event", label, payload / n, "B", n=n)

    async def _fill(self, name: str, n: int, scale: float) -> str:
        seed, batch = self.ctx.seed + n, 5000 if n >= 100_000 else 1000
        if name == PEER:
            assert self.systems.peer is not None
            label = f"n{n}-s{scale}"
            await self.systems.peer.fill(label, seed, n, scale)
            return label
        return await self.systems.corral[name].fill(seed, n, scale=scale, batch=batch)


def _chunks(items: list[T], rounds: int) -> list[list[T]]:
    size = max(1, -(-len(items) // rounds))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _slicer(systems: Systems, name: str, target: str, chunks: list[list[int]]) -> Callable[[], Awaitable[list[float]]]:
    pending = iter(chunks)

    async def call() -> list[float]:
        starts = next(pending, list[int]())
        if name == PEER:
            assert systems.peer is not None
            return await systems.peer.slice(target, starts, SLICE)
        return await systems.corral[name].slice(target, starts, SLICE)

    return call


async def slices(ctx: Context, result: SuiteResult, systems: Systems, fills: Fills, raw: Raw) -> None:
    sizes = ctx.pick("log.slices", [1000], [1000, 100_000, 1_000_000])
    count, rounds = ctx.pick("log.slice_samples", 20, 200), ctx.pick("log.rounds", 2, 10)
    # One payload scale for every size, so a slice of the 1M-event session carries the same bytes as one of the
    # 1k-event session and their ratio shows the log's growth alone (1.0: the workload's own sizes).
    scale = float(ctx.pick("log.slice_scale", 1.0, 1.0))
    result.params.update({"slice_sizes": sizes, "slice_samples": count, "slice_events": SLICE})
    result.params["slice_scales"] = {str(n): scale for n in sizes}  # what each size was filled with
    for n in sizes:
        before = await fills.disk_bytes()
        targets = await fills.ensure(n, scale, peer=n <= 100_000)
        await fills.record_disk(result, n, before, targets)
        rng = random.Random(ctx.seed + n)
        starts = [rng.randrange(0, n - SLICE) for _ in range(count)]
        chunks = _chunks(starts, rounds)
        calls = {name: _slicer(systems, name, target, chunks) for name, target in targets.items()}
        samples, failed = await interleave(ctx, f"log · {SLICE}-event slices of {n:,}", calls, len(chunks))
        for name in targets:
            if name in failed:
                _fail(result, name, failed[name])
            elif (arm := result.arm(name)) is not None:
                raw[(name, f"slice@{n}")] = samples[name]
                label = f"get_events {SLICE}-event slice of a {n:,}-event session"
                add_latency(
                    arm,
                    f"slice@{n}",
                    label if name != PEER else label.replace("get_events", "EventLog[i:j]"),
                    samples[name],
                    ((0.5, "p50"), (0.95, "p95")),
                )
