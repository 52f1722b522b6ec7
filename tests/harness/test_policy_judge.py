"""The judge of ``auto`` is replaceable: a composition root passes its own ``Judge`` to ``Runtime`` (a model judge,
say), and the harness records whatever it says in the spec's shape. The harness against the real store and a
scripted model server."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import pytest

from corral.config import Settings
from corral.harness import Runtime
from corral.harness.policy import Judge, JudgeContext, JudgedCall, Verdict
from corral.session import SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import (
    agent,
    create_session,
    running,
    send,
    settings_for,
    user_message,
    wait_blocked,
    wait_idle,
)

pytestmark = pytest.mark.anyio

AUTO = {"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "auto"}}}


@asynccontextmanager
async def judged_by(store: SessionStore, settings: Settings, judge: Judge) -> AsyncGenerator[Runtime]:
    """A ``Runtime`` whose composition root passed ``judge``."""
    runtime = Runtime(store, settings, judge=judge, poll_interval=0.2)
    async with runtime.running():
        yield runtime


class OutOfCredits:
    """A model judge that cannot judge and must not leave the session waiting: deny, ``indeterminate``."""

    def __init__(self) -> None:
        self.seen: list[tuple[JudgedCall, list[str]]] = []

    async def judge(self, call: JudgedCall, context: JudgeContext) -> Verdict:
        self.seen.append((call, context.intent()))
        return Verdict.deny("out_of_credits", "indeterminate")


class Broken:
    async def judge(self, call: JudgedCall, context: JudgeContext) -> Verdict:
        raise ConnectionError("the judge's model is unreachable")


async def test_a_judge_passed_by_the_composition_root_decides_auto_calls(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "ls"})), reply(text("I may not."))]}
    judge = OutOfCredits()
    async with ScriptedModelServer(script) as server, judged_by(store, settings_for(server.url), judge):
        session_id = await create_session(store, agent(tools=[AUTO]))
        await send(store, session_id, user_message("List the files"))
        events = await wait_idle(store, session_id)
    call = next(e for e in events if e.type == "agent.tool_use")
    assert call.data()["evaluated_permission"] == "deny"
    assert call.data()["evaluation"] == {
        "type": "auto",
        "evaluated_permission": {"type": "deny", "reason_code": "indeterminate"},
    }
    result = next(e for e in events if e.type == "agent.tool_result").data()
    assert result["content"] == [{"type": "text", "text": "Permission to use bash has been denied."}]
    assert result["is_error"] is True
    ((seen, intent),) = judge.seen
    assert (seen.name, dict(seen.input), seen.kind, intent) == (
        "bash",
        {"command": "ls"},
        "builtin",
        ["List the files"],
    )
    assert "Permission to use bash has been denied." in str(server.requests[1].body["messages"])


async def test_a_judge_that_fails_leaves_the_call_to_a_person(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "ls"})), reply(text("Fine."))]}
    async with ScriptedModelServer(script) as server, judged_by(store, settings_for(server.url), Broken()):
        session_id = await create_session(store, agent(tools=[AUTO]))
        await send(store, session_id, user_message("List the files"))
        blocked = await wait_blocked(store, session_id)
    call = next(e for e in blocked if e.type == "agent.tool_use")
    assert call.data()["evaluated_permission"] == "ask"
    assert call.data()["evaluation"]["evaluated_permission"] == {"type": "ask", "reason_code": "indeterminate"}
    assert blocked[-1].data()["stop_reason"] == {"type": "requires_action", "event_ids": [call.id]}


async def test_self_hosted_workers_never_see_an_auto_denied_call(store: SessionStore) -> None:
    """In a ``self_hosted`` environment the client's worker runs built-in calls: an allowed one is handed to it,
    a denied one is answered by the server and never reaches it."""
    first = reply(tool_use("bash", {"command": "rm -rf /"}), tool_use("bash", {"command": "ls"}))
    script = {"replies": [first, reply(text("Listed."))]}

    async def self_hosted(workspace_id: str, environment_id: str) -> dict[str, object]:
        return {"type": "self_hosted"}

    async with ScriptedModelServer(script) as server:
        async with running(store, settings_for(server.url), environments=self_hosted):
            session_id = await create_session(store, agent(tools=[AUTO]))
            await send(store, session_id, user_message("Clean and list"))
            blocked = await wait_blocked(store, session_id)
    wipe, listing = (e for e in blocked if e.type == "agent.tool_use")
    assert (wipe.data()["evaluated_permission"], "executor" in wipe.data()) == ("deny", False)
    assert (listing.data()["evaluated_permission"], listing.data()["executor"]) == ("allow", "client")
    refused = next(e for e in blocked if e.type == "agent.tool_result").data()
    assert refused["tool_use_id"] == wipe.id and refused["is_error"] is True
    assert blocked[-1].data()["stop_reason"] == {"type": "requires_action", "event_ids": [listing.id]}
