"""End to end through the official SDK: an agent with ``agent_toolset_20260401`` writes, runs and edits code
in an isolated sandbox of a live ``corral serve`` (API + workers + the local provider + the egress process),
driven by a scripted model server; a ``limited`` environment's network refuses what it does not allow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server
from tests.sdk_server import run_turn

pytestmark = pytest.mark.timeout(300)
PROGRAM = "print('hi from the sandbox')\n"
SCRIPT = {
    "replies": [
        reply(text("Writing the program."), tool_use("write", {"file_path": "hello.py", "content": PROGRAM})),
        reply(tool_use("bash", {"command": "python3 hello.py"})),
        reply(tool_use("edit", {"file_path": "hello.py", "old_string": "hi from", "new_string": "bye from"})),
        reply(tool_use("bash", {"command": "python3 hello.py; id -u; grep NoNewPrivs /proc/self/status"})),
        reply(tool_use("bash", {"command": "curl -sS -m 20 http://not-allowed.example/"})),
        reply(tool_use("read", {"file_path": "/etc/shadow"})),
        reply(text("Done.")),
    ]
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, ScriptedModelServer]]:
    tmp = tmp_path_factory.mktemp("sdk-sandbox")
    with ScriptedModelServer(SCRIPT) as model_server:
        env = {"ANTHROPIC_BASE_URL": model_server.url, "CORRAL_LEASE_TTL": "5"}
        with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
            yield running, model_server


def test_an_agent_writes_runs_and_edits_code_in_its_sandbox(server: tuple[LiveServer, ScriptedModelServer]) -> None:
    live, model_server = server
    with anthropic.Anthropic(base_url=live.base_url, api_key=live.api_key, max_retries=0) as client:
        agent = client.beta.agents.create(
            name="Coder", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
        )
        environment = client.beta.environments.create(
            name="sandboxed",
            config={"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["example.com"]}},
        )
        session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
        events = run_turn(client, session.id, "Write hello.py, run it, change it, run it again.")
    results = [e for e in events if e["type"] == "agent.tool_result"]
    outputs = [(r["content"][0]["text"], r["is_error"]) for r in results]
    assert outputs[:4] == [
        (f"wrote {len(PROGRAM)} bytes to hello.py", False),
        ("hi from the sandbox", False),
        ("edited hello.py (1 replacement(s))", False),
        ("bye from the sandbox\n1000\nNoNewPrivs:\t1", False),
    ]
    assert outputs[4] == (
        "corral egress refused this request: not-allowed.example is not in this environment's allowed hosts",
        False,
    )
    assert outputs[5] == ("read: /etc/shadow: outside the workspace and the mounts", True)
    assert events[-1]["stop_reason"]["type"] == "end_turn"
    last_request = model_server.requests[-1].body["messages"]
    assert "bye from the sandbox" in str(last_request)
    workspaces = list((Path(live.data_dir) / "sandbox").glob("journal/*"))
    assert [w.name for w in workspaces] == [session.id]
