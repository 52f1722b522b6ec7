"""The real parts the ``ttft`` arms run on: a scripted model server process, the local sandbox provider with
a synthetic start time added to cold provisions, and a hook that timestamps the points of every turn.

Invariants:

* ``SyntheticStart`` delegates every call to the real provider; it only waits first, for the session's drawn
  start time, when the provision is cold (no live sandbox of the session, no ready warm sandbox), and it
  counts provisions and sandbox-seconds as a cost proxy.
* ``Recorder`` only records times (and, for the coupled arm, holds the model request until the session's
  sandbox is up: the coupled design, built from the harness's own ``eager`` start plus this wait).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio

from corral._types import JSONObject
from corral.bench.suites.ttft.draws import Params
from corral.sandbox import ProvisionSpec, Sandbox, SandboxProvider, ToolResult
from corral.vocab.tools import BASH


def script(params: Params, seed: int) -> JSONObject:
    latency = {
        "ttft": {"dist": "lognormal", "median": params.model_ttft_median, "sigma": params.model_ttft_sigma},
        "tokens_per_second": params.tokens_per_second,
        "seed": seed,
    }
    call = {"type": "tool_use", "name": BASH, "input": {"command": "true"}}
    first = {"content": [{"type": "text", "text": "Let me run that."}, call]}
    final = {"content": [{"type": "text", "text": "Done: it worked."}], "stop_reason": "end_turn"}
    no_hands = {"content": [{"type": "text", "text": "Here is the answer, no tools needed."}]}
    rules = [{"contains": "[nohands]", "reply": no_hands}]
    return {"replies": [first, final], "rules": rules, "latency": latency, "repeat_last": True}


class _Timed(Sandbox):
    """The real sandbox, with its lifetime counted for the cost proxy."""

    def __init__(self, inner: Sandbox, owner: SyntheticStart):
        self.inner, self.owner, self.session_id = inner, owner, inner.session_id
        self.started = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.inner.alive

    async def execute(self, name: str, input: JSONObject, tool_use_id: str) -> ToolResult:
        return await self.inner.execute(name, input, tool_use_id)

    async def release(self) -> None:
        self.owner.sandbox_seconds += time.monotonic() - self.started
        await self.inner.release()


@dataclass
class SyntheticStart(SandboxProvider):
    inner: SandboxProvider
    delays: dict[str, float] = field(default_factory=lambda: dict[str, float]())  # session id → extra seconds
    provisions: int = 0  # calls to provision (started)
    cold: int = 0  # of which cold (not a live or warm sandbox)
    sandbox_seconds: float = 0.0
    ready: dict[str, anyio.Event] = field(default_factory=lambda: dict[str, anyio.Event]())
    name: str = "synthetic-start"

    def event(self, session_id: str) -> anyio.Event:
        return self.ready.setdefault(session_id, anyio.Event())

    async def provision(self, spec: ProvisionSpec) -> Sandbox:
        try:
            self.provisions += 1
            if _cold(self.inner, spec):
                self.cold += 1
                await anyio.sleep(self.delays.get(spec.session_id, 0.0))
            return _Timed(await self.inner.provision(spec), self)
        finally:
            self.event(spec.session_id).set()

    async def recorded(self, session_id: str, tool_use_id: str) -> ToolResult | None:
        return await self.inner.recorded(session_id, tool_use_id)


def _cold(provider: SandboxProvider, spec: ProvisionSpec) -> bool:
    # A session whose own sandbox still runs provisions nothing (no public way to ask: read the local
    # provider's table); otherwise a provision is warm when the environment's pool has a sandbox ready.
    live = getattr(provider, "_live", {}).get(spec.session_id)
    if live is not None and live.alive:
        return False
    return provider.warm_ready(spec) == 0


@dataclass
class Recorder:
    """The harness hook: first time each point is reached, per session (``time.perf_counter`` seconds)."""

    coupled: SyntheticStart | None = None
    times: dict[tuple[str, str], float] = field(default_factory=lambda: dict[tuple[str, str], float]())
    idle: dict[str, anyio.Event] = field(default_factory=lambda: dict[str, anyio.Event]())

    def idle_event(self, session_id: str) -> anyio.Event:
        return self.idle.setdefault(session_id, anyio.Event())

    async def __call__(self, point: str, session_id: str) -> None:
        self.times.setdefault((point, session_id), time.perf_counter())
        if point == "model_request_started" and self.coupled is not None:
            with anyio.move_on_after(300):  # the coupled design: no inference before the sandbox is up
                await self.coupled.event(session_id).wait()
        elif point == "turn_idle":
            self.idle_event(session_id).set()
