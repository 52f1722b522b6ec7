"""The ``open@N`` arm: platform TTFT overhead with turns arriving on a schedule, not when the last one ended.

Invariants: arrivals are a seeded Poisson process at ``rate`` turns/s over N sessions, fixed before the run; a
turn's overhead is measured from its *scheduled* arrival (not from when a free session took it), so a queue that
builds up inside the client or the server is counted, never omitted (no coordinated omission); an arrival goes to
a session with no turn running, and waits for one when all are busy, so two of a session's turns never overlap;
every turn that fails or does not reach ``session.status_idle`` counts as an error.
"""

from __future__ import annotations

import random
import time
from contextlib import AsyncExitStack

import anyio
import httpx

from corral.bench.measure import add_latency, add_value
from corral.bench.results import Arm
from corral.bench.suites.api.client import DELTAS, Stream, new_session, send_message, watching
from corral.bench.suites.api.phases import MODEL_TTFT


def arrivals(seed: int, rate: float, count: int) -> list[float]:
    """``count`` arrival offsets (seconds from the start) of a Poisson process at ``rate`` per second."""
    rng, at, found = random.Random(seed), 0.0, list[float]()
    for _ in range(count):
        at += rng.expovariate(rate)
        found.append(at)
    return found


#: a session with no turn running: its id, its open stream, and the count of its turns that ended
_Free = tuple[str, Stream, list[int]]


async def open_loop(
    http: httpx.AsyncClient, ids: tuple[str, str], arm: Arm, sessions: int, rate: float, count: int, seed: int
) -> None:
    put, take = anyio.create_memory_object_stream[_Free](sessions)
    overheads, errors, queued = list[float](), list[str](), list[float]()

    async def turn(scheduled: float) -> None:
        session_id, stream, done = await take.receive()
        queued.append(time.perf_counter() - scheduled)
        try:
            await send_message(http, session_id, "question")
            with anyio.fail_after(120):
                await stream.wait_idles(done[0] + 1)
            if stream.error:
                raise RuntimeError(stream.error)
            first = stream.first_after(DELTAS, scheduled)
            if first is None:
                raise RuntimeError("no token preview reached the stream")
            overheads.append(first.at - scheduled - MODEL_TTFT)
        except (httpx.HTTPError, RuntimeError, TimeoutError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        done[0] = stream.idles
        put.send_nowait((session_id, stream, done))

    async with AsyncExitStack() as stack:
        for _ in range(sessions):
            session_id = await new_session(http, *ids)
            stream = await stack.enter_async_context(watching(http, session_id))
            put.send_nowait((session_id, stream, [0]))
        began = time.perf_counter()
        async with anyio.create_task_group() as group:
            for offset in arrivals(seed, rate, count):
                await anyio.sleep(max(0.0, began + offset - time.perf_counter()))
                group.start_soon(turn, began + offset)
    label = f"scheduled arrival (Poisson, {rate:g} turns/s over {sessions} sessions) → first token preview, minus TTFT"
    add_latency(arm, "overhead", label, overheads)
    add_latency(arm, "queued", "scheduled arrival → a session free to take it (client side)", queued)
    add_value(arm, "errors", f"failed turns or streams (of {count})", float(len(errors)), "")
    if errors:
        arm.description += f" — first error: {errors[0]}"
