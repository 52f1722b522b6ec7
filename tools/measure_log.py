"""Measure the session log: append latency, slice reads, live fan-out. Not a test: it only reports numbers.

Usage::

    .venv/bin/python tools/measure_log.py                       # SQLite in a temporary directory
    .venv/bin/python tools/measure_log.py --postgres URL        # also PostgreSQL (a fresh database on URL's server)
    .venv/bin/python tools/measure_log.py --json                # machine-readable (for ``corral bench log``)

What is measured, in one process, through the public ``SessionStore`` API only:

* ``emit``: one caller appends typical events (a ~100-byte ``agent.message``) one after another; latency of
  each ``emit_event`` call until it returned, i.e. until its COMMIT returned (durability is not traded).
* ``emit_concurrent``: 32 callers append at once to 32 sessions; throughput and per-call latency (group
  commit on SQLite, the pool on PostgreSQL).
* ``slice``: ``get_events(sid, a, a + 100)`` at random positions of a 100,000-event session.
* ``fanout``: 200 subscribers of one session; the writer appends at a steady rate (and then as a burst);
  lag from the start of ``emit_event`` until each subscriber has the SSE frame bytes in hand.

Targets on the reference 2-core machine (SQLite): emit median < 0.17 ms, slice < 2 ms, fan-out p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import asyncpg

from corral.db.engines import open_database
from corral.session import Event, NewEvent, NewSession, SessionStore

MESSAGE = NewEvent(
    "agent.message", {"content": [{"type": "text", "text": "The tests pass; opening a pull request next."}]}
)


def summary(samples: list[float]) -> dict[str, float]:
    """Milliseconds: median, p90, p99, max."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p90_ms": pick(0.9),
        "p99_ms": pick(0.99),
        "max_ms": pick(1),
    }


async def new_session(store: SessionStore) -> str:
    record, _ = await store.create_session(NewSession("wrkspc_bench", "agent_bench", 1, "env_bench", {}))
    return record.id


async def measure_emit(store: SessionStore, count: int) -> dict[str, float]:
    sid = await new_session(store)
    for _ in range(300):
        await store.emit_event(sid, MESSAGE)
    samples: list[float] = []
    clock = time.perf_counter
    for _ in range(count):
        start = clock()
        await store.emit_event(sid, MESSAGE)
        samples.append(clock() - start)
    return summary(samples)


async def measure_concurrent(store: SessionStore, callers: int, each: int) -> dict[str, float]:
    sids = [await new_session(store) for _ in range(callers)]
    samples: list[float] = []

    async def caller(sid: str) -> None:
        for _ in range(each):
            start = time.perf_counter()
            await store.emit_event(sid, MESSAGE)
            samples.append(time.perf_counter() - start)

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for sid in sids:
            tg.start_soon(caller, sid)
    elapsed = time.perf_counter() - began
    return {**summary(samples), "events_per_second": callers * each / elapsed}


async def measure_slice(store: SessionStore, size: int, samples_wanted: int) -> dict[str, float]:
    sid = await new_session(store)
    batch = [MESSAGE] * 500
    for _ in range(size // len(batch)):
        await store.emit_events(sid, batch)
    samples: list[float] = []
    for _ in range(samples_wanted):
        start_at = random.randint(1, size - 100)
        start = time.perf_counter()
        events = await store.get_events(sid, start_at, start_at + 100)
        samples.append(time.perf_counter() - start)
        assert len(events) == 100 and events[0].seq == start_at
    return summary(samples)


async def measure_fanout(store: SessionStore, subscribers: int, events: int, rate: float | None) -> dict[str, float]:
    sid = await new_session(store)
    started: dict[int, float] = {}
    lags: list[float] = []
    ready = anyio.Event()
    attached = 0

    async def subscriber() -> None:
        nonlocal attached
        async with store.subscribe(sid) as sub:
            attached += 1
            if attached == subscribers:
                ready.set()
            received = 0
            async for item in sub.receive:
                if not isinstance(item, Event):
                    raise RuntimeError(f"subscriber cut off: {item}")
                frame = f"event: message\ndata: {item.wire_json()}\n\n".encode()
                lags.append(time.perf_counter() - started[item.seq])
                received += 1 + 0 * len(frame)
                if received == events:
                    return

    async with anyio.create_task_group() as tg:
        for _ in range(subscribers):
            tg.start_soon(subscriber)
        await ready.wait()
        record = await store.get_session(sid)
        for i in range(events):
            started[record.last_seq + i + 1] = time.perf_counter()
            await store.emit_event(sid, MESSAGE)
            if rate is not None:
                await anyio.sleep(1 / rate)
    if len(lags) != subscribers * events:
        raise RuntimeError(f"fan-out lost events: {len(lags)} of {subscribers * events}")
    return summary(lags)


async def run_engine(url: str, quick: bool) -> dict[str, Any]:
    db = open_database(url)
    await db.open()
    store = SessionStore(db)
    steps: list[tuple[str, Callable[[], Awaitable[dict[str, float]]]]] = [
        ("emit", lambda: measure_emit(store, 1000 if quick else 5000)),
        ("emit_concurrent", lambda: measure_concurrent(store, 32, 50 if quick else 200)),
        ("slice_100_of_100k", lambda: measure_slice(store, 20_000 if quick else 100_000, 2000)),
        ("fanout_200_paced_200ps", lambda: measure_fanout(store, 200, 200 if quick else 1000, 200.0)),
        ("fanout_200_burst", lambda: measure_fanout(store, 200, 200 if quick else 500, None)),
    ]
    results: dict[str, Any] = {}
    try:
        for name, step in steps:
            results[name] = await step()
    finally:
        await store.aclose()
        await db.close()
    return results


async def fresh_postgres(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = "measure_" + secrets.token_hex(4)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


async def main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": {
            "cpus": len(__import__("os").sched_getaffinity(0)),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        report["sqlite"] = await run_engine(f"sqlite:///{Path(tmp) / 'measure.db'}", args.quick)
    if args.postgres:
        url, drop = await fresh_postgres(args.postgres)
        try:
            report["postgres"] = await run_engine(url, args.quick)
        finally:
            await drop()
    return report


def print_table(report: dict[str, Any]) -> None:
    print(f"machine: {report['machine']}")
    for engine in ("sqlite", "postgres"):
        for name, figures in report.get(engine, {}).items():
            cells = "  ".join(
                f"{key}={value:.3f}" if key.endswith("ms") else f"{key}={value:.0f}" for key, value in figures.items()
            )
            print(f"{engine:8} {name:24} {cells}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL; a fresh database is made on it")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke check, noisier figures)")
    parsed = parser.parse_args()
    result = anyio.run(main, parsed)
    if parsed.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_table(result)
