"""The sandbox half of ``agent_toolset_20260401``: which tools run in a sandbox, their per-tool config, and
the input checks every provider applies before a call reaches its sandbox (api.md §19.2).

``ProvisionSpec.tool_configs`` may be either a mapping ``{tool name: config}`` or a resolved toolset object
(``{"type": "agent_toolset_20260401", "default_config": {...}, "configs": [{"name": ..., ...}]}``); an absent
tool is enabled with an empty config.

Invariants: error strings read ``"<tool>: <reason>"`` (or ``"<tool>: <path>: <reason>"`` from the tools);
an input that fails here never reaches a sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corral._types import JSONObject

SANDBOX_TOOLS = ("bash", "read", "write", "edit", "glob", "grep")
BASH_DEFAULT_TIMEOUT_MS = 120_000

# name → (required string fields, optional typed fields)
_SCHEMAS: dict[str, tuple[tuple[str, ...], dict[str, type | tuple[type, ...]]]] = {
    "bash": ((), {"command": str, "restart": bool, "timeout_ms": int}),
    "read": (("file_path",), {"view_range": list}),
    "write": (("file_path", "content"), {}),
    "edit": (("file_path", "old_string", "new_string"), {"replace_all": bool}),
    "glob": (("pattern",), {"path": str}),
    "grep": (("pattern",), {"path": str}),
}


def tool_config(tool_configs: Mapping[str, Any], name: str) -> JSONObject:
    """The effective config of tool ``name`` from either accepted shape of ``tool_configs``."""
    if "configs" in tool_configs or "default_config" in tool_configs:
        default = dict(tool_configs.get("default_config") or {})
        for entry in tool_configs.get("configs") or []:
            if isinstance(entry, Mapping) and entry.get("name") == name:
                return {**default, **entry}
        return default
    found = tool_configs.get(name)
    return dict(found) if isinstance(found, Mapping) else {}


def enabled(tool_configs: Mapping[str, Any], name: str) -> bool:
    return tool_config(tool_configs, name).get("enabled", True) is not False


def input_problem(name: str, tool_input: Any) -> str | None:
    """Why ``tool_input`` is not acceptable for sandbox tool ``name``, or None."""
    if name not in _SCHEMAS:
        return f"{name}: not a sandbox tool (sandbox tools: {', '.join(SANDBOX_TOOLS)})"
    if not isinstance(tool_input, Mapping):
        return f"{name}: input must be an object"
    required, optional = _SCHEMAS[name]
    for field in required:
        if not isinstance(tool_input.get(field), str):
            return f"{name}: {field} is required and must be a string"
    for field, kind in optional.items():
        value = tool_input.get(field)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            return f"{name}: {field} must be of type {getattr(kind, '__name__', kind)}"
    if name == "bash" and not tool_input.get("restart") and not str(tool_input.get("command") or "").strip():
        return "bash: command is required"
    if name == "bash" and (tool_input.get("timeout_ms") or 0) < 0:
        return "bash: timeout_ms must not be negative"
    return None


def bash_timeout(tool_input: Mapping[str, Any], ceiling_seconds: float) -> float:
    """Seconds the command may run: ``timeout_ms`` (0 or absent: 120 s), never past the sandbox's wall clock."""
    timeout_ms = tool_input.get("timeout_ms") or BASH_DEFAULT_TIMEOUT_MS
    return min(timeout_ms / 1000, ceiling_seconds)
