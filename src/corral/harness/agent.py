"""The agent as the harness needs it, read from the session's agent snapshot (``session.doc["agent"]``).

The snapshot holds the agent's *resolved* configuration (the catalog resolved and validated it once, at the
API edge): ``agent_toolset_20260401`` lists every built-in tool with ``enabled`` and ``permission_policy``
filled in. This module only reads it; it never applies defaults of its own.

Invariants:

* ``classify`` is the one permission decision of a call, made before the call is written to the log: a
  custom tool → ``agent.custom_tool_use``; an enabled built-in → ``agent.tool_use`` with ``allow`` / ``ask``
  (``always_allow`` / ``always_ask``) or, under ``auto``, whatever the session's judge says (``judged``: the
  caller asks the judge, see ``response.tool_use``); anything else (not enabled, unknown) → ``agent.tool_use``
  with ``deny`` and no ``evaluation``, answered by an error result. A server-side tool of an extension
  (``served``) → ``agent.tool_use`` with ``allow`` or ``ask`` as the agent's selection of it says. Sandboxes
  and executors run what they are asked: the policy is enforced here only.
* The configuration is the session's snapshot as it was read: a turn re-reads it between turns, so a policy
  changed by ``POST /v1/sessions/{id}`` applies from the next call on, never to a call already recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

from corral._types import JSONObject
from corral.harness.models.base import ToolSpec
from corral.harness.policy import JudgedCall, Verdict
from corral.harness.roster import delegation_spec
from corral.vocab.events import ToolUseEventType
from corral.vocab.tools import (
    DEFINITIONS,
    TOOLSET,
    BuiltinToolConfig,
    BuiltinToolName,
    Permission,
    PermissionPolicyType,
    ResolvedToolset,
    is_builtin,
)


@dataclass(frozen=True)
class Classified:
    event_type: ToolUseEventType
    permission: Permission | None = None
    evaluation: JSONObject | None = None
    #: the policy is ``auto``: the permission is the judge's verdict, still to be asked for
    judged: bool = False

    @classmethod
    def auto(cls, verdict: Verdict) -> Classified:
        return cls("agent.tool_use", verdict.permission, verdict.evaluation())


@dataclass(frozen=True)
class BuiltinTool:
    name: BuiltinToolName
    enabled: bool
    policy: PermissionPolicyType
    config: BuiltinToolConfig


@dataclass(frozen=True)
class AgentConfig:
    model_id: str
    system: str | None = None
    builtins: dict[BuiltinToolName, BuiltinTool] = field(default_factory=lambda: dict[BuiltinToolName, BuiltinTool]())
    custom: dict[str, ToolSpec] = field(default_factory=lambda: dict[str, ToolSpec]())
    thinking_budget: int | None = None
    #: server-side tools of the agent's extensions (``corral.extend``), by name: their permission policy
    served: dict[str, PermissionPolicyType] = field(default_factory=lambda: dict[str, PermissionPolicyType]())
    #: the ``delegate`` tool of an agent with a roster (``corral.harness.threads``)
    delegation: ToolSpec | None = None

    @classmethod
    def from_snapshot(cls, agent: Mapping[str, object]) -> AgentConfig:
        model = agent.get("model")
        model_doc = cast(JSONObject, model) if isinstance(model, dict) else {"id": model or ""}
        builtins: dict[BuiltinToolName, BuiltinTool] = {}
        custom: dict[str, ToolSpec] = {}
        for entry in cast(list[JSONObject], agent.get("tools") or []):
            if entry.get("type") == TOOLSET:
                builtins.update(_builtins(cast(ResolvedToolset, entry)))
            elif entry.get("type") == "custom":
                name = str(entry["name"])
                custom[name] = ToolSpec(name, str(entry.get("description", "")), dict(entry["input_schema"]))
        budget = model_doc.get("thinking_budget")
        system = agent.get("system")
        return cls(
            str(model_doc.get("id", "")),
            str(system) if system else None,
            builtins,
            custom,
            budget if isinstance(budget, int) and budget > 0 else None,
            delegation=delegation_spec(agent),
        )

    def with_sections(self, *sections: str | None) -> AgentConfig:
        """The configuration with ``sections`` (those not None) appended to its system prompt, in order."""
        parts = [part for part in (self.system, *sections) if part]
        return replace(self, system="\n\n".join(parts) if parts else None)

    def enabled(self, available: Iterable[str]) -> list[BuiltinToolName]:
        """Built-in tools this agent may use, among those this worker can run."""
        names = set(available)
        return [name for name, tool in self.builtins.items() if tool.enabled and name in names]

    def specs(self, available: Iterable[str]) -> list[ToolSpec]:
        """The tool definitions sent to the model."""
        builtin = [_spec(name) for name in self.enabled(available)]
        return builtin + list(self.custom.values()) + ([self.delegation] if self.delegation else [])

    def classify(self, name: str) -> Classified:
        """The policy verdict for a call (what this worker can actually run is the router's business)."""
        if name in self.custom:
            return Classified("agent.custom_tool_use")
        if name in self.served:
            if self.served[name] == "always_ask":
                return Classified("agent.tool_use", "ask", {"type": "always_ask"})
            return Classified("agent.tool_use", "allow", {"type": "always_allow"})
        if self.delegation is not None and name == self.delegation.name:
            return Classified("agent.tool_use", "allow", {"type": "always_allow"})
        tool = self.builtins.get(name) if is_builtin(name) else None
        if tool is None or not tool.enabled:
            return Classified("agent.tool_use", "deny")
        if tool.policy == "always_ask":
            return Classified("agent.tool_use", "ask", {"type": "always_ask"})
        if tool.policy == "auto":
            return Classified("agent.tool_use", judged=True)
        return Classified("agent.tool_use", "allow", {"type": "always_allow"})

    def judged_call(self, name: str, tool_input: JSONObject) -> JudgedCall:
        """A built-in call as the ``auto`` judge sees it."""
        return JudgedCall(name, tool_input, "builtin", self.tool_config(name))

    def tool_config(self, name: str) -> JSONObject:
        """The tool's entry of the toolset's ``configs`` (allowed domains, limits …); empty for others."""
        tool = self.builtins.get(name) if is_builtin(name) else None
        return dict(tool.config) if tool else {}

    def uses_any(self, names: Iterable[str]) -> bool:
        return bool(self.enabled(names))


def _builtins(toolset: ResolvedToolset) -> dict[BuiltinToolName, BuiltinTool]:
    return {
        entry["name"]: BuiltinTool(entry["name"], entry["enabled"], entry["permission_policy"]["type"], entry)
        for entry in toolset["configs"]
    }


def _spec(name: BuiltinToolName) -> ToolSpec:
    definition = DEFINITIONS[name]
    return ToolSpec(definition.name, definition.description, definition.input_schema())
