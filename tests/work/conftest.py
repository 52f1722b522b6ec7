"""Fixtures of the work-protocol tests: one live ``corral serve`` (API + harness workers) per engine for the
package, its model a scripted model server whose turn runs bash, write, read and edit and then answers; a
self-hosted environment with an environment key made through the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import anthropic
import anyio
import pytest

from corral._types import json_object
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server
from tests.sdk_server import sdk

NOTE = "written by the worker\n"
CRASH_SYSTEM = "You are the crash test."
#: the crash test's bash call: counts its runs, says it started, then waits for the test to let it finish
GATED = 'echo run >> runs.txt; echo started > started.fifo; read line < gate.fifo; echo "got $line"'
SCRIPT = {
    "rules": [
        {"contains": "got go", "reply": reply(text("Finished after the crash."))},
        {"system_contains": CRASH_SYSTEM, "reply": reply(tool_use("bash", {"command": GATED}))},
    ],
    "replies": [
        reply(tool_use("write", {"file_path": "note.txt", "content": NOTE})),
        reply(tool_use("edit", {"file_path": "note.txt", "old_string": "worker", "new_string": "self-hosted worker"})),
        reply(tool_use("read", {"file_path": "note.txt"})),
        reply(tool_use("bash", {"command": "pwd; cat note.txt"})),
        reply(text("Done on your machine.")),
    ],
}


@dataclass(frozen=True)
class Setup:
    live: LiveServer
    agent_id: str
    environment_id: str
    environment_key: str


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"work-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    with ScriptedModelServer(SCRIPT) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "5", "CORRAL_EGRESS": "0"}  # no sandbox here
        with live_server(db_url, data_dir=tmp / "data", env=env) as running:
            yield running


@pytest.fixture(scope="package")
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with sdk(server) as made:
        yield made


@pytest.fixture(scope="package")
def setup(server: LiveServer, client: anthropic.Anthropic) -> Setup:
    agent = client.beta.agents.create(
        name="Remote", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
    )
    environment = client.beta.environments.create(name="on-prem", config={"type": "self_hosted"})
    made = json_object(client.post(f"/v1/environments/{environment.id}/keys", body={"name": "tests"}, cast_to=object))
    assert made is not None
    return Setup(server, agent.id, environment.id, str(made["key"]))
