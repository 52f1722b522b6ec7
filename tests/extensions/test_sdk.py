"""``corral.extend`` through the official SDK (issue 19): an agent whose ``corral.extensions`` (sent with
``extra_body``) select the installed example packages (``examples/extensions``) runs with their retrieval context
strategy, their search tool and their cost-aware router between two scripted model servers; a name not installed
is a 400; an extension that fails is a ``session.error`` naming it, never a stuck session.

One live ``corral serve`` for the module; the strong model is the ``anthropic`` provider's scripted server, the
cheap one the ``openai`` provider's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import anthropic
import pytest

from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server

SCRIPT = {
    "replies": [
        reply(text("Let me look that up."), tool_use("search_notes", {"query": "rollback deploy"})),
        reply(text("Run corral rollback, then check the health page.")),
    ]
}
PASSAGES = [
    {"id": "p1", "text": "To rollback a deploy, run corral rollback with the release id."},
    {"id": "p2", "text": "The health page lists every service after a deploy."},
    {"id": "p3", "text": "Lunch is at noon on Fridays."},
]
STRONG, CHEAP = "claude-strong-test", "openai:cheap-test"


@pytest.fixture(scope="module")
def strong() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(SCRIPT) as server:
        yield server


@pytest.fixture(scope="module")
def cheap() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(SCRIPT) as server:
        yield server


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("extension-files")
    (tmp / "index.json").write_text(json.dumps({"passages": PASSAGES}))
    return tmp


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, strong: ScriptedModelServer, cheap: ScriptedModelServer
) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("extensions")
    env = {"ANTHROPIC_BASE_URL": strong.url, "OPENAI_BASE_URL": cheap.url + "/v1"}
    with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
        yield running


@pytest.fixture
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key, max_retries=0) as made:
        yield made


def extensions(files: Path, **overrides: Any) -> dict[str, Any]:
    index = str(files / "index.json")
    chosen: dict[str, Any] = {
        "context_strategy": {"name": "retrieval", "options": {"index": index}},
        "model_router": {"name": "cost_aware", "options": {"cheap": CHEAP, "strong": STRONG}},
        "tools": [
            {
                "name": "search_notes",
                "options": {"index": index, "audit": str(files / "audit.txt")},
                "permission_policy": {"type": "always_allow"},
            }
        ],
        "observers": [{"name": "point_log", "options": {"path": str(files / "points.txt")}}],
    }
    return {"corral": {"extensions": chosen | overrides}}


def turn(client: anthropic.Anthropic, agent_id: str, words: str) -> tuple[str, list[Any]]:
    environment = client.beta.environments.create(name=f"extensions-{agent_id}")
    session = client.beta.sessions.create(agent=agent_id, environment_id=environment.id)
    seen: list[Any] = []
    with client.beta.sessions.events.stream(session.id) as stream:
        client.beta.sessions.events.send(
            session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": words}]}]
        )
        for event in stream:
            seen.append(event)
            if event.type == "session.status_idle":
                return session.id, seen
    raise AssertionError("the stream ended before the turn did")


def extra(model: Any) -> dict[str, Any]:
    """The fields an SDK model received beyond those it declares (corral's extensions)."""
    return dict(model.model_extra or {})


def test_an_agent_runs_with_a_third_party_strategy_router_and_tool(
    client: anthropic.Anthropic, files: Path, strong: ScriptedModelServer, cheap: ScriptedModelServer
) -> None:
    agent = client.beta.agents.create(name="notes", model=STRONG, system="Be brief.", extra_body=extensions(files))
    assert extra(agent)["corral"]["extensions"]["model_router"]["name"] == "cost_aware"
    session_id, events = turn(client, agent.id, "How do I rollback a deploy?")
    assert events[-1].stop_reason.type == "end_turn"
    log = list(client.beta.sessions.events.list(session_id))
    starts = [extra(e) for e in log if e.type == "span.model_request_start"]  # corral's fields: model, context …
    # the strong model planned (with the passages retrieved for the question in its system prompt) ...
    assert [s["model"] for s in starts] == [STRONG, CHEAP]
    assert starts[0]["routed_by"]["router"] == "cost_aware" and starts[0]["routed_by"]["agent_model"] == STRONG
    [planned] = strong.requests
    assert "corral rollback with the release id" in str(planned.body["system"])
    assert "Lunch" not in str(planned.body["system"])
    notes: dict[str, list[dict[str, str]]] = starts[0]["context"]["notes"]
    assert starts[0]["context"]["strategy"] == "retrieval"
    assert [[p["id"] for p in passages] for passages in notes.values()] == [["p1", "p2"]]
    # ... its search ran on the harness side, once, under the policy the agent set ...
    [use] = [e for e in log if e.type == "agent.tool_use"]
    assert use.name == "search_notes" and use.evaluated_permission == "allow"
    [result] = [e for e in log if e.type == "agent.tool_result"]
    assert not result.is_error and "[p1]" in str(result.content)
    assert (files / "audit.txt").read_text() == f"{use.id}\n"
    # ... and the cheap model read the result back, with the same context strategy (its note reused)
    [answered] = cheap.requests
    assert "[p1]" in json.dumps(answered.body["messages"])
    assert str(starts[1]["routed_by"]["reason"]).startswith("tool results")
    assert starts[1]["context"]["notes"] == {}
    points = (files / "points.txt").read_text().split()
    assert points[:4] == [session_id, "context_built", session_id, "model_request_started"]
    assert points[-1] == "turn_idle" and "tool_ran" in points


def test_an_extension_that_is_not_installed_is_refused(client: anthropic.Anthropic, files: Path) -> None:
    body = extensions(files, model_router={"name": "nosuch"})
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.agents.create(name="bad", model=STRONG, extra_body=body)
    assert "no model router named 'nosuch' is installed here (installed: cost_aware, default)" in str(refused.value)
    agent = client.beta.agents.create(name="fine", model=STRONG)
    with pytest.raises(anthropic.BadRequestError, match="no server-side tool named 'nosuch'"):
        client.beta.agents.update(
            agent.id, version=1, extra_body={"corral": {"extensions": {"tools": [{"name": "nosuch"}]}}}
        )
    assert "corral" not in extra(client.beta.agents.retrieve(agent.id))


def test_a_failing_extension_is_a_session_error_naming_it(client: anthropic.Anthropic, files: Path) -> None:
    broken = {"name": "retrieval", "options": {"index": str(files / "missing.json")}}
    agent = client.beta.agents.create(
        name="broken", model=STRONG, extra_body=extensions(files, context_strategy=broken)
    )
    _, events = turn(client, agent.id, "How do I rollback a deploy?")
    [error] = [e for e in events if e.type == "session.error"]
    assert "the context strategy 'retrieval' failed: FileNotFoundError" in error.error.message
    assert error.error.retry_status.type == "exhausted"
    assert events[-1].stop_reason.type == "retries_exhausted"


def test_a_failing_observer_or_tool_is_named_and_the_turn_goes_on(
    client: anthropic.Anthropic, files: Path, tmp_path: Path
) -> None:
    # a directory where the observer and the tool expect a file: each write they try raises
    tools = [{"name": "search_notes", "options": {"index": str(files / "index.json"), "audit": str(tmp_path)}}]
    tools[0]["permission_policy"] = {"type": "always_allow"}
    body = extensions(files, tools=tools, observers=[{"name": "point_log", "options": {"path": str(tmp_path)}}])
    agent = client.beta.agents.create(name="clumsy", model=STRONG, extra_body=body)
    session_id, events = turn(client, agent.id, "How do I rollback a deploy?")
    assert events[-1].stop_reason.type == "end_turn"
    log = list(client.beta.sessions.events.list(session_id))
    errors = [e.error for e in log if e.type == "session.error"]
    assert all(error.retry_status.type == "retrying" for error in errors)
    messages = [error.message for error in errors]
    assert any(m.startswith("the turn observer 'point_log' failed: IsADirectoryError") for m in messages)
    assert any(m.startswith("the server-side tool 'search_notes' failed: IsADirectoryError") for m in messages)
    [result] = [e for e in log if e.type == "agent.tool_result"]
    assert result.is_error and "tool 'search_notes' failed" in str(result.content)


def test_the_selection_is_kept_on_update_and_cleared_by_null(client: anthropic.Anthropic, files: Path) -> None:
    agent = client.beta.agents.create(name="kept", model=STRONG, extra_body=extensions(files))
    renamed = client.beta.agents.update(agent.id, version=1, name="renamed")
    assert extra(renamed)["corral"] == extra(agent)["corral"]
    environment = client.beta.environments.create(name=f"kept-{agent.id}")
    session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    assert extra(session.agent)["corral"] == extra(agent)["corral"]  # the session's snapshot carries it
    cleared = client.beta.agents.update(agent.id, version=2, extra_body={"corral": None})
    assert "corral" not in extra(cleared) and cleared.version == 3


def test_a_server_side_tool_asks_first_by_default(client: anthropic.Anthropic, files: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.txt"
    tools = [{"name": "search_notes", "options": {"index": str(files / "index.json"), "audit": str(audit)}}]
    agent = client.beta.agents.create(name="asks", model=STRONG, extra_body=extensions(files, tools=tools))
    assert extra(agent)["corral"]["extensions"]["tools"][0]["permission_policy"] == {"type": "always_ask"}
    session_id, events = turn(client, agent.id, "How do I rollback a deploy?")
    [use] = [e for e in events if e.type == "agent.tool_use"]
    assert use.evaluated_permission == "ask" and events[-1].stop_reason.type == "requires_action"
    assert not audit.exists()  # nothing ran before the client allowed it
    with client.beta.sessions.events.stream(session_id) as stream:
        confirmation = {"type": "user.tool_confirmation", "tool_use_id": use.id, "result": "allow"}
        client.beta.sessions.events.send(session_id, events=[cast(Any, confirmation)])
        for event in stream:
            if event.type == "session.status_idle" and event.stop_reason.type != "requires_action":
                assert event.stop_reason.type == "end_turn"
                break
    assert audit.read_text() == f"{use.id}\n"
