"""kill -9 recovery matrix with two worker processes, on SQLite and on PostgreSQL; fencing of a paused worker.

Per engine, one database, one data dir (shared by the workers, as on one host) and one scripted model server
serve every scenario. A real ``corral worker`` (the survivor) runs throughout; each scenario starts a
``crash_worker`` that crashes (SIGKILL) or pauses (SIGSTOP) at a precise point of the turn. While the
scenario's session is created, the survivor is paused so that the crash worker is the one that claims it.

What must hold: the survivor takes the session over once the lease expires (``session.status_rescheduled``,
``session.status_running``), **finishes the turn**, and the transcript equals a crash-free run of the same
script (for a call killed mid-tool: except that call's result, which is the journal's ``interrupted`` error);
no side effect happens twice; a paused worker that lost its lease writes nothing after it resumes.

The scenario's command marks that it started, then waits for a gate file (``go``) in its workspace before it
marks that it finished: a scenario opens the gate once the command is running where it should finish, and the
mid-tool scenario kills the worker while the command waits, so no timing decides which side effect happens.
"""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from corral.config import Settings
from corral.db.engines import open_database
from corral.sandbox.local import LocalSandboxProvider
from corral.session import Event, SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.conftest import ENGINES, database_url
from tests.harness.helpers import (
    agent,
    create_session,
    eventually,
    has,
    transcript,
    types,
    user_message,
    wait_for,
    wait_idle,
)
from tests.harness.workers import WorkerProcess, start_worker

pytestmark = pytest.mark.anyio

TTL = 2.0
COMMAND = "echo started >> marks.txt; until [ -e go ]; do sleep 0.05; done; echo finished >> marks.txt; echo recorded"
SCRIPT = {
    "replies": [
        reply(text("I will record a mark now, step by step, as asked."), tool_use("bash", {"command": COMMAND})),
        reply(text("The mark is recorded.")),
    ],
    "latency": {"tokens_per_second": 20},
}
AGENT = agent(tools=[{"type": "agent_toolset_20260401"}])
PROMPT = "Record a mark"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Cluster:
    store: SessionStore
    env: dict[str, str]
    data_dir: Path
    logs: Path
    model: ScriptedModelServer
    survivor: WorkerProcess
    reference: list[Event] | None = None

    def workspace(self, session_id: str) -> Path:
        return LocalSandboxProvider(Settings(data_dir=self.data_dir)).workspace_path(session_id)

    def marks(self, session_id: str) -> str:
        path = self.workspace(session_id) / "marks.txt"
        return path.read_text() if path.exists() else ""


@pytest.fixture(scope="module", params=ENGINES)
async def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    tmp = tmp_path_factory.mktemp(f"recovery-{request.param}")
    db_url = await database_url(request.param, tmp)
    db = open_database(db_url)
    await db.open()
    store = SessionStore(db)
    with ScriptedModelServer(SCRIPT) as model:
        env = {
            "CORRAL_DATABASE_URL": db_url,
            "CORRAL_DATA_DIR": str(tmp / "data"),
            "CORRAL_LEASE_TTL": str(TTL),
            "CORRAL_MODEL_RETRY_BASE": "0.01",
            "CORRAL_EGRESS": "0",
            "ANTHROPIC_BASE_URL": model.url,
        }
        survivor = await start_worker(["-m", "corral", "worker"], env, tmp / "survivor.log")
        try:
            await survivor.ready()
            yield Cluster(store, env, tmp / "data", tmp, model, survivor)
        finally:
            await survivor.stop()
            await store.aclose()
            await db.close()


async def claimed_by(cluster: Cluster, crasher: WorkerProcess) -> str:
    """Create the scenario's session while the survivor is paused, so that ``crasher`` claims it."""
    cluster.survivor.send(signal.SIGSTOP)
    try:
        await eventually(cluster.survivor.stopped)
        session_id = await create_session(cluster.store, AGENT, user_message(PROMPT))
        # the session is created running; its first request shows a worker has it, and the survivor cannot
        await wait_for(cluster.store, session_id, has("span.model_request_start"), 120)
        owner = (await cluster.store.get_session(session_id)).lease_owner or ""
        assert f":{crasher.pid}:" in owner, owner
        return session_id
    finally:
        cluster.survivor.send(signal.SIGCONT)


async def open_gate(cluster: Cluster, session_id: str) -> None:
    """Let the session's command finish, once it has started (exactly once)."""
    await eventually(lambda: cluster.marks(session_id) == "started\n", 120)
    (cluster.workspace(session_id) / "go").touch()


async def crash_free(cluster: Cluster) -> list[Event]:
    """The same script run by the survivor alone (once per cluster)."""
    if cluster.reference is None:
        session_id = await create_session(cluster.store, AGENT, user_message(PROMPT))
        await open_gate(cluster, session_id)
        cluster.reference = await wait_idle(cluster.store, session_id, wait=120)
        assert cluster.marks(session_id) == "started\nfinished\n"
    return cluster.reference


def recovered(events: list[Event]) -> int:
    """Position of the takeover: ``session.status_rescheduled`` immediately followed by ``session.status_running``."""
    kinds = types(events)
    at = kinds.index("session.status_rescheduled")
    assert kinds[at + 1] == "session.status_running"
    assert kinds.count("session.status_rescheduled") == 1
    return at


async def run_crash(cluster: Cluster, name: str, point: str) -> tuple[str, WorkerProcess, float]:
    crasher = await start_worker(
        ["-m", "tests.harness.crash_worker", point, "kill"], cluster.env, cluster.logs / f"{name}.log"
    )
    await crasher.ready()
    session_id = await claimed_by(cluster, crasher)
    if point == "never":  # mid-tool: kill it from outside while the command waits at its gate
        await eventually(lambda: cluster.marks(session_id) == "started\n", 120)
        await crasher.kill()
    with anyio.fail_after(120):
        await crasher.process.wait()
    await crasher.process.aclose()
    assert crasher.process.returncode == -signal.SIGKILL
    return session_id, crasher, time.time()


def takeover_seconds(events: list[Event], at: int, killed_at: float) -> float:
    from corral.ids import parse_rfc3339

    return parse_rfc3339(events[at].created_at).timestamp() - killed_at


async def test_kill_9_mid_model_stream(cluster: Cluster) -> None:
    session_id, _, killed_at = await run_crash(cluster, "mid-stream", "first_token")
    await open_gate(cluster, session_id)
    events = await wait_idle(cluster.store, session_id, wait=120)
    at = recovered(events)
    assert types(events)[: at + 4] == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "session.status_rescheduled",
        "session.status_running",
        "span.model_request_end",
        "span.model_request_start",
    ]
    assert events[at + 2].data()["is_error"] is True
    assert events[at + 2].data()["model_request_start_id"] == events[2].id
    assert transcript(events) == transcript(await crash_free(cluster))
    assert cluster.marks(session_id) == "started\nfinished\n"
    print(f"takeover after kill: {takeover_seconds(events, at, killed_at):.2f}s (lease ttl {TTL}s)")


async def test_kill_9_between_tool_use_and_tool_result(cluster: Cluster) -> None:
    session_id, _, killed_at = await run_crash(cluster, "between", "response_recorded")
    await open_gate(cluster, session_id)
    events = await wait_idle(cluster.store, session_id, wait=120)
    at = recovered(events)
    assert types(events)[at - 2 : at + 3] == [
        "agent.tool_use",
        "span.model_request_end",
        "session.status_rescheduled",
        "session.status_running",
        "agent.tool_result",
    ]
    assert transcript(events) == transcript(await crash_free(cluster))
    assert cluster.marks(session_id) == "started\nfinished\n"  # the call never ran before: it ran once, now
    print(f"takeover after kill: {takeover_seconds(events, at, killed_at):.2f}s (lease ttl {TTL}s)")


async def test_kill_9_mid_tool(cluster: Cluster) -> None:
    session_id, _, killed_at = await run_crash(cluster, "mid-tool", "never")
    events = await wait_idle(cluster.store, session_id, wait=120)
    at = recovered(events)
    assert types(events)[at : at + 3] == ["session.status_rescheduled", "session.status_running", "agent.tool_result"]
    result = events[at + 2].data()
    assert result["is_error"] is True and "interrupted" in result["content"][0]["text"]
    got, want = transcript(events), transcript(await crash_free(cluster))
    index = [kind for kind, _ in got].index("agent.tool_result")
    assert got[:index] + got[index + 1 :] == want[:index] + want[index + 1 :]
    assert cluster.marks(session_id) == "started\n"  # started once, never run again
    print(f"takeover after kill: {takeover_seconds(events, at, killed_at):.2f}s (lease ttl {TTL}s)")


async def test_a_paused_worker_that_lost_its_lease_writes_nothing(cluster: Cluster) -> None:
    pauser = await start_worker(
        ["-m", "tests.harness.crash_worker", "response_recorded", "stop"], cluster.env, cluster.logs / "paused.log"
    )
    try:
        await pauser.ready()
        session_id = await claimed_by(cluster, pauser)
        await eventually(pauser.stopped, 120)
        await open_gate(cluster, session_id)
        events = await wait_idle(cluster.store, session_id, wait=120)
        recovered(events)
        pauser.send(signal.SIGCONT)
        await eventually(lambda: "lost the lease" in pauser.text(), 60)
        await pauser.stop()  # gone: whatever it would still have written is written by now
        assert await cluster.store.get_events(session_id) == events
        assert cluster.marks(session_id) == "started\nfinished\n"
        assert transcript(events) == transcript(await crash_free(cluster))
    finally:
        await pauser.stop()


async def test_the_survivor_alone_finishes_sessions(cluster: Cluster) -> None:
    events = await crash_free(cluster)
    assert "session.status_rescheduled" not in types(events)
    await wait_for(cluster.store, events[0].session_id, lambda log: log[-1].type == "session.status_idle")
