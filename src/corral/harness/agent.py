"""The agent as the harness needs it, read from the session's agent snapshot (``session.doc["agent"]``).

Invariants:

* Tool resolution follows api.md §19: built-ins default to enabled with ``always_allow``; a per-tool
  ``configs[]`` entry overrides ``default_config``; custom tools need no permission.
* ``classify`` decides, before a call is written to the log, which event carries it and with which
  permission: a custom tool → ``agent.custom_tool_use``; an enabled built-in → ``agent.tool_use`` with
  ``allow`` / ``ask``; anything else (not enabled, unknown) → ``agent.tool_use`` with ``deny`` and no
  ``evaluation``, answered by an error result. A permitted call that this worker has no executor for
  (no sandbox provider configured, say) is answered with an error result by the router.
* ``auto`` has no classifier in corral yet: it always asks (``reason_code: indeterminate``), which is the
  documented outcome when the judge cannot decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from corral._types import JSONObject
from corral.harness.models.base import ToolSpec
from corral.harness.toolset import BUILTIN_TOOLS, builtin_spec

TOOLSET = "agent_toolset_20260401"


@dataclass(frozen=True)
class Classified:
    event_type: str
    permission: str | None = None
    evaluation: JSONObject | None = None


@dataclass(frozen=True)
class BuiltinTool:
    name: str
    enabled: bool
    policy: str
    config: JSONObject


@dataclass(frozen=True)
class AgentConfig:
    model_id: str
    system: str | None = None
    builtins: dict[str, BuiltinTool] = field(default_factory=lambda: dict[str, BuiltinTool]())
    custom: dict[str, ToolSpec] = field(default_factory=lambda: dict[str, ToolSpec]())
    thinking_budget: int | None = None

    @classmethod
    def from_snapshot(cls, agent: JSONObject) -> AgentConfig:
        model = agent.get("model")
        model_id = str(model.get("id", "")) if isinstance(model, dict) else str(model or "")
        builtins: dict[str, BuiltinTool] = {}
        custom: dict[str, ToolSpec] = {}
        for entry in agent.get("tools") or []:
            if not isinstance(entry, dict):
                continue
            tool: JSONObject = entry
            if tool.get("type") == TOOLSET:
                builtins.update(_resolve_toolset(tool))
            elif tool.get("type") == "custom":
                name = str(tool.get("name", ""))
                schema = tool.get("input_schema") or {"type": "object"}
                custom[name] = ToolSpec(name, str(tool.get("description", "")), dict(schema))
        budget = model.get("thinking_budget") if isinstance(model, dict) else None
        return cls(model_id, agent.get("system") or None, builtins, custom, int(budget) if budget else None)

    def enabled(self, available: Iterable[str]) -> list[str]:
        """Built-in tools this agent may use, among those this worker can run."""
        names = set(available)
        return [name for name, tool in self.builtins.items() if tool.enabled and name in names]

    def specs(self, available: Iterable[str]) -> list[ToolSpec]:
        """The tool definitions sent to the model."""
        return [builtin_spec(name) for name in self.enabled(available)] + list(self.custom.values())

    def classify(self, name: str) -> Classified:
        """The policy verdict for a call (what this worker can actually run is the router's business)."""
        if name in self.custom:
            return Classified("agent.custom_tool_use")
        tool = self.builtins.get(name)
        if tool is None or not tool.enabled:
            return Classified("agent.tool_use", "deny")
        policy = self.builtins[name].policy
        if policy == "always_ask":
            return Classified("agent.tool_use", "ask", {"type": "always_ask"})
        if policy == "auto":
            verdict = {"type": "ask", "reason_code": "indeterminate"}
            return Classified("agent.tool_use", "ask", {"type": "auto", "evaluated_permission": verdict})
        return Classified("agent.tool_use", "allow", {"type": "always_allow"})

    def tool_config(self, name: str) -> JSONObject:
        tool = self.builtins.get(name)
        return dict(tool.config) if tool else {}

    def uses_sandbox(self, sandbox_tools: Iterable[str]) -> bool:
        return bool(self.enabled(sandbox_tools))


def _policy(config: Any, fallback: str) -> str:
    if isinstance(config, dict):
        policy = config.get("permission_policy")
        if isinstance(policy, dict) and policy.get("type"):
            return str(policy["type"])
        if isinstance(policy, str):
            return policy
    return fallback


def _resolve_toolset(entry: JSONObject) -> dict[str, BuiltinTool]:
    default = entry.get("default_config") or {}
    default_enabled = bool(default.get("enabled", True)) if isinstance(default, dict) else True
    default_policy = _policy(default, "always_allow")
    overrides = {str(c.get("name")): c for c in entry.get("configs") or [] if isinstance(c, dict)}
    tools: dict[str, BuiltinTool] = {}
    for name in BUILTIN_TOOLS:
        config: JSONObject = overrides.get(name, {})
        enabled = bool(config.get("enabled", default_enabled))
        tools[name] = BuiltinTool(name, enabled, _policy(config, default_policy), config)
    return tools
