"""Threads at run time, end to end through the official SDK against a live ``corral serve`` (API, workers, local
sandboxes) and a scripted model: a coordinator delegates to two sub-agents and merges their answers; a sub-agent's
permission request is cross-posted to the session, answered there and routed back to its thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from corral.testing import ScriptedModelServer, reply, text, tool_use
from corral.vocab.tools import DELEGATE
from tests.live import LiveServer
from tests.sdk_server import run_turn, sdk

pytestmark = pytest.mark.timeout(300)
SCRIPT: dict[str, Any] = {
    "rules": [
        {"system_contains": "RESEARCHER", "reply": reply(text("fact: the sky is blue"))},
        {"system_contains": "WRITER", "reply": reply(text("prose: a blue sky"))},
        {"system_contains": "ASKER", "contains": "ASKED-1-OUT", "reply": reply(text("asker done"))},
        {"system_contains": "ASKER", "reply": reply(tool_use("bash", {"command": "echo ASKED-$((1))-OUT"}))},
    ],
    "replies": [
        reply(
            tool_use(DELEGATE, {"agent": "researcher", "message": "find a fact"}),
            tool_use(DELEGATE, {"agent": "writer", "message": "write it up"}),
        ),
        reply(text("merged: fact and prose")),
    ],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, ScriptedModelServer]]:
    """``agent_server``'s setup, given longer to start (its workers and sandboxes; the machine may be busy)."""
    tmp = tmp_path_factory.mktemp("threads-e2e")
    with ScriptedModelServer(SCRIPT) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "5"}
        server = LiveServer(f"sqlite:///{tmp / 'corral.db'}", tmp / "data", env, start_timeout=240)
        try:
            server.start()
            yield server, model
        finally:
            server.stop()


@pytest.fixture(scope="module")
def client(served: tuple[LiveServer, ScriptedModelServer]) -> Iterator[anthropic.Anthropic]:
    with sdk(served[0]) as made:
        yield made


def _coordinator(client: anthropic.Anthropic, *members: tuple[str, str, Any]) -> str:
    roster: list[Any] = []
    for name, marker, tools in members:
        agent = client.beta.agents.create(
            name=name, model="claude-sonnet-4-6", system=f"You are {marker}.", description=f"the {name}", tools=tools
        )
        roster.append(agent.id)
    lead = client.beta.agents.create(
        name="lead", model="claude-sonnet-4-6", multiagent={"type": "coordinator", "agents": roster}
    )
    environment = client.beta.environments.create(name=f"threads-{lead.id}", config={"type": "cloud"})
    return client.beta.sessions.create(agent=lead.id, environment_id=environment.id).id


def test_a_coordinator_delegates_to_two_agents_and_merges_their_answers(client: anthropic.Anthropic) -> None:
    session_id = _coordinator(client, ("researcher", "RESEARCHER", []), ("writer", "WRITER", []))
    session = client.beta.sessions.retrieve(session_id)
    assert session.agent.multiagent is not None and session.agent.multiagent.type == "coordinator"
    assert [member.model_dump().get("system") for member in session.agent.multiagent.agents] == [
        "You are RESEARCHER.",
        "You are WRITER.",
    ]
    events = run_turn(client, session_id, "Research and write.")
    results = [e["content"][0]["text"] for e in events if e["type"] == "agent.tool_result"]
    assert results == ["fact: the sky is blue", "prose: a blue sky"]
    assert [e["content"][0]["text"] for e in events if e["type"] == "agent.message"] == ["merged: fact and prose"]
    created = [(e["agent_name"], e["session_thread_id"]) for e in events if e["type"] == "session.thread_created"]
    assert [name for name, _ in created] == ["researcher", "writer"]
    sent = [(e["to_agent_name"], e["content"][0]["text"]) for e in events if e["type"] == "agent.thread_message_sent"]
    assert sent == [("researcher", "find a fact"), ("writer", "write it up")]
    received = [e["from_session_thread_id"] for e in events if e["type"] == "agent.thread_message_received"]
    assert received == [thread_id for _, thread_id in created]
    idled = [e["session_thread_id"] for e in events if e["type"] == "session.thread_status_idle"]
    assert idled == received
    threads = list(client.beta.sessions.threads.list(session_id))
    assert [(t.parent_thread_id is None, t.status) for t in threads] == [
        (True, "idle"),
        (False, "idle"),
        (False, "idle"),
    ]
    assert [t.agent.model_dump().get("name") for t in threads[1:]] == ["researcher", "writer"]
    assert all(t.usage is not None and t.stats is not None for t in threads[1:])
    first = [e.type for e in client.beta.sessions.threads.events.list(created[0][1], session_id=session_id)]
    assert first[:3] == ["agent.thread_message_received", "user.message", "session.status_running"]
    assert first[-3:] == ["agent.message", "span.model_request_end", "session.status_idle"]


def test_a_sub_agents_permission_request_is_answered_on_the_session(client: anthropic.Anthropic) -> None:
    asking: Any = [
        {"type": "agent_toolset_20260401", "configs": [{"name": "bash", "permission_policy": {"type": "always_ask"}}]}
    ]
    session_id = _coordinator(client, ("researcher", "ASKER", asking), ("writer", "WRITER", []))
    seen: list[dict[str, Any]] = []
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": "go"}]}]
        )
        for event in stream:
            seen.append(event.model_dump())
            if event.type == "agent.tool_use" and event.evaluated_permission == "ask":
                assert event.session_thread_id is not None and event.name == "bash"
                client.beta.sessions.events.send(
                    session_id, events=[{"type": "user.tool_confirmation", "tool_use_id": event.id, "result": "allow"}]
                )
            if event.type == "session.status_idle":
                break
    results = [e["content"][0]["text"] for e in seen if e["type"] == "agent.tool_result"]
    assert results == ["asker done", "prose: a blue sky"]
    asked = next(e for e in seen if e["type"] == "agent.tool_use" and e.get("evaluated_permission") == "ask")
    thread_events = list(client.beta.sessions.threads.events.list(asked["session_thread_id"], session_id=session_id))
    confirmed = [e for e in thread_events if e.type == "user.tool_confirmation"]
    assert len(confirmed) == 1 and confirmed[0].result == "allow"
    outputs = [e for e in thread_events if e.type == "agent.tool_result"]
    assert len(outputs) == 1 and "ASKED-1-OUT" in str(outputs[0].content)


def test_kill_9_mid_delegation_finishes_every_thread_once(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic
) -> None:
    server, model = served
    before = len(model.requests)
    stalled: Any = {"content": [text("prose: late")], "latency": {"ttft": {"dist": "fixed", "seconds": 3600}}}
    model.set_script({**SCRIPT, "rules": [{"system_contains": "STALLER", "reply": stalled}, *SCRIPT["rules"]]})
    session_id = _coordinator(client, ("researcher", "RESEARCHER", []), ("writer", "STALLER", []))
    last = ""
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": "go"}]}]
        )
        for event in stream:
            if event.type == "session.thread_status_running" and event.agent_name == "writer":
                last = event.id
                break  # the writer's thread is running: the coordinator waits on it
    server.kill()
    unstalled = {"system_contains": "STALLER", "reply": reply(text("prose: on time"))}
    model.set_script({**SCRIPT, "rules": [unstalled, *SCRIPT["rules"]]})
    server.start()
    with (
        sdk(server) as fresh,
        fresh.beta.sessions.events.stream(session_id, extra_headers={"Last-Event-ID": last}) as resumed,
    ):
        for event in resumed:
            if event.type == "session.status_idle":
                break
        log = list(fresh.beta.sessions.events.list(session_id))
        threads = list(fresh.beta.sessions.threads.list(session_id))
    counts = {
        kind: sum(e.type == kind for e in log)
        for kind in (
            "session.thread_created",
            "agent.thread_message_sent",
            "agent.thread_message_received",
            "agent.tool_use",
        )
    }
    assert counts == dict.fromkeys(counts, 2)
    results = [e for e in log if e.type == "agent.tool_result"]
    assert len(results) == 2
    assert "prose: on time" in str(results[1].content) and "fact: the sky is blue" in str(results[0].content)
    assert [t.status for t in threads] == ["idle", "idle", "idle"]
    researcher = [r for r in model.requests[before:] if "RESEARCHER" in str(r.body.get("system"))]
    assert len(researcher) == 1  # the thread that had finished before the crash was not run again
    for thread in threads[1:]:
        events = list(client.beta.sessions.threads.events.list(thread.id, session_id=session_id))
        assert sum(e.type == "user.message" for e in events) == 1


def test_an_interrupt_reaches_the_running_thread(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic
) -> None:
    _, model = served
    stalled: Any = {"content": [text("prose: late")], "latency": {"ttft": {"dist": "fixed", "seconds": 3600}}}
    model.set_script({**SCRIPT, "rules": [{"system_contains": "STALLER", "reply": stalled}, *SCRIPT["rules"]]})
    session_id = _coordinator(client, ("researcher", "RESEARCHER", []), ("writer", "STALLER", []))
    sessions = client.beta.sessions
    with sessions.events.stream(session_id) as stream:
        sessions.events.send(session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": "go"}]}])
        writer = ""
        for event in stream:
            if event.type == "session.thread_status_running" and event.agent_name == "writer":
                writer = event.session_thread_id
                break
        with sessions.threads.events.stream(writer, session_id=session_id) as thread_stream:
            sessions.events.send(session_id, events=[{"type": "user.interrupt"}])
            stops: list[str] = []
            for event in thread_stream:
                if event.type == "session.status_idle":
                    stops.append(event.stop_reason.type)
                    break
        for event in stream:
            if event.type == "session.status_idle":
                break
    assert stops == ["end_turn"]
    assert {t.status for t in sessions.threads.list(session_id)} == {"idle"}
