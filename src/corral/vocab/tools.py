"""The built-in toolset ``agent_toolset_20260401``: its id, each tool's name, description and input schema,
and the one check of a call's input against that schema (api.md §19).

Invariants:

* This module is the only place where the toolset id and a tool name are written as string literals; every
  other module imports the constants (a test scans ``src/corral`` for stray literals).
* A tool's input schema (what the model is shown) and its input check (what a call must satisfy before it
  reaches a sandbox or a server-side executor) are derived from the same ``ToolDefinition``: they cannot
  drift apart.
* Error strings read ``"<tool>: <reason>"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NotRequired, TypedDict, TypeGuard, get_args

ToolsetType = Literal["agent_toolset_20260401"]
TOOLSET: Final[ToolsetType] = "agent_toolset_20260401"

SandboxToolName = Literal["bash", "read", "write", "edit", "glob", "grep"]
ServerToolName = Literal["web_fetch", "web_search"]
BuiltinToolName = Literal[SandboxToolName, ServerToolName]

BASH: Final[SandboxToolName] = "bash"
READ: Final[SandboxToolName] = "read"
WRITE: Final[SandboxToolName] = "write"
EDIT: Final[SandboxToolName] = "edit"
GLOB: Final[SandboxToolName] = "glob"
GREP: Final[SandboxToolName] = "grep"
WEB_FETCH: Final[ServerToolName] = "web_fetch"
WEB_SEARCH: Final[ServerToolName] = "web_search"

DELEGATE: Final = "delegate"
"""A coordinator's own tool (api.md §17): run one agent of its roster in a child thread, get its answer back."""
SANDBOX_TOOLS: Final[tuple[SandboxToolName, ...]] = get_args(SandboxToolName)
"""Tools that run in the session's sandbox (or, for a ``self_hosted`` environment, in the client's worker)."""
SERVER_TOOLS: Final[tuple[ServerToolName, ...]] = get_args(ServerToolName)
"""Tools that run beside the harness, outside every sandbox."""
BUILTIN_TOOLS: Final[tuple[BuiltinToolName, ...]] = (*SANDBOX_TOOLS, *SERVER_TOOLS)
"""Every tool of the toolset, in the order the resolved toolset lists them."""

PermissionPolicyType = Literal["always_allow", "always_ask", "auto"]
PERMISSION_POLICIES: Final[tuple[PermissionPolicyType, ...]] = get_args(PermissionPolicyType)
Permission = Literal["allow", "ask", "deny"]
"""A call's ``evaluated_permission``."""

BASH_DEFAULT_TIMEOUT_MS: Final = 120_000


class PolicyConfig(TypedDict):
    type: PermissionPolicyType


class DefaultConfig(TypedDict):
    enabled: bool
    permission_policy: PolicyConfig


class BuiltinToolConfig(TypedDict):
    """One entry of a resolved toolset's ``configs``; ``web_fetch``/``web_search`` carry their extra settings."""

    type: BuiltinToolName
    name: BuiltinToolName
    enabled: bool
    permission_policy: PolicyConfig
    allowed_domains: NotRequired[list[str] | None]
    blocked_domains: NotRequired[list[str] | None]
    max_content_tokens: NotRequired[int | None]
    url_sources: NotRequired[dict[str, object] | None]
    user_location: NotRequired[dict[str, object] | None]


class ResolvedToolset(TypedDict):
    """``agent_toolset_20260401`` as stored on an agent: a default plus one entry per built-in tool, in
    ``BUILTIN_TOOLS`` order, each with ``enabled`` and ``permission_policy`` filled in."""

    type: ToolsetType
    default_config: DefaultConfig
    configs: list[BuiltinToolConfig]


def is_builtin(name: str) -> TypeGuard[BuiltinToolName]:
    return name in BUILTIN_TOOLS


def is_sandbox_tool(name: str) -> TypeGuard[SandboxToolName]:
    return name in SANDBOX_TOOLS


# ---------------------------------------------------------------------------------------------- definitions

JSONType = Literal["string", "boolean", "integer", "array"]
_PYTHON_TYPES: Final[dict[JSONType, type]] = {"string": str, "boolean": bool, "integer": int, "array": list}


@dataclass(frozen=True)
class Field:
    type: JSONType
    description: str | None = None
    required: bool = False
    #: for integers: the smallest value allowed
    minimum: int | None = None
    #: for arrays: the JSON type of every item
    items: JSONType | None = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.description is not None:
            schema["description"] = self.description
        if self.items is not None:
            schema["items"] = {"type": self.items}
        return schema


@dataclass(frozen=True)
class ToolDefinition:
    """A built-in tool as the model sees it, and the shape a call's input must have."""

    name: BuiltinToolName
    description: str
    fields: Mapping[str, Field] = field(default_factory=lambda: dict[str, Field]())

    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: spec.schema() for name, spec in self.fields.items()},
            "required": [name for name, spec in self.fields.items() if spec.required],
        }

    def input_problem(self, tool_input: object) -> str | None:
        """Why ``tool_input`` does not fit this tool's schema, or None."""
        if not isinstance(tool_input, Mapping):
            return f"{self.name}: input must be an object"
        given: Mapping[str, object] = tool_input  # pyright: ignore[reportUnknownVariableType] - JSON from a model
        for name, spec in self.fields.items():
            if problem := _field_problem(self.name, name, spec, given.get(name)):
                return problem
        if self.name == BASH:
            return _bash_problem(given)
        return None


def _field_problem(tool: str, name: str, spec: Field, value: object) -> str | None:
    kind = _PYTHON_TYPES[spec.type]
    if value is None:
        return f"{tool}: {name} is required and must be a {spec.type}" if spec.required else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        if spec.required:
            return f"{tool}: {name} is required and must be a {spec.type}"
        return f"{tool}: {name} must be of type {kind.__name__}"
    if spec.minimum is not None and isinstance(value, int) and value < spec.minimum:
        return f"{tool}: {name} must not be negative" if spec.minimum == 0 else f"{tool}: {name} is too small"
    return None


def _bash_problem(tool_input: Mapping[str, object]) -> str | None:
    if not tool_input.get("restart") and not str(tool_input.get("command") or "").strip():
        return f"{BASH}: command is required"
    return None


_STRING = Field("string")
_PATH = Field("string", required=True)

DEFINITIONS: Final[Mapping[BuiltinToolName, ToolDefinition]] = {
    definition.name: definition
    for definition in (
        ToolDefinition(
            BASH,
            "Run a command in a persistent bash shell in the sandbox. Output is truncated at 100 KiB; a non-zero "
            "exit code is reported as an error. `restart: true` starts a fresh shell.",
            {
                "command": Field("string", "The command to run."),
                "restart": Field("boolean", "Restart the shell instead of running a command."),
                "timeout_ms": Field("integer", "Timeout in milliseconds (0: the default).", minimum=0),
            },
        ),
        ToolDefinition(
            READ,
            "Read a text file (or an image / PDF) from the sandbox. `view_range` is [start_line, end_line], "
            "1-indexed and inclusive; end_line <= 0 reads to the end of the file.",
            {"file_path": _PATH, "view_range": Field("array", items="integer")},
        ),
        ToolDefinition(
            WRITE,
            "Create or overwrite a file in the sandbox (parent directories are created).",
            {"file_path": _PATH, "content": Field("string", required=True)},
        ),
        ToolDefinition(
            EDIT,
            "Replace an exact string in a file. `old_string` must occur exactly once unless `replace_all` is true.",
            {
                "file_path": _PATH,
                "old_string": Field("string", required=True),
                "new_string": Field("string", required=True),
                "replace_all": Field("boolean"),
            },
        ),
        ToolDefinition(
            GLOB,
            "Find files matching a glob pattern (`**` allowed), newest first.",
            {"pattern": Field("string", required=True), "path": _STRING},
        ),
        ToolDefinition(
            GREP,
            "Search file contents with a regular expression.",
            {"pattern": Field("string", required=True), "path": _STRING},
        ),
        ToolDefinition(
            WEB_FETCH, "Fetch a URL and return its content as text.", {"url": Field("string", required=True)}
        ),
        ToolDefinition(WEB_SEARCH, "Search the web and return the results.", {"query": Field("string", required=True)}),
    )
}


def input_problem(name: str, tool_input: object) -> str | None:
    """Why ``tool_input`` is not acceptable for built-in tool ``name``, or None."""
    if not is_builtin(name):
        return f"{name}: not a built-in tool (built-in tools: {', '.join(BUILTIN_TOOLS)})"
    return DEFINITIONS[name].input_problem(tool_input)


def bash_timeout(tool_input: Mapping[str, Any], ceiling_seconds: float) -> float:
    """Seconds a bash command may run: ``timeout_ms`` (0 or absent: 120 s), never past ``ceiling_seconds``."""
    timeout_ms = tool_input.get("timeout_ms")
    if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms <= 0:
        timeout_ms = BASH_DEFAULT_TIMEOUT_MS
    return min(timeout_ms / 1000, ceiling_seconds)
