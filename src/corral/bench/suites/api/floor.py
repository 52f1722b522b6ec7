"""The HTTP floor of the ``api`` suite: what one request costs on this machine before corral does anything.

``python -m corral.bench.suites.api.floor_app PORT`` serves one JSON route with the same server stack as ``corral
serve`` (uvicorn + Starlette, no middleware) and prints ``ready`` once it listens. ``round_trips`` times the same
client against it, against an unknown corral route (authentication and routing only) and against corral's
``events.send``, interleaved, so the platform's share of a request can be read off in one run.
"""

from __future__ import annotations

import sys
import time

import httpx

from corral.bench.measure import add_latency
from corral.bench.procs import BIN_PATH, Child, free_port
from corral.bench.results import Arm


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
