"""The SDK quickstart end to end: the official ``anthropic`` SDK → a live ``corral serve`` (API + workers) →
a scripted model server, for both providers (Anthropic Messages and OpenAI-compatible Chat Completions)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import anthropic
import anyio
import pytest
from anthropic.types.beta import BetaManagedAgentsCustomToolParams
from anthropic.types.beta.sessions import (
    BetaManagedAgentsEventParams,
    BetaManagedAgentsSessionStatusIdleEvent,
    BetaManagedAgentsStreamSessionEvents,
)

from corral.testing import ScriptedModelServer, reply, text, thinking, tool_use
from tests.conformance.helpers import stop_of, text_of, user_message
from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server, scrubbed_env

MODELS = ["claude-sonnet-4-6", "openai:gpt-test"]

Answer = Callable[[BetaManagedAgentsSessionStatusIdleEvent], Sequence[BetaManagedAgentsEventParams]]
"""What the client sends when the session blocks (``requires_action``)."""


@pytest.fixture(scope="module")
def model_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer({"replies": []}) as server:
        yield server


@pytest.fixture(scope="module", params=ENGINES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_server: ScriptedModelServer
) -> Iterator[LiveServer]:
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"sdk-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    env = {
        "ANTHROPIC_BASE_URL": model_server.url,
        "OPENAI_BASE_URL": model_server.url + "/v1",
        "CORRAL_LEASE_TTL": "3",
        "CORRAL_MODEL_RETRY_BASE": "0.01",
    }
    with live_server(db_url, data_dir=tmp / "data", env=env) as running:
        yield running


@pytest.fixture
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key, max_retries=0) as made:
        yield made


def drain(
    client: anthropic.Anthropic,
    session_id: str,
    first: Sequence[BetaManagedAgentsEventParams],
    answer: Answer | None = None,
) -> list[BetaManagedAgentsStreamSessionEvents]:
    """Open the stream, then send ``first``; collect events until the turn is over (answering blocks).

    ``first`` is sent once the stream's response has begun: the server subscribes before it answers, so
    nothing appended from then on is missed.
    """
    seen: list[BetaManagedAgentsStreamSessionEvents] = []
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(session_id, events=first)
        for event in stream:
            seen.append(event)
            if event.type == "session.status_idle":
                if stop_of(event) == "requires_action":
                    assert answer is not None, "the session blocked, and this test has no answer"
                    client.beta.sessions.events.send(session_id, events=answer(event))
                    continue
                break
    return seen


@pytest.mark.parametrize("model", MODELS)
def test_quickstart_with_the_sdk(client: anthropic.Anthropic, model_server: ScriptedModelServer, model: str) -> None:
    model_server.set_script({"replies": [reply(thinking("Greet back."), text("Hello from corral!"))]})
    agent = client.beta.agents.create(name="Quickstart", model=model, system="You are a helpful assistant.")
    environment = client.beta.environments.create(
        name=f"qs-{model}", config={"type": "cloud", "networking": {"type": "unrestricted"}}
    )
    session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id, title="Quickstart")
    assert session.status == "idle"
    events = drain(client, session.id, [user_message("Say hello")])
    assert [e.type for e in events] == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "agent.thinking",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    assert text_of(events[4]) == "Hello from corral!"
    assert stop_of(events[-1]) == "end_turn"
    final = client.beta.sessions.retrieve(session.id)
    assert final.status == "idle"
    assert (final.usage.output_tokens or 0) > 0
    listed = [e.type for e in client.beta.sessions.events.list(session.id)]
    assert listed == [e.type for e in events]


@pytest.mark.parametrize("model", MODELS)
def test_custom_tool_with_the_sdk(client: anthropic.Anthropic, model_server: ScriptedModelServer, model: str) -> None:
    model_server.set_script(
        {
            "replies": [
                reply(text("Checking."), tool_use("get_weather", {"city": "Paris"})),
                reply(text("18C in Paris.")),
            ]
        }
    )
    weather: BetaManagedAgentsCustomToolParams = {
        "type": "custom",
        "name": "get_weather",
        "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    agent = client.beta.agents.create(name="Weather", model=model, tools=[weather])
    environment = client.beta.environments.create(name=f"weather-{model}")
    session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)

    def answer(idle: BetaManagedAgentsSessionStatusIdleEvent) -> list[BetaManagedAgentsEventParams]:
        assert idle.stop_reason.type == "requires_action"
        (call_id,) = idle.stop_reason.event_ids
        return [
            {
                "type": "user.custom_tool_result",
                "custom_tool_use_id": call_id,
                "content": [{"type": "text", "text": "18C"}],
            }
        ]

    events = drain(client, session.id, [user_message("Paris?")], answer)
    kinds = [e.type for e in events]
    assert kinds.count("session.status_idle") == 2
    call = next(e for e in events if e.type == "agent.custom_tool_use")
    assert call.type == "agent.custom_tool_use"
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    assert kinds[kinds.index("user.custom_tool_result") + 1] == "session.status_running"
    assert events[-2].type == "span.model_request_end" and stop_of(events[-1]) == "end_turn"
    assert [text_of(e) for e in events if e.type == "agent.message"] == ["Checking.", "18C in Paris."]


def test_api_only_servers_and_a_separate_worker_on_postgres(
    tmp_path_factory: pytest.TempPathFactory, model_server: ScriptedModelServer
) -> None:
    """The deployment shape: `corral serve` with CORRAL_WORKERS=0 plus a `corral worker`, on one PostgreSQL."""
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp("split")
    db_url = anyio.run(database_url, "postgres", tmp)
    env = {"ANTHROPIC_BASE_URL": model_server.url, "CORRAL_DATA_DIR": str(tmp / "data"), "CORRAL_EGRESS": "0"}
    model_server.set_script({"replies": [reply(text("Served by a separate worker."))]})
    with live_server(db_url, data_dir=tmp / "data", env={**env, "CORRAL_WORKERS": "0"}) as api:
        log = (tmp / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "corral", "worker"],
            env=scrubbed_env({**env, "CORRAL_DATABASE_URL": db_url}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with anthropic.Anthropic(base_url=api.base_url, api_key=api.api_key, max_retries=0) as client:
                agent = client.beta.agents.create(name="Split", model="claude-sonnet-4-6")
                environment = client.beta.environments.create(name="split")
                session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
                events = drain(client, session.id, [user_message("Hi")])
        finally:
            worker.terminate()
            worker.wait(30)
            log.close()
    assert events[-1].type == "session.status_idle" and stop_of(events[-1]) == "end_turn"
    assert [text_of(e) for e in events if e.type == "agent.message"] == ["Served by a separate worker."]
