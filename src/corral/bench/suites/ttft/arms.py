"""One ``ttft`` arm over one block of sessions: a fresh ``Runtime`` in the arm's provisioning mode, sessions
sent their first user message at their drawn (open-loop Poisson) arrival times, every turn timestamped.

Invariants: the arm's settings differ from the other arms' only in provisioning (mode, coupling, warm pool);
a session that does not finish within the deadline is recorded as an error, never dropped silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from corral._types import JSONObject
from corral.bench.suites.ttft.draws import SessionDraw
from corral.bench.suites.ttft.world import Recorder, SyntheticStart
from corral.catalog.limits import CatalogLimits
from corral.catalog.params.tools import AgentToolsetParams
from corral.catalog.tools import resolve_tools
from corral.config import ProviderConfig, Settings
from corral.harness import Runtime
from corral.sandbox import ProvisionSpec
from corral.session import NewEvent, NewSession, SessionStore
from corral.vocab.options import ProvisioningMode
from corral.vocab.tools import TOOLSET

WORKSPACE, ENVIRONMENT = "wrkspc_bench", "env_bench_ttft"
AGENT: JSONObject = {
    "type": "agent",
    "id": "agent_bench",
    "version": 1,
    "model": {"id": "claude-bench"},
    "system": "Be brief.",
    # resolved as the catalog resolves an agent's tools at the API edge (what a session's snapshot holds)
    "tools": resolve_tools([AgentToolsetParams(type=TOOLSET)], [], CatalogLimits()),
}


@dataclass(frozen=True)
class ArmSpec:
    name: str
    mode: str
    coupled: bool = False
    pooled: bool = False
    description: str = ""


ARMS = (
    ArmSpec("eager-coupled", "eager", coupled=True, description="provision at session start; inference waits for it"),
    ArmSpec("eager", "eager", description="corral's `eager`: provisioning starts at turn start, beside inference"),
    ArmSpec("lazy", "lazy", description="provision inside the first sandbox tool call"),
    ArmSpec("speculative", "speculative", description="provision when the stream shows a sandbox tool_use starting"),
    ArmSpec(
        "coupled-pool",
        "eager",
        coupled=True,
        pooled=True,
        description="coupled, claiming from an environment warm pool (refills run at the local provider's real speed)",
    ),
    ArmSpec("lazy-pool", "lazy", pooled=True, description="lazy, with an environment warm pool"),
    ArmSpec(
        "speculative-pool",
        "speculative",
        pooled=True,
        description="speculative (corral's `speculative` mode), claiming from an environment warm pool",
    ),
)
#: the arms the sensitivity table runs for each start-time variant (the headline ratio's two sides)
SENSITIVITY_ARMS = ("eager-coupled", "lazy")


@dataclass
class Outcome:
    index: int
    ttft: float | None
    first_tool_result: float | None
    done: float | None


def settings(data_dir: Path, model_url: str, mode: ProvisioningMode) -> Settings:
    provider = ProviderConfig("anthropic", "anthropic", base_url=model_url, api_key="bench")
    return Settings(
        sandbox_mode=mode,
        providers={"anthropic": provider},
        lease_ttl_seconds=30.0,
        model_retry_base_seconds=0.05,
        sandbox_idle_seconds=600.0,
        egress_enabled=False,
        data_dir=data_dir,
    )


def environment(arm: ArmSpec, pool: int) -> JSONObject:
    return {
        "type": "cloud",
        "networking": {"type": "unrestricted"},
        "corral": {"provisioning": arm.mode, "warm_pool_size": pool},
    }


async def _fill_pool(provider: SyntheticStart, size: int) -> None:
    spec = ProvisionSpec(session_id="sesn_poolwarmup", environment_id=ENVIRONMENT, warm_pool_size=size)
    await provider.inner.prepare(spec)
    for _ in range(12000):
        if provider.inner.warm_ready(spec) >= size:
            return
        await anyio.sleep(0.01)
    raise TimeoutError("the warm pool did not fill within 120 s")


async def run_block(
    store: SessionStore, provider: SyntheticStart, arm: ArmSpec, block: list[SessionDraw], base: Settings, pool: int
) -> list[Outcome]:
    recorder = Recorder(coupled=provider if arm.coupled else None)
    config = environment(arm, pool)

    async def environments(workspace_id: str, environment_id: str) -> JSONObject | None:
        return config

    ids: dict[int, str] = {}
    for draw in block:
        record, _ = await store.create_session(NewSession(WORKSPACE, "agent_bench", 1, ENVIRONMENT, {"agent": AGENT}))
        ids[draw.index] = record.id
        provider.delays[record.id] = draw.synthetic_start
    runtime = Runtime(store, base, sandbox=provider, environments=environments, hook=recorder, poll_interval=0.2)
    outcomes: list[Outcome] = []
    async with runtime.running():
        if pool:
            await _fill_pool(provider, pool)
        began, first = time.perf_counter(), block[0].arrival

        async def one(draw: SessionDraw) -> None:
            await anyio.sleep(max(0.0, began + draw.arrival - first - time.perf_counter()))
            outcomes.append(await _session(store, recorder, ids[draw.index], draw))

        async with anyio.create_task_group() as group:
            for draw in block:
                group.start_soon(one, draw)
    return outcomes


async def _session(store: SessionStore, recorder: Recorder, session_id: str, draw: SessionDraw) -> Outcome:
    message = NewEvent("user.message", {"content": [{"type": "text", "text": draw.text}]}, queued=True)
    await store.send_client_events(session_id, WORKSPACE, [message])
    accepted = time.perf_counter()
    with anyio.move_on_after(300):
        await recorder.idle_event(session_id).wait()

    def since(point: str) -> float | None:
        at = recorder.times.get((point, session_id))
        return None if at is None else at - accepted

    return Outcome(draw.index, since("first_token"), since("tool_recorded"), since("turn_idle"))
