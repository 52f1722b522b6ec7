"""kill -9 in the middle of an extension's work (issue 19): the turn finishes once, nothing lost or run twice.

A ``crash_worker`` process drives the session and sends itself SIGKILL at a point inside an extension's step;
then a worker in this process takes the session over from the log (once the dead worker's lease expired):

* ``context_built``: the retrieval strategy returned its context, nothing of it recorded yet. The survivor
  builds the context again; the request's span records what was retrieved once.
* ``tool_ran``: the search tool ran and its result is in the journal, not yet in the log. The survivor gets the
  journalled result back instead of running the tool again (its audit file has one line), and the turn goes on.

The router sends the planning request to the strong scripted model and the tool-result request to the cheap one.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from corral._types import JSONObject
from corral.config import ProviderConfig
from corral.db.engines import open_database
from corral.session import Event, SessionStore
from corral.testing import ScriptedModelServer
from tests.extensions.test_sdk import CHEAP, PASSAGES, SCRIPT, STRONG
from tests.harness.helpers import agent, create_session, running, settings_for, types, user_message, wait_idle
from tests.harness.workers import start_worker

pytestmark = pytest.mark.anyio
TTL = 2.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Setup:
    store: SessionStore
    env: dict[str, str]
    tmp: Path
    strong: ScriptedModelServer
    cheap: ScriptedModelServer


@pytest.fixture(scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    tmp = tmp_path_factory.mktemp("extension-crash")
    (tmp / "index.json").write_text(json.dumps({"passages": PASSAGES}))
    db_url = f"sqlite:///{tmp / 'corral.db'}"
    db = open_database(db_url)
    await db.open()
    store = SessionStore(db)
    with ScriptedModelServer(SCRIPT) as strong, ScriptedModelServer(SCRIPT) as cheap:
        env = {
            "CORRAL_DATABASE_URL": db_url,
            "CORRAL_DATA_DIR": str(tmp / "data"),
            "CORRAL_LEASE_TTL": str(TTL),
            "CORRAL_EGRESS": "0",
            "ANTHROPIC_BASE_URL": strong.url,
            "OPENAI_BASE_URL": cheap.url + "/v1",
        }
        try:
            yield Setup(store, env, tmp, strong, cheap)
        finally:
            await store.aclose()
            await db.close()


def agent_with_extensions(tmp: Path, audit: Path) -> JSONObject:
    """The session's agent snapshot, its ``corral`` object in the form the catalog stores."""
    index = str(tmp / "index.json")
    doc = agent(STRONG)
    doc["corral"] = {
        "extensions": {
            "context_strategy": {"name": "retrieval", "options": {"index": index}},
            "model_router": {"name": "cost_aware", "options": {"cheap": CHEAP, "strong": STRONG}},
            "tools": [
                {
                    "name": "search_notes",
                    "options": {"index": index, "audit": str(audit)},
                    "permission_policy": {"type": "always_allow"},
                }
            ],
        }
    }
    return doc


async def crash_at(setup: Setup, point: str) -> tuple[str, Path]:
    """A session driven by a worker that kills itself at ``point``; returns once the worker is dead."""
    audit = setup.tmp / f"audit-{point}.txt"
    crasher = await start_worker(
        ["-m", "tests.harness.crash_worker", point, "kill"], setup.env, setup.tmp / f"{point}.log"
    )
    await crasher.ready()
    session_id = await create_session(
        setup.store, agent_with_extensions(setup.tmp, audit), user_message("How do I rollback a deploy?")
    )
    with anyio.fail_after(120):
        await crasher.process.wait()
    await crasher.process.aclose()
    assert crasher.process.returncode == -signal.SIGKILL, crasher.text()[-2000:]
    return session_id, audit


async def survive(setup: Setup, session_id: str) -> list[Event]:
    cheap = ProviderConfig("openai", "openai", base_url=setup.cheap.url + "/v1", api_key="test")
    settings = settings_for(
        setup.strong.url, providers={"openai": cheap}, data_dir=setup.tmp / "data", lease_ttl_seconds=TTL
    )
    async with running(setup.store, settings):
        return await wait_idle(setup.store, session_id, wait=120)


def starts(events: list[Event]) -> list[JSONObject]:
    return [e.data() for e in events if e.type == "span.model_request_start"]


async def test_kill_9_inside_the_context_strategy(setup: Setup) -> None:
    session_id, audit = await crash_at(setup, "context_built")
    events = await survive(setup, session_id)
    assert types(events)[:3] == ["user.message", "session.status_running", "span.model_request_start"]
    assert [s["model"] for s in starts(events)] == [STRONG, CHEAP]
    first, second = starts(events)
    notes: dict[str, list[dict[str, str]]] = first["context"]["notes"]
    assert [[p["id"] for p in passages] for passages in notes.values()] == [["p1", "p2"]]
    assert second["context"]["notes"] == {}  # the second request reused what the first one recorded
    assert len(audit.read_text().splitlines()) == 1
    assert events[-1].data()["stop_reason"]["type"] == "end_turn"


async def test_kill_9_after_the_tool_ran_before_its_result_was_recorded(setup: Setup) -> None:
    session_id, audit = await crash_at(setup, "tool_ran")
    events = await survive(setup, session_id)
    kinds = types(events)
    assert kinds.count("session.status_rescheduled") == 1 and kinds.count("agent.tool_result") == 1
    [use] = [e for e in events if e.type == "agent.tool_use"]
    [result] = [e.data() for e in events if e.type == "agent.tool_result"]
    assert audit.read_text() == f"{use.id}\n"  # ran once, by the dead worker
    assert result["is_error"] is False and "[p1]" in json.dumps(result["content"])  # its journalled result
    assert [s["model"] for s in starts(events)] == [STRONG, CHEAP]
    assert events[-1].data()["stop_reason"]["type"] == "end_turn"
