"""Tool classification (``AgentConfig.classify``), the one permission decision of a call: each row is an agent's
``tools`` as the API accepts them (resolved by the catalog, as a session snapshot holds them), a call's tool name
and the verdict the log must record (rules in ``corral.harness.agent``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from corral._types import JSONObject
from corral.harness.agent import AgentConfig, Classified
from corral.vocab.tools import BUILTIN_TOOLS, SANDBOX_TOOLS, TOOLSET
from tests.harness.helpers import agent as snapshot


def agent(tools: Sequence[JSONObject]) -> AgentConfig:
    return AgentConfig.from_snapshot(snapshot(tools=tools))


def toolset(policy: str = "always_allow", *, enabled: bool = True, configs: Sequence[JSONObject] = ()) -> JSONObject:
    default: JSONObject = {"enabled": enabled, "permission_policy": {"type": policy}}
    return {"type": TOOLSET, "default_config": default, "configs": list(configs)}


def custom(name: str) -> JSONObject:
    return {"type": "custom", "name": name, "description": "", "input_schema": {"type": "object"}}


ALLOW = Classified("agent.tool_use", "allow", {"type": "always_allow"})
ASK = Classified("agent.tool_use", "ask", {"type": "always_ask"})
AUTO = Classified("agent.tool_use", judged=True)
DENY = Classified("agent.tool_use", "deny")
CUSTOM = Classified("agent.custom_tool_use")


@dataclass(frozen=True)
class Case:
    name: str
    tools: Sequence[JSONObject]
    call: str
    expected: Classified


CASES = [
    Case("a custom tool is the client's", [custom("lookup")], "lookup", CUSTOM),
    Case("a custom tool beside the toolset is still the client's", [toolset(), custom("lookup")], "lookup", CUSTOM),
    Case("the toolset allows by default", [{"type": TOOLSET}], "bash", ALLOW),
    Case("a server-side tool is classified alike", [{"type": TOOLSET}], "web_fetch", ALLOW),
    Case("always_ask asks", [toolset("always_ask")], "write", ASK),
    Case("auto leaves the verdict to the judge", [toolset("auto")], "edit", AUTO),
    Case("a disabled tool is denied, without an evaluation", [toolset(enabled=False)], "bash", DENY),
    Case(
        "a per-tool setting enables one tool",
        [toolset(enabled=False, configs=[{"name": "read", "enabled": True}])],
        "read",
        ALLOW,
    ),
    Case(
        "the others stay disabled",
        [toolset(enabled=False, configs=[{"name": "read", "enabled": True}])],
        "bash",
        DENY,
    ),
    Case(
        "a per-tool policy beats the default",
        [toolset(configs=[{"name": "bash", "permission_policy": {"type": "always_ask"}}])],
        "bash",
        ASK,
    ),
    Case(
        "the default applies to tools without a setting",
        [toolset(configs=[{"name": "bash", "permission_policy": {"type": "always_ask"}}])],
        "grep",
        ALLOW,
    ),
    Case("an unknown tool is denied", [toolset()], "rm_rf", DENY),
    Case("a built-in tool without the toolset is denied", [custom("lookup")], "bash", DENY),
    Case("no tools at all: everything is denied", [], "read", DENY),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_classify(case: Case) -> None:
    assert agent(case.tools).classify(case.call) == case.expected


def test_enabled_tools_are_those_this_worker_runs_in_toolset_order() -> None:
    config = agent([toolset(configs=[{"name": "grep", "enabled": False}]), custom("lookup")])
    # web_search is resolved disabled on a server without a search backend (as here)
    assert config.enabled(BUILTIN_TOOLS) == ["bash", "read", "write", "edit", "glob", "web_fetch"]
    assert config.enabled(["read", "bash", "nope"]) == ["bash", "read"]
    assert [spec.name for spec in config.specs(SANDBOX_TOOLS)] == ["bash", "read", "write", "edit", "glob", "lookup"]
    assert config.uses_any(["bash"]) and not config.uses_any(["grep", "nope"])
