"""The HTTP floor of the ``api`` suite: what one request costs on this machine before corral does anything.

``python -m corral.bench.suites.api.floor_app PORT`` serves one JSON route with the same server stack as ``corral
serve`` (uvicorn + Starlette, no middleware) and prints ``ready`` once it listens. ``round_trips`` times the same
client against it, against an unknown corral route (authentication and routing only) and against corral's
``events.send``, interleaved, so the platform's share of a request can be read off in one run. ``ingestion`` does
the same at a concurrency (50 clients in a full run): corral's ``events.send`` against the floor's events route, the
same client and body, interleaved by round; the ratio of stored events per second is judged (target ≥ 0.5×).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import anyio
import httpx

from corral._types import JSONObject
from corral.bench import stats
from corral.bench.measure import add_latency, add_ratio, add_value, interleave
from corral.bench.procs import BIN_PATH, Child, free_port
from corral.bench.results import Arm, Metric
from corral.bench.suite import Context

INGEST_BODY: JSONObject = {"events": [{"type": "user.message", "content": [{"type": "text", "text": "ingest"}]}]}


class FloorServer(Child):
    def __init__(self) -> None:
        self.port = free_port()
        env = {"PATH": BIN_PATH, "PYTHONUNBUFFERED": "1"}
        super().__init__([sys.executable, "-m", "corral.bench.suites.api.floor_app", str(self.port)], env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await super().start()
        if await self.line() != "ready":
            raise RuntimeError("the floor server did not start")


async def round_trips(http: httpx.AsyncClient, floor_url: str, session_id: str, arm: Arm, count: int) -> None:
    body = {"events": [{"type": "user.message", "content": [{"type": "text", "text": "floor"}]}]}
    targets = {
        "floor": ("bare uvicorn + Starlette JSON route (no corral)", lambda: http.get(f"{floor_url}/")),
        "auth": ("corral: unknown route (authentication, routing, 404)", lambda: http.get("/v1/nothing-here")),
        "send": (
            "corral: events.send of one user.message",
            lambda: http.post(f"/v1/sessions/{session_id}/events", json=body),
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(count):
        for name, (_, call) in targets.items():
            began = time.perf_counter()
            await call()
            samples[name].append(time.perf_counter() - began)
    for name, (label, _) in targets.items():
        add_latency(arm, name, f"round trip, {label}", samples[name], ((0.5, "p50"), (0.95, "p95")))


async def _clients(http: httpx.AsyncClient, urls: list[str], requests: int) -> tuple[int, float, float]:
    """Every url POSTed ``requests`` times by its own task, all at once: (events stored, seconds, the CPU seconds
    this process, the client, used meanwhile)."""
    stored = [0]
    cpu = time.process_time()

    async def client(url: str) -> None:
        for _ in range(requests):
            response = await http.post(url, json=INGEST_BODY)
            response.raise_for_status()
            stored[0] += len(response.json()["data"])

    began = time.perf_counter()
    async with anyio.create_task_group() as group:
        for url in urls:
            group.start_soon(client, url)
    return stored[0], time.perf_counter() - began, time.process_time() - cpu


async def ingestion(
    ctx: Context, http: httpx.AsyncClient, floor_url: str, sessions: list[str], arm: Arm, requests: int, rounds: int
) -> None:
    """``events.send`` by ``len(sessions)`` concurrent clients (one session each) against the same POSTs to the bare
    Starlette floor by the same client at the same concurrency, interleaved by round: stored events/s, and the ratio
    of medians over rounds (an interval when there are 5 rounds or more)."""
    corral = [f"/v1/sessions/{sid}/events" for sid in sessions]
    floor = [f"{floor_url}/v1/sessions/{sid}/events" for sid in sessions]
    counts: dict[str, list[int]] = {"corral": [], "floor": []}
    client: dict[str, list[float]] = {"corral": [], "floor": []}

    def one(name: str, urls: list[str]) -> Callable[[], Awaitable[list[float]]]:
        async def call() -> list[float]:
            stored, seconds, cpu = await _clients(http, urls, requests)
            counts[name].append(stored)
            client[name].append(cpu / seconds)
            return [stored / seconds]

        return call

    calls = {"corral": one("corral", corral), "floor": one("floor", floor)}
    rates, failed = await interleave(ctx, f"api · events.send, {len(sessions)} clients", calls, rounds)
    if failed:
        arm.status = "failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        return
    concurrency = f"{len(sessions)} concurrent clients"
    for name, label in (("corral", "corral events.send"), ("floor", "bare Starlette POST")):
        estimate = stats.quantile_ci(rates[name], 0.5)
        label = f"{label}: stored events/s, {concurrency} (median of {rounds} rounds)"
        arm.add(Metric.of(f"{name}.rate", label, estimate, "events/s", n=sum(counts[name])))
        # near 1.0, the client process is saturated: the rate is the client's ceiling as much as the server's
        busy = f"the client's CPU (one Python process) in cores while POSTing to the {name} (median of rounds)"
        add_value(arm, f"{name}.client_cores", busy, statistics.median(client[name]), "cores")
    label = f"corral events.send ÷ bare Starlette, stored events/s at {concurrency} (ratio of medians)"
    add_ratio(arm, "ingest.vs_floor", label, rates["corral"], rates["floor"])
