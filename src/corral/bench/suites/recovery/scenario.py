"""One kill round of the ``recovery`` suite: sessions mid-turn on worker A, ``kill -9`` A at a seeded random moment,
worker B takes over.

Invariants:

* Workers A and B both run when the sessions start; the sessions A holds a lease on at the moment of the kill
  (read from the log's session rows) are the orphans whose takeover is timed; the others are audited too.
* Each tool call appends a start marker to a ledger in the session's workspace before it does anything, and its own
  marker after, and the last call prints the ledger, so a call executed twice is visible in the session's own log,
  even one whose first run was killed before it wrote its marker; an event the SSE client saw but the
  log does not hold afterwards is a lost event.
"""

from __future__ import annotations

import random
import re
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from corral._types import JSONObject
from corral.bench.procs import Child
from corral.bench.suites.api.client import Stream, send_message, watching
from corral.session import SessionStore
from corral.vocab.tools import BASH

CALLS = 4


def model_script(calls: int = CALLS) -> JSONObject:
    def bash(command: str) -> JSONObject:
        return {
            "content": [
                {"type": "text", "text": "Next step."},
                {"type": "tool_use", "name": BASH, "input": {"command": command}},
            ]
        }

    # the start marker goes first: a call killed before its ``call-i`` line and run again shows ``start-i`` twice
    replies = [
        bash(f"echo start-{i} >> /workspace/ledger; sleep 0.3; echo call-{i} >> /workspace/ledger")
        for i in range(calls)
    ]
    replies += [bash("cat /workspace/ledger"), {"content": [{"type": "text", "text": "All done."}]}]
    return {"replies": replies, "latency": {"ttft": {"dist": "fixed", "seconds": 0.05}, "tokens_per_second": 2000}}


def worker(env: dict[str, str], log: Path) -> Child:
    return Child([sys.executable, "-m", "corral", "worker"], env, log)


def _says_running(log: Path) -> bool:
    return log.exists() and "running" in log.read_text(errors="replace")


async def wait_running(log: Path) -> None:
    """Until the worker's log says it runs (``corral worker`` prints that line once its pools started)."""
    for _ in range(2400):
        if await anyio.to_thread.run_sync(_says_running, log):
            return
        await anyio.sleep(0.05)
    raise TimeoutError(f"the worker did not start within 120 s (see {log})")


def kill_delays(seed: int, rounds: int, low: float = 0.2, high: float = 2.0) -> list[float]:
    """Each round's kill moment, seconds after its messages were sent: uniform over the turn (4 calls of ≈ 0.35 s
    each), drawn from the run's seed, so kills land before, during and between calls rather than at one moment."""
    rng = random.Random(seed)
    return [round(rng.uniform(low, high), 3) for _ in range(rounds)]


@dataclass
class Round:
    kill_wall: float = 0.0
    orphans: list[str] = field(default_factory=lambda: list[str]())
    resumes: list[float] = field(default_factory=lambda: list[float]())
    lost: int = 0
    doubles: int = 0
    unfinished: int = 0
    gaps: int = 0
    notes: list[str] = field(default_factory=lambda: list[str]())


def _epoch(stamp: object) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def resumed_after(stream: Stream, wall: float) -> float | None:
    """Seconds from ``wall`` (the kill) to the first event the log stamped after it (server clock, same host):
    events the killed worker committed just before dying but that reached the client later do not count."""
    stamps = [t for seen in stream.events if (t := _epoch(seen.data.get("processed_at"))) is not None and t > wall]
    return min(stamps) - wall if stamps else None


def doubles_in(stream: Stream) -> int | None:
    """Calls the final ``cat`` shows run more than once (None: the session never got there): a call's executions
    are its ``start-i`` markers (written first, so a run killed before its ``call-i`` line counts) or, if more, its
    ``call-i`` markers."""
    results = [s for s in stream.events if s.kind == "agent.tool_result"]
    if not results:
        return None
    text = "".join(block.get("text", "") for block in results[-1].data.get("content") or [])
    return ledger_doubles(text)


def ledger_doubles(text: str) -> int:
    counts: dict[tuple[str, str], int] = {}
    for kind, call in re.findall(r"\b(start|call)-(\d+)\b", text):
        counts[(kind, call)] = counts.get((kind, call), 0) + 1
    calls = {call for _, call in counts}
    runs = [max(counts.get(("start", call), 0), counts.get(("call", call), 0)) for call in calls]
    return sum(run - 1 for run in runs if run > 1)


async def audit(store: SessionStore, session_id: str, stream: Stream, result: Round) -> None:
    events = await store.get_events(session_id)
    stored = {event.id for event in events}
    seen = {str(s.data["id"]) for s in stream.events if "id" in s.data}
    result.lost += len(seen - stored)
    result.gaps += 0 if [e.seq for e in events] == list(range(1, len(events) + 1)) else 1
    finished = (
        events
        and events[-1].type == "session.status_idle"
        and events[-1].data().get("stop_reason", {}).get("type") == "end_turn"
    )
    result.unfinished += 0 if finished else 1
    doubles = doubles_in(stream)
    if doubles is None:
        result.notes.append(f"{session_id}: no final ledger")
    else:
        result.doubles += doubles


async def drive(
    http: httpx.AsyncClient, store: SessionStore, sessions: list[str], victim: Child, delay: float
) -> Round:
    """Start ``sessions`` (the running workers pick them up), kill ``victim`` ``delay`` s later; audit them all."""
    result = Round()
    a = victim
    async with AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(watching(http, sid, deltas=False)) for sid in sessions]
        for sid in sessions:
            await send_message(http, sid, "run the steps")
        await anyio.sleep(delay)
        owners = {sid: (await store.get_session(sid)).lease_owner or "" for sid in sessions}
        result.orphans = [sid for sid, owner in owners.items() if f":{a.pid}:" in owner]
        result.kill_wall = time.time()
        a.kill()
        began = time.monotonic()
        with anyio.move_on_after(180):
            for stream in streams:
                await stream.wait_idles(1)
        result.notes.append(f"all sessions idle {time.monotonic() - began:.1f} s after the kill")
        for sid, stream in zip(sessions, streams, strict=True):
            if sid in result.orphans and (gap := resumed_after(stream, result.kill_wall)) is not None:
                result.resumes.append(gap)
            await audit(store, sid, stream, result)
    return result
