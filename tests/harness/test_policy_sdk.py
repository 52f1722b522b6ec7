"""Permission policies end to end through the official SDK: a live ``corral serve`` (API + workers + the local
bubblewrap sandbox) driven by a scripted model server.

``always_allow`` runs at once; ``always_ask`` idles ``requires_action`` until ``user.tool_confirmation`` (allow
runs, deny answers with the ``deny_message``); ``auto`` allows a safe call, denies a destructive one with the
documented message (the command never runs: the file it would delete is still there, read back in the same
sandbox), and asks about one it cannot judge; a policy changed by ``POST /v1/sessions/{id}`` governs the next call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import anthropic
import pytest
from anthropic.types.beta import BetaManagedAgentsAgentToolset20260401Params as Toolset
from anthropic.types.beta.sessions import BetaManagedAgentsEventParams as EventParams
from anthropic.types.beta.sessions import BetaManagedAgentsUserToolConfirmationEventParams as Confirmation

from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server

pytestmark = pytest.mark.timeout(300)

Answer = Callable[[dict[str, Any]], list[EventParams]]
DENIED = "Permission to use bash has been denied."


@pytest.fixture(scope="module")
def model_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer({"replies": []}) as server:
        yield server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, model_server: ScriptedModelServer) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("policies")
    env = {"ANTHROPIC_BASE_URL": model_server.url, "CORRAL_LEASE_TTL": "5", "CORRAL_EGRESS": "0"}
    with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
        yield running


@pytest.fixture
def client(live: LiveServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=live.base_url, api_key=live.api_key, max_retries=0) as made:
        yield made


TOOLSETS: dict[str, Toolset] = {
    "always_allow": {
        "type": "agent_toolset_20260401",
        "default_config": {"permission_policy": {"type": "always_allow"}},
    },
    "always_ask": {"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_ask"}}},
    "auto": {"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "auto"}}},
}


def start(client: anthropic.Anthropic, policy: str) -> str:
    """A new session whose agent's toolset has ``policy`` (in its own environment)."""
    agent = client.beta.agents.create(name=f"policy-{policy}", model="claude-sonnet-4-6", tools=[TOOLSETS[policy]])
    environment = client.beta.environments.create(name=f"policy-{agent.id}")
    return client.beta.sessions.create(agent=agent.id, environment_id=environment.id).id


def no_answer(idle: dict[str, Any]) -> list[EventParams]:
    raise AssertionError(f"the turn blocked unexpectedly: {idle}")


def turn(client: anthropic.Anthropic, session_id: str, prompt: str, answer: Answer = no_answer) -> list[dict[str, Any]]:
    """Send ``prompt`` and collect the turn's events, answering every ``requires_action`` with ``answer``."""
    seen: list[dict[str, Any]] = []
    message: EventParams = {"type": "user.message", "content": [{"type": "text", "text": prompt}]}
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(session_id, events=[message])  # the stream is subscribed already
        for event in stream:
            seen.append(event.model_dump())
            if event.type == "session.status_idle":
                if event.stop_reason.type == "requires_action":
                    client.beta.sessions.events.send(session_id, events=answer(seen[-1]))
                    continue
                break
    return seen


def confirm(result: Literal["allow", "deny"], deny_message: str | None = None) -> Answer:
    def answer(idle: dict[str, Any]) -> list[EventParams]:
        (call_id,) = idle["stop_reason"]["event_ids"]
        event: Confirmation = {"type": "user.tool_confirmation", "tool_use_id": call_id, "result": result}
        if deny_message is not None:
            event["deny_message"] = deny_message
        return [event]

    return answer


def in_order(*answers: Answer) -> Answer:
    pending = list(answers)
    return lambda idle: pending.pop(0)(idle)


def calls(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each tool call with its result."""
    results = {e["tool_use_id"]: e for e in events if e["type"] == "agent.tool_result"}
    return [(e, results[e["id"]]) for e in events if e["type"] == "agent.tool_use"]


def output(result: dict[str, Any]) -> tuple[str, bool]:
    return result["content"][0]["text"], result["is_error"]


def blocks(events: list[dict[str, Any]]) -> list[list[str]]:
    idles = [e for e in events if e["type"] == "session.status_idle"]
    return [e["stop_reason"]["event_ids"] for e in idles if e["stop_reason"]["type"] == "requires_action"]


def test_always_allow_runs_at_once(client: anthropic.Anthropic, model_server: ScriptedModelServer) -> None:
    model_server.set_script(
        {"replies": [reply(tool_use("bash", {"command": "echo ran > ran.txt && cat ran.txt"})), reply(text("Done."))]}
    )
    events = turn(client, start(client, "always_allow"), "Run it.")
    ((call, result),) = calls(events)
    assert (call["evaluated_permission"], call["evaluation"]) == ("allow", {"type": "always_allow"})
    assert output(result) == ("ran", False)
    assert blocks(events) == [] and events[-1]["stop_reason"]["type"] == "end_turn"


def test_always_ask_waits_for_each_confirmation(client: anthropic.Anthropic, model_server: ScriptedModelServer) -> None:
    model_server.set_script(
        {
            "replies": [
                reply(tool_use("bash", {"command": "echo allowed > a.txt && cat a.txt"})),
                reply(tool_use("bash", {"command": "echo denied > d.txt"})),
                reply(tool_use("bash", {"command": "ls"})),
                reply(text("Done.")),
            ]
        }
    )
    answer = in_order(confirm("allow"), confirm("deny", "not that file"), confirm("allow"))
    events = turn(client, start(client, "always_ask"), "Write both files.", answer)
    (first, first_result), (second, second_result), (_, listing) = calls(events)
    assert [call["id"] for call, _ in calls(events)] == [ids[0] for ids in blocks(events)]
    assert all(
        c["evaluated_permission"] == "ask" and c["evaluation"] == {"type": "always_ask"} for c in (first, second)
    )
    assert output(first_result) == ("allowed", False)
    assert second_result["is_error"] is True and "not that file" in output(second_result)[0]
    assert output(listing) == ("a.txt", False)  # the denied command never ran: there is no d.txt
    assert "not that file" in str(model_server.requests[-1].body["messages"])


def test_auto_allows_safe_calls_denies_destructive_ones_and_asks_about_the_rest(
    client: anthropic.Anthropic, model_server: ScriptedModelServer
) -> None:
    model_server.set_script(
        {
            "replies": [
                reply(tool_use("write", {"file_path": "keep.txt", "content": "precious"})),
                reply(tool_use("bash", {"command": "rm -rf /workspace"})),
                reply(tool_use("bash", {"command": "cat keep.txt"})),
                reply(tool_use("bash", {"command": "python3 -c 'print(6 * 7)'"})),
                reply(text("Done.")),
            ]
        }
    )
    session_id = start(client, "auto")
    events = turn(client, session_id, "Tidy up, but keep keep.txt.", confirm("allow"))
    (write, written), (wipe, wiped), (cat, kept), (python, computed) = calls(events)

    def verdict(call: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return call["evaluated_permission"], call["evaluation"]

    assert verdict(write) == ("allow", {"type": "auto", "evaluated_permission": {"type": "allow"}})
    assert output(written) == ("wrote 8 bytes to keep.txt", False)
    denied = {"type": "auto", "evaluated_permission": {"type": "deny", "reason_code": "high_risk"}}
    assert verdict(wipe) == ("deny", denied)
    assert output(wiped) == (DENIED, True)
    assert verdict(cat) == ("allow", {"type": "auto", "evaluated_permission": {"type": "allow"}})
    assert output(kept) == ("precious", False)  # the workspace survived: rm -rf never ran in the sandbox
    asked = {"type": "auto", "evaluated_permission": {"type": "ask", "reason_code": "indeterminate"}}
    assert verdict(python) == ("ask", asked)
    assert blocks(events) == [[python["id"]]]
    assert output(computed) == ("42", False)
    assert DENIED in str(model_server.requests[-1].body["messages"])  # the model was told
    with pytest.raises(anthropic.BadRequestError):  # nobody can override an auto denial
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.tool_confirmation", "tool_use_id": wipe["id"], "result": "allow"}]
        )


def test_a_policy_changed_mid_session_governs_the_next_call(
    client: anthropic.Anthropic, model_server: ScriptedModelServer
) -> None:
    model_server.set_script(
        {
            "replies": [
                reply(tool_use("bash", {"command": "echo 1 > marker && ls"})),
                reply(text("Listed.")),
                reply(tool_use("bash", {"command": "rm -rf /workspace"})),
                reply(tool_use("bash", {"command": "ls"})),
                reply(text("Refused, listed.")),
                reply(tool_use("bash", {"command": "ls"})),
                reply(tool_use("bash", {"command": "echo unasked"})),
                reply(text("Listed again.")),
            ]
        }
    )
    session_id = start(client, "always_allow")
    first = calls(turn(client, session_id, "List."))
    assert [(c["evaluation"], output(r)) for c, r in first] == [({"type": "always_allow"}, ("marker", False))]

    updated = client.beta.sessions.update(session_id, agent={"tools": [TOOLSETS["auto"]]})
    assert updated.model_dump()["agent"]["tools"][0]["default_config"]["permission_policy"] == {"type": "auto"}
    second = calls(turn(client, session_id, "Wipe it."))
    assert [(c["evaluated_permission"], output(r)) for c, r in second] == [
        ("deny", (DENIED, True)),
        ("allow", ("marker", False)),
    ]

    def relax_then_allow(idle: dict[str, Any]) -> list[EventParams]:
        """While the call waits, the policy becomes always_allow: the waiting call keeps its recorded ``ask``
        (it still needs this confirmation), and the next call runs without asking."""
        client.beta.sessions.update(session_id, agent={"tools": [TOOLSETS["always_allow"]]})
        return confirm("allow")(idle)

    client.beta.sessions.update(session_id, agent={"tools": [TOOLSETS["always_ask"]]})
    events = turn(client, session_id, "List again.", relax_then_allow)
    (asked, listing), (unasked, echoed) = calls(events)
    assert (asked["evaluation"], output(listing)) == ({"type": "always_ask"}, ("marker", False))
    assert (unasked["evaluation"], output(echoed)) == ({"type": "always_allow"}, ("unasked", False))
    assert blocks(events) == [[asked["id"]]]
