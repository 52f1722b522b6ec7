"""MCP toolsets in a turn: the servers an agent declares, the tools they list, the names the model calls them by,
and the permission verdict of each call (api.md §19.1, §19.3).

Invariants:

* A turn lists each declared server's tools once (``list_mcp``; the ``Turn`` keeps the listing until the turn
  ends): a model request never waits on an MCP server, and a server that cannot be listed is reported once per
  turn (a ``session.error`` naming it; the turn goes on without its tools, and the next turn tries again).
* The model knows an MCP tool as ``mcp__<server>__<tool>`` (``mcp_names``), unique across servers. Events carry
  the server and the tool's own name (``agent.mcp_tool_use``), and ``context`` maps them back to the model's
  name. An MCP tool whose name a built-in or custom tool holds is not offered.
* The toolset decides: a tool its configs (or its default) disable is never offered, and a call to it is an
  ``agent.mcp_tool_use`` with ``evaluated_permission: deny`` and no ``evaluation``; an enabled tool gets the
  verdict of its policy: ``always_allow`` → allow; ``always_ask`` (the default) → ask; ``auto`` → the session's
  judge (``harness.policy``, asked with the tool's own name and ``kind: "mcp"``).
* The harness passes the session's scope to the source and never holds a credential.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict, cast

import anyio

from corral._types import JSONObject, json_list, json_object
from corral.errors import McpConnectionFailed, McpServerError
from corral.harness import emits
from corral.harness.log import Call
from corral.harness.mcp_names import model_tool_name
from corral.harness.models.base import ToolSpec
from corral.harness.models.content import ToolUse
from corral.harness.policy import JudgedCall, Verdict
from corral.harness.router import ListedTool, McpServer, SessionScope, ToolSource
from corral.sandbox import ToolResult
from corral.session import NewEvent
from corral.vocab.tools import DefaultConfig, PermissionPolicyType, PolicyConfig

log = logging.getLogger("corral.harness")

# ---------------------------------------------------------------------------------------- the toolsets


class _ToolConfig(TypedDict):
    name: str
    enabled: bool
    permission_policy: PolicyConfig


class _ResolvedToolset(TypedDict):
    type: str
    mcp_server_name: str
    default_config: DefaultConfig
    configs: list[_ToolConfig]


@dataclass(frozen=True)
class ToolSetting:
    enabled: bool
    policy: PermissionPolicyType


@dataclass(frozen=True)
class McpToolset:
    """An ``mcp_toolset`` entry with the server it names, as the catalog resolved it."""

    server: McpServer
    default: ToolSetting
    configs: Mapping[str, ToolSetting]

    def setting(self, tool: str) -> ToolSetting:
        return self.configs.get(tool, self.default)

    @property
    def offers_any(self) -> bool:
        return self.default.enabled or any(setting.enabled for setting in self.configs.values())


def mcp_toolsets(agent: Mapping[str, object]) -> list[McpToolset]:
    """The MCP toolsets of an agent snapshot (``session.doc["agent"]``), in ``tools`` order."""
    servers = {
        str(entry["name"]): str(entry["url"])
        for entry in map(json_object, json_list(agent.get("mcp_servers")) or [])
        if entry is not None
    }
    toolsets: list[McpToolset] = []
    for entry in map(json_object, json_list(agent.get("tools")) or []):
        if entry is None or entry.get("type") != "mcp_toolset":
            continue
        resolved = cast(_ResolvedToolset, entry)
        name = resolved["mcp_server_name"]
        if name in servers:  # the catalog guarantees it; a snapshot written under other rules is skipped
            toolsets.append(_toolset(McpServer(name, servers[name]), resolved))
    return toolsets


def _toolset(server: McpServer, resolved: _ResolvedToolset) -> McpToolset:
    default = resolved["default_config"]
    configs = {
        config["name"]: ToolSetting(config["enabled"], config["permission_policy"]["type"])
        for config in resolved.get("configs") or []
    }
    return McpToolset(server, ToolSetting(default["enabled"], default["permission_policy"]["type"]), configs)


def server_of(toolsets: Sequence[McpToolset], name: str | None) -> McpServer | None:
    return next((toolset.server for toolset in toolsets if toolset.server.name == name), None)


# ---------------------------------------------------------------------------------------- a turn's listing


@dataclass(frozen=True)
class McpTool:
    server: str
    name: str
    setting: ToolSetting
    #: the definition the model is offered (``spec.name`` is the model's name for the tool)
    spec: ToolSpec


@dataclass
class McpListing:
    """The MCP tools of a turn, by the model's name for them."""

    tools: dict[str, McpTool] = field(default_factory=lambda: dict[str, McpTool]())
    #: ``session.error`` events for servers that could not be listed (written once, with the turn's first request)
    notices: list[NewEvent] = field(default_factory=lambda: list[NewEvent]())

    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self.tools.values() if tool.setting.enabled]


JudgeFn = Callable[[JudgedCall], Awaitable[Verdict]]
"""Asks the session's judge about a call under ``auto`` (``response`` passes it)."""


async def mcp_tool_use(block: ToolUse, listing: McpListing | None, judge: JudgeFn) -> NewEvent | None:
    """The ``agent.mcp_tool_use`` event of a model's call to a tool of ``listing``, with its verdict; None for any
    other call."""
    tool = None if listing is None else listing.tools.get(block.name)
    if tool is None:
        return None
    data: JSONObject = {"mcp_server_name": tool.server, "name": tool.name, "input": block.input}
    if tool.setting.enabled and tool.setting.policy == "auto":
        judged = await judge(JudgedCall(tool.name, block.input, "mcp", {"mcp_server_name": tool.server}))
        data.update(evaluated_permission=judged.permission, evaluation=judged.evaluation())
    else:
        data.update(verdict(tool.setting))
    return NewEvent("agent.mcp_tool_use", data)


def verdict(setting: ToolSetting) -> JSONObject:
    """``evaluated_permission`` and ``evaluation`` of a call to a tool with ``setting`` that no judge decides
    (api.md §19.3): not enabled → deny; ``always_allow`` → allow; ``always_ask`` → ask."""
    if not setting.enabled:
        return {"evaluated_permission": "deny"}
    if setting.policy == "always_allow":
        return {"evaluated_permission": "allow", "evaluation": {"type": "always_allow"}}
    return {"evaluated_permission": "ask", "evaluation": {"type": "always_ask"}}


async def list_mcp(
    source: ToolSource | None, scope: SessionScope, toolsets: Sequence[McpToolset], reserved: Collection[str] = ()
) -> McpListing:
    """List every toolset's server at once; ``reserved``: the names built-in and custom tools hold."""
    listing = McpListing()
    wanted = [toolset for toolset in toolsets if toolset.offers_any]
    found: dict[str, Sequence[ListedTool] | McpServerError] = {}

    async def list_one(server: McpServer) -> None:
        try:
            if source is None:
                raise McpConnectionFailed("this worker has no MCP client configured", server_name=server.name)
            found[server.name] = await source.list_tools(scope, server)
        except McpServerError as exc:
            found[server.name] = exc

    async with anyio.create_task_group() as group:
        for toolset in wanted:
            group.start_soon(list_one, toolset.server)
    for toolset in wanted:  # in declaration order, whatever order the servers answered in
        outcome = found[toolset.server.name]
        if isinstance(outcome, McpServerError):
            listing.notices.append(failure_event(outcome))
        else:
            _add(listing, toolset, outcome, reserved)
    return listing


def _add(listing: McpListing, toolset: McpToolset, tools: Sequence[ListedTool], reserved: Collection[str]) -> None:
    server = toolset.server.name
    for tool in tools:
        name = model_tool_name(server, tool.name)
        if name in reserved or name in listing.tools:
            log.warning("MCP tool %r of server %r is not offered: the name %r is taken", tool.name, server, name)
            continue
        spec = ToolSpec(name, tool.description, dict(tool.input_schema))
        listing.tools[name] = McpTool(server, tool.name, toolset.setting(tool.name), spec)


# ---------------------------------------------------------------------------------------- events


def failure_event(exc: McpServerError) -> NewEvent:
    """The ``session.error`` of a failed MCP server (``mcp_connection_failed_error`` …): the session goes on."""
    error: JSONObject = {
        "type": exc.session_error_type,
        "message": exc.message,
        "retry_status": {"type": "retrying"},
        "mcp_server_name": exc.server_name,
    }
    return NewEvent("session.error", {"error": error})


def result_event(call: Call, result: ToolResult) -> NewEvent:
    """The result event answering ``call``: ``agent.mcp_tool_result`` for an MCP call, else ``agent.tool_result``."""
    if call.type == "agent.mcp_tool_use":
        data: JSONObject = {"mcp_tool_use_id": call.event_id, "content": result.content, "is_error": result.is_error}
        return NewEvent("agent.mcp_tool_result", data)
    return emits.tool_result(call.event_id, result)
