"""Choosing a session's model through the official SDK (issue 10, defect 3):

* at creation, ``agent_with_overrides`` runs the session on another model (any provider) than its agent's;
* between turns, ``sessions.update(agent={"model": …})`` — a corral extension — moves the session to another
  provider, and its history carries over;
* a model that names no provider, an unknown provider or no model is refused when the agent is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import anthropic
import pytest

from corral.testing import ScriptedModelServer, reply, text
from tests.live import LiveServer, live_server


@pytest.fixture(scope="module")
def model_server() -> Iterator[ScriptedModelServer]:
    script = {"replies": [reply(text("first answer")), reply(text("second answer")), reply(text("third"))]}
    with ScriptedModelServer(script) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_server: ScriptedModelServer) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("model-choice")
    env = {"ANTHROPIC_BASE_URL": model_server.url, "OPENAI_BASE_URL": model_server.url + "/v1"}
    with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
        yield running


@pytest.fixture
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key, max_retries=0) as made:
        yield made


def turn(client: anthropic.Anthropic, session_id: str, words: str) -> list[Any]:
    seen: list[Any] = []
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": words}]}]
        )
        for event in stream:
            seen.append(event)
            if event.type == "session.status_idle":
                return seen
    raise AssertionError("the stream ended before the turn did")


def test_overrides_and_a_switch_between_turns(client: anthropic.Anthropic, model_server: ScriptedModelServer) -> None:
    agent = client.beta.agents.create(name="switcher", model="claude-sonnet-4-6")
    environment = client.beta.environments.create(name="switching")
    overrides = {"type": "agent_with_overrides", "id": agent.id, "model": "openai:gpt-test"}
    session = client.beta.sessions.create(agent=cast(Any, overrides), environment_id=environment.id)
    assert session.agent.model.id == "openai:gpt-test"
    before = len(model_server.requests)
    turn(client, session.id, "hello")
    assert [r.path for r in model_server.requests[before:]] == ["/v1/chat/completions"]
    updated = client.beta.sessions.update(session.id, agent=cast(Any, {"model": "claude-sonnet-4-6"}))
    assert updated.agent.model.id == "claude-sonnet-4-6" and updated.agent.model.effort is not None
    events = turn(client, session.id, "and now?")
    last = model_server.requests[-1]
    assert last.path == "/v1/messages" and last.body["model"] == "claude-sonnet-4-6"
    assert "first answer" in str(last.body["messages"])  # the history carries over to the other provider
    assert events[-1].stop_reason.type == "end_turn"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("gpt-4o", "model 'gpt-4o' names no provider"),
        ("nosuch:model", "no provider 'nosuch' is configured here"),
        ("openai:", "names the provider 'openai' but no model"),
    ],
)
def test_a_model_no_retry_can_fix_is_refused_when_the_agent_is_written(
    client: anthropic.Anthropic, model: str, message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.beta.agents.create(name="misnamed", model=model)
    agent = client.beta.agents.create(name="renamed", model="claude-sonnet-4-6")
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.beta.agents.update(agent.id, version=agent.version, model=model)
