"""Each class of event an operator must see is a log line, with the ids of where it happened, and a metric.

In-process, on the real components (a SQLite store, the harness against a scripted model server, the local
sandbox provider, the egress's guarded transport); ``lines`` reads what ``corral.logs`` wrote.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from corral.compose.services import open_services
from corral.db.engines import open_database
from corral.egress.addon import refusal
from corral.egress.addresses import AddressGuard
from corral.egress.guarded import guarded_client
from corral.egress.policy import Refused
from corral.harness import emits
from corral.harness.decide import RUNNING
from corral.sandbox.local import LocalSandboxProvider
from corral.session import SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import agent, create_session, running, settings_for, user_message, wait_idle
from tests.observe.conftest import Lines
from tests.sandbox.conftest import TIGHT, Runner, new_spec, open_provider, wait_until

pytestmark = pytest.mark.anyio
TOOLSET = [{"type": "agent_toolset_20260401"}]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SessionStore]:
    db = open_database(f"sqlite:///{tmp_path / 'corral.db'}")
    await db.open()
    sessions = SessionStore(db)
    try:
        yield sessions
    finally:
        await sessions.aclose()
        await db.close()


@pytest.fixture(scope="module")
async def provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSandboxProvider]:
    async with open_provider(tmp_path_factory.mktemp("sandboxes")) as opened:
        yield opened


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_crash_recovery_is_a_line_and_a_lease_takeover(store: SessionStore, lines: Lines) -> None:
    before = sample("corral_lease_takeovers_total")
    session_id = await create_session(store, agent(), user_message("Go"))
    # what a worker that died mid-stream leaves: the turn running, a model request open
    await store.emit_events(session_id, [RUNNING, emits.span_start("claude-test")])
    async with ScriptedModelServer({"replies": [reply(text("Done."))]}) as model:
        async with running(store, settings_for(model.url)):
            await wait_idle(store, session_id)
    (line,) = lines.containing("crash recovery")
    assert line["level"] == "warning" and line["session_id"] == session_id and line["turn_id"].startswith("turn_")
    assert sample("corral_lease_takeovers_total") == before + 1


async def test_a_model_failure_names_the_provider_and_its_url(store: SessionStore, lines: Lines) -> None:
    port = closed_port()
    before = sample("corral_model_failures_total", provider="anthropic")
    settings = settings_for(f"http://127.0.0.1:{port}", model_max_retries=0)
    session_id = await create_session(store, agent(), user_message("Go"))
    async with running(store, settings):
        await wait_idle(store, session_id)
    (line,) = lines.containing("model request failed")
    assert f"anthropic (http://127.0.0.1:{port})" in line["message"] and line["session_id"] == session_id
    assert sample("corral_model_failures_total", provider="anthropic") == before + 1


async def test_a_sandbox_death_is_a_line_naming_the_turn_and_the_tool_call(
    store: SessionStore, provider: LocalSandboxProvider, lines: Lines
) -> None:
    before = sample("corral_sandbox_deaths_total"), sample("corral_tool_calls_total", tool="bash")
    script = {"replies": [reply(tool_use("bash", {"command": "kill -9 $PPID; sleep 5"})), reply(text("It died."))]}
    session_id = await create_session(store, agent(tools=TOOLSET), user_message("Go"))
    async with ScriptedModelServer(script) as model:
        async with running(store, settings_for(model.url), sandbox=provider):
            events = await wait_idle(store, session_id)
    (call,) = [event for event in events if event.type == "agent.tool_use"]
    (died,) = lines.containing(f"the sandbox of {session_id} died during bash")
    assert died["tool_call_id"] == call.id and died["turn_id"].startswith("turn_")
    assert lines.containing("the sandbox stopped unexpectedly")  # the provider's own line, with the reason
    assert sample("corral_sandbox_deaths_total") == before[0] + 1
    assert sample("corral_tool_calls_total", tool="bash") == before[1] + 1


async def test_an_oom_kill_is_a_line(provider: LocalSandboxProvider, lines: Lines) -> None:
    before = sample("corral_sandbox_oom_kills_total")
    sandbox = await provider.provision(new_spec(limits=TIGHT))
    try:
        await Runner(sandbox).fails("bash", command="python3 -c 'x = bytearray(400 << 20)'")
    finally:
        await sandbox.release()
    (line,) = lines.containing("OOM kill")
    assert "128 MiB memory limit" in line["message"] and line["level"] == "warning"
    assert sample("corral_sandbox_oom_kills_total") > before


async def test_a_warm_pool_reports_its_size(provider: LocalSandboxProvider) -> None:
    spec = new_spec(environment_id="env_observed", warm_pool_size=1)
    await (await provider.provision(spec)).release()
    await wait_until(lambda: provider.warm_ready(spec) == 1)
    assert sample("corral_sandbox_pool_size", environment="env_observed") == 1


async def test_egress_refusals_are_lines_and_counted(lines: Lines) -> None:
    before = sample("corral_egress_refusals_total")
    async with guarded_client(AddressGuard()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port()}/")
    assert refusal(Refused("example.internal resolves to a private address")).status_code == 403  # the proxy's
    server_side, proxied = lines.containing("egress refused")
    assert "127.0.0.1" in server_side["message"] and "example.internal" in proxied["message"]
    assert sample("corral_egress_refusals_total") == before + 2


async def test_a_configuration_problem_is_a_line(tmp_path: Path, lines: Lines) -> None:
    settings = settings_for("http://127.0.0.1:9", data_dir=tmp_path, sandbox_provider="nowhere", egress_enabled=False)
    async with open_services(settings):
        pass
    (line,) = lines.containing("sandbox provider 'nowhere' unavailable")
    assert line["level"] == "warning"
