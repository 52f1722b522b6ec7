"""The ``api`` measurements against a live ``corral serve``: TTFT overhead at N sessions, SSE fan-out lag,
events per second, memory per session.

Invariants: the scripted model answers with a fixed time to first token (``MODEL_TTFT``), so the platform's
overhead is what remains of the client-observed time from sending the ``user.message`` POST to the first token
preview on the session's SSE stream (an upper bound: it includes the POST's own transfer and persistence; the
arrival is timestamped by the stream's reader task, so a slow POST response cannot hide or delay it); every turn
that does not reach ``session.status_idle`` within the deadline counts as an error, as does every failed request
or stream.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

import anyio
import httpx

from corral._types import JSONObject
from corral.bench.measure import add_latency, add_value
from corral.bench.procs import CorralServe, rss_kib
from corral.bench.results import Arm
from corral.bench.suites.api.client import DELTAS, Stream, new_session, send_message, watching

MODEL_TTFT = 0.2


def model_script(ttft: float, tokens_per_second: float = 2000.0) -> JSONObject:
    latency = {"ttft": {"dist": "fixed", "seconds": ttft}, "tokens_per_second": tokens_per_second}
    reply = {"content": [{"type": "text", "text": "Sure. Here is a short answer to that question."}]}
    return {"replies": [reply], "latency": latency, "repeat_last": True}


class Tally:
    def __init__(self) -> None:
        self.overheads: list[float] = []
        self.errors: list[str] = []
        self.events = 0  # stored session events received
        self.frames = 0  # every SSE frame received, live previews included


async def _turns(http: httpx.AsyncClient, ids: tuple[str, str], turns: int, tally: Tally, model_ttft: float) -> None:
    try:
        session_id = await new_session(http, *ids)
        async with watching(http, session_id) as stream:
            for turn in range(turns):
                sent = time.perf_counter()
                await send_message(http, session_id, f"question {turn}")
                with anyio.fail_after(120):
                    await stream.wait_idles(turn + 1)
                if stream.error:
                    raise RuntimeError(stream.error)
                first = stream.first_after(DELTAS, sent)
                if first is None:
                    raise RuntimeError("no token preview reached the stream")
                tally.overheads.append(first.at - sent - model_ttft)
            tally.events += stream.stored_events
            tally.frames += len(stream.events)
    except (httpx.HTTPError, RuntimeError, TimeoutError) as exc:
        tally.errors.append(f"{type(exc).__name__}: {exc}"[:200])


async def overhead(
    http: httpx.AsyncClient, ids: tuple[str, str], arm: Arm, sessions: int, turns: int, serve: CorralServe
) -> int:
    """``sessions`` sessions at once, ``turns`` turns each; returns the peak RSS of ``corral serve`` (KiB)."""
    tally, peak = Tally(), [rss_kib(serve.pid)]

    async def sample() -> None:
        while True:
            peak.append(rss_kib(serve.pid))
            await anyio.sleep(0.2)

    async with anyio.create_task_group() as group:
        group.start_soon(sample)
        async with anyio.create_task_group() as drivers:
            for _ in range(sessions):
                drivers.start_soon(_turns, http, ids, turns, tally, MODEL_TTFT)
        group.cancel_scope.cancel()
    label = "user.message POST sent → first token preview on the SSE stream, minus the model's TTFT"
    add_latency(arm, "overhead", label, tally.overheads)
    add_value(arm, "errors", f"failed turns or streams (of {sessions * turns})", float(len(tally.errors)), "")
    if tally.errors:
        arm.description += f" — first error: {tally.errors[0]}"
    return max(peak)


def _epoch(stamp: object) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


async def fanout(
    http: httpx.AsyncClient,
    ids: tuple[str, str],
    arm: Arm,
    subscribers: int,
    turns: int,
    watchers: Sequence[httpx.AsyncClient] = (),
) -> None:
    """``subscribers`` SSE connections on one session, spread evenly over ``watchers`` (clients of one or more
    ``corral serve`` processes; ``http`` alone by default), while ``http`` sends the turns; lag = arrival − the
    event's ``processed_at``."""
    session_id = await new_session(http, *ids)
    lags: list[float] = []
    spreads: list[float] = []
    over = list(watchers) or [http]
    async with anyio.create_task_group() as group:
        streams: list[Stream] = []
        for index in range(subscribers):
            streams.append(await group.start(_subscriber, over[index % len(over)], session_id))
        for turn in range(turns):
            await send_message(http, session_id, f"fan-out {turn}")
            with anyio.fail_after(120):
                for stream in streams:
                    await stream.wait_idles(turn + 1)
        arrivals: dict[str, list[float]] = {}
        for stream in streams:
            for seen in stream.events:
                data = seen.data
                stamp = _epoch(data.get("processed_at"))
                if stamp is not None and "id" in data:
                    lags.append(seen.wall - stamp)
                    arrivals.setdefault(str(data["id"]), []).append(seen.at)
        spreads = [max(times) - min(times) for times in arrivals.values()]
        group.cancel_scope.cancel()
    add_latency(arm, "lag", f"event stamped → received, {subscribers} subscribers", lags)
    add_latency(
        arm, "spread", "first → last subscriber receiving the same event", spreads, ((0.5, "p50"), (0.99, "p99"))
    )


async def _subscriber(http: httpx.AsyncClient, session_id: str, *, task_status: anyio.abc.TaskStatus[Stream]) -> None:
    async with watching(http, session_id, deltas=False) as stream:
        task_status.started(stream)
        await anyio.sleep_forever()


async def throughput(http: httpx.AsyncClient, ids: tuple[str, str], arm: Arm, sessions: int, turns: int) -> None:
    """Stored events per second delivered on the SSE streams while ``sessions`` sessions run turns back to back,
    and beside it every frame per second (live previews included); targets judge stored events only."""
    tally = Tally()
    began = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(sessions):
            group.start_soon(_turns, http, ids, turns, tally, 0.0)
    seconds = time.perf_counter() - began
    add_value(
        arm,
        "stored_events.rate",
        f"stored events/s through the API ({sessions} sessions, model TTFT 0; previews not counted)",
        tally.events / seconds,
        "events/s",
        n=tally.events,
    )
    add_value(
        arm,
        "frames.rate",
        f"SSE frames/s, live previews included ({sessions} sessions)",
        tally.frames / seconds,
        "frames/s",
        n=tally.frames,
    )
    add_value(arm, "errors", "failed turns or streams", float(len(tally.errors)), "")


async def idle_memory(http: httpx.AsyncClient, ids: tuple[str, str], arm: Arm, serve: CorralServe, count: int) -> int:
    """RSS of ``corral serve`` with ``count`` idle sessions (created 20 at a time), and its growth per session."""
    before = rss_kib(serve.pid)
    pending = iter(range(count))

    async def creator() -> None:
        for _ in pending:
            await new_session(http, *ids)

    async with anyio.create_task_group() as group:
        for _ in range(min(20, count)):
            group.start_soon(creator)
    await anyio.sleep(1.0)
    after = rss_kib(serve.pid)
    add_value(arm, "idle_kib", f"RSS growth per idle session ({count} created)", (after - before) / count, "KiB")
    add_value(arm, "idle_total_mib", f"RSS of corral serve with {count:,} idle sessions", after / 1024, "MiB", n=count)
    add_value(arm, "baseline_mib", "RSS of corral serve before they were created", before / 1024, "MiB")
    return after


def active_memory(arm: Arm, baseline: int, peak: int, sessions: int) -> None:
    add_value(
        arm,
        "active_kib",
        f"peak RSS growth per active session ({sessions} at once)",
        (peak - baseline) / sessions,
        "KiB",
    )
