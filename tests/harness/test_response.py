"""``response_events``: a model's answer as log events, in content order, each tool call with its verdict written
once (rules in ``corral.harness.response``). Each row is an answer's blocks and the events they become."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from corral._types import JSONObject
from corral.harness.agent import AgentConfig
from corral.harness.models.content import Block, Text, Thinking, ToolOutput, ToolUse
from corral.harness.policy import JudgeContext, RuleJudge
from corral.harness.response import Judging, response_events
from corral.session import EventType, NewEvent
from corral.vocab.tools import SANDBOX_TOOLS, TOOLSET
from tests.harness.helpers import agent

AGENT = AgentConfig.from_snapshot(
    agent(
        tools=[
            {
                "type": TOOLSET,
                "configs": [
                    {"name": "write", "permission_policy": {"type": "always_ask"}},
                    {"name": "glob", "permission_policy": {"type": "auto"}},
                    {"name": "edit", "permission_policy": {"type": "auto"}},
                ],
            },
            {"type": "custom", "name": "lookup", "description": "", "input_schema": {"type": "object"}},
        ]
    )
)
CLIENT_RUNS = frozenset(SANDBOX_TOOLS)
JUDGING = Judging(RuleJudge(), JudgeContext("sesn_test"))

Written = tuple[EventType, JSONObject, str | None]
"""An event as a row states it: type, data, id (``None``: the store assigns one)."""


def written(event: NewEvent) -> Written:
    return event.type, event.data, event.id


def call(name: str, permission: str | None, evaluation: str | JSONObject | None = None, **extra: object) -> Written:
    data: JSONObject = {"name": name, "input": extra.pop("input", {"x": 1})}
    if permission is not None:
        data["evaluated_permission"] = permission
    if evaluation is not None:
        data["evaluation"] = {"type": evaluation} if isinstance(evaluation, str) else evaluation
    data.update(extra)
    return ("agent.custom_tool_use" if permission is None else "agent.tool_use", data, None)


def auto(permission: str, reason_code: str | None = None) -> JSONObject:
    evaluated: JSONObject = {"type": permission}
    if reason_code is not None:
        evaluated["reason_code"] = reason_code
    return {"type": "auto", "evaluated_permission": evaluated}


def use(name: str, tool_input: JSONObject | None = None) -> tuple[Block, str | None]:
    return ToolUse(f"toolu_{name}", name, tool_input or {"x": 1}), None


@dataclass(frozen=True)
class Case:
    name: str
    blocks: Sequence[tuple[Block, str | None]]
    expected: list[Written]
    client_runs: frozenset[str] = frozenset()
    keep_empty: bool = False
    judging: Judging | None = JUDGING


CASES = [
    Case(
        "content order is kept; a text keeps the id its previews announced",
        [(Thinking("hmm", origin="anthropic"), "sevt_t"), (Text("Checking."), "sevt_m"), use("bash")],
        [
            ("agent.thinking", {"thinking": "hmm", "origin": "anthropic"}, "sevt_t"),
            ("agent.message", {"content": [{"type": "text", "text": "Checking."}]}, "sevt_m"),
            call("bash", "allow", "always_allow"),
        ],
    ),
    Case(
        "an empty text is no message",
        [(Text(""), "sevt_m"), (Text("Hi"), None)],
        [("agent.message", {"content": [{"type": "text", "text": "Hi"}]}, None)],
    ),
    Case(
        "thinking keeps its signature and redacted payload",
        [(Thinking("", signature="sig", redacted="opaque", origin="anthropic"), None)],
        [("agent.thinking", {"thinking": "", "origin": "anthropic", "signature": "sig", "redacted": "opaque"}, None)],
    ),
    Case(
        "each call carries its verdict",
        [use("bash"), use("write"), use("lookup"), use("nosuch")],
        [
            call("bash", "allow", "always_allow"),
            call("write", "ask", "always_ask"),
            call("lookup", None),
            call("nosuch", "deny"),
        ],
    ),
    Case(
        "the client's worker runs the permitted built-in calls of a self-hosted environment",
        [use("bash"), use("write"), use("nosuch"), use("lookup")],
        [
            call("bash", "allow", "always_allow", executor="client"),
            call("write", "ask", "always_ask", executor="client"),
            call("nosuch", "deny"),
            call("lookup", None),
        ],
        CLIENT_RUNS,
    ),
    Case(
        "server-side tools never run in the client",
        [use("web_fetch")],
        [call("web_fetch", "allow", "always_allow")],
        CLIENT_RUNS,
    ),
    Case(
        "a reply cut short keeps the message its previews started, even empty",
        [(Text(""), "sevt_m"), (Text(""), None)],
        [("agent.message", {"content": [{"type": "text", "text": ""}]}, "sevt_m")],
        keep_empty=True,
    ),
    Case("tool results never come from a model", [(ToolOutput("toolu_x", [Text("no")]), None)], []),
    Case(
        "under auto each call carries the judge's verdict",
        [use("glob", {"pattern": "*.py"}), use("edit", {"file_path": "/etc/passwd"}), use("glob", {"pattern": "/*"})],
        [
            call("glob", "allow", auto("allow"), input={"pattern": "*.py"}),
            call("edit", "deny", auto("deny", "high_risk"), input={"file_path": "/etc/passwd"}),
            call("glob", "ask", auto("ask", "indeterminate"), input={"pattern": "/*"}),
        ],
    ),
    Case(
        "an auto call the judge denies is answered by the server, never handed to the client's worker",
        [use("edit", {"file_path": "/etc/passwd"}), use("glob", {"pattern": "*.py"})],
        [
            call("edit", "deny", auto("deny", "high_risk"), input={"file_path": "/etc/passwd"}),
            call("glob", "allow", auto("allow"), input={"pattern": "*.py"}, executor="client"),
        ],
        CLIENT_RUNS,
    ),
    Case(
        "a reply cut short is recorded without judgement: its auto calls ask (none of them will run)",
        [use("glob", {"pattern": "*.py"})],
        [call("glob", "ask", auto("ask", "indeterminate"), input={"pattern": "*.py"})],
        keep_empty=True,
        judging=None,
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_response_events(case: Case) -> None:
    events = await response_events(
        case.blocks, AGENT, case.client_runs, judging=case.judging, keep_empty=case.keep_empty
    )
    assert [written(event) for event in events] == case.expected
