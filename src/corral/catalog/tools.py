"""Agent ``tools`` and ``mcp_servers``: resolved to the stored (and response) form (api.md §3.4, §19).

Inputs are typed (``corral.catalog.params.tools``), so every single value is already valid; this module applies
the rules that span entries and the limit an operator configures.

Invariants:

* ``agent_toolset_20260401`` always resolves to a ``default_config`` plus one entry per built-in tool (all
  eight, in ``BUILTIN_TOOLS`` order), each with ``enabled`` and ``permission_policy`` filled in; per-tool
  settings override the default. The agent toolset defaults to ``always_allow``; MCP toolsets to
  ``always_ask`` (newly added MCP tools never run unapproved).
* Every MCP server is referenced by exactly the toolsets that name it, and every ``mcp_toolset`` names a
  declared server; server names and custom tool names are unique.
* Resolution is idempotent: resolving an already resolved list (read back with ``params.tools.TOOLS``) gives
  the same list.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import assert_never

from corral._types import JSONObject
from corral.catalog.limits import CatalogLimits
from corral.catalog.params.tools import (
    AgentToolsetParams,
    BuiltinToolConfigParams,
    CustomToolParams,
    DefaultConfigParams,
    MCPServerParams,
    MCPToolsetParams,
    PermissionPolicy,
    ToolParam,
)
from corral.catalog.web_tools import add_web_fetch, add_web_search
from corral.errors import ErrorCode, InvalidRequest
from corral.vocab.tools import (
    BUILTIN_TOOLS,
    TOOLSET,
    WEB_FETCH,
    WEB_SEARCH,
    BuiltinToolConfig,
    BuiltinToolName,
    DefaultConfig,
    PermissionPolicyType,
    PolicyConfig,
    ResolvedToolset,
)


def _policy(value: PermissionPolicy | None, default: PolicyConfig) -> PolicyConfig:
    return {"type": default["type"] if value is None else value.type}


def _enabled(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _default_config(raw: DefaultConfigParams | None, policy: PermissionPolicyType) -> DefaultConfig:
    raw = raw or DefaultConfigParams()
    return {
        "enabled": _enabled(raw.enabled, True),
        "permission_policy": _policy(raw.permission_policy, {"type": policy}),
    }


def _builtin_overrides(configs: Sequence[BuiltinToolConfigParams]) -> dict[BuiltinToolName, BuiltinToolConfigParams]:
    overrides: dict[BuiltinToolName, BuiltinToolConfigParams] = {}
    for config in configs:
        if config.type not in (None, config.name):
            raise InvalidRequest(f"tool config {config.name!r} has a mismatched type {config.type!r}")
        if config.name in overrides:
            raise InvalidRequest(f"tool {config.name!r} is configured twice")
        overrides[config.name] = config
    return overrides


#: the extra settings each built-in tool reads; any other one set on a tool is refused, never ignored
_EXTRAS: dict[BuiltinToolName, frozenset[str]] = {
    WEB_FETCH: frozenset({"allowed_domains", "blocked_domains", "max_content_tokens", "url_sources"}),
    WEB_SEARCH: frozenset({"allowed_domains", "blocked_domains", "user_location"}),
}
_COMMON = frozenset({"name", "type", "enabled", "permission_policy"})


def _check_extras(override: BuiltinToolConfigParams) -> None:
    unread = sorted(override.model_fields_set - _COMMON - _EXTRAS.get(override.name, frozenset()))
    if unread:
        raise InvalidRequest(f"tool {override.name!r} has no setting {', '.join(unread)}")


def _enabled_here(
    name: BuiltinToolName, override: BuiltinToolConfigParams, default: bool, limits: CatalogLimits
) -> bool:
    """Whether the tool is enabled: as configured, except that ``web_search`` is off on a deployment without a search
    backend (asking for it explicitly is a 400 there: the agent could never use it)."""
    enabled = _enabled(override.enabled, default)
    if name == WEB_SEARCH and not limits.web_search:
        if override.enabled:
            raise InvalidRequest(
                "web_search needs a search backend, and this server has none (CORRAL_WEB_SEARCH_URL)",
                code=ErrorCode.NOT_SUPPORTED,
            )
        return False
    return enabled


def _toolset(raw: AgentToolsetParams, custom_names: Collection[str], limits: CatalogLimits) -> ResolvedToolset:
    default = _default_config(raw.default_config, "always_allow")
    overrides = _builtin_overrides(raw.configs or [])
    configs: list[BuiltinToolConfig] = []
    for name in BUILTIN_TOOLS:
        override = overrides.get(name) or BuiltinToolConfigParams(name=name)
        _check_extras(override)
        entry: BuiltinToolConfig = {
            "type": name,
            "name": name,
            "enabled": _enabled_here(name, override, default["enabled"], limits),
            "permission_policy": _policy(override.permission_policy, default["permission_policy"]),
        }
        if name == WEB_FETCH:
            add_web_fetch(entry, override, custom_names)
        elif name == WEB_SEARCH:
            add_web_search(entry, override)
        configs.append(entry)
    return {"type": raw.type, "default_config": default, "configs": configs}


def _mcp_toolset(raw: MCPToolsetParams, servers: Collection[str]) -> JSONObject:
    server = raw.mcp_server_name
    if server not in servers:
        raise InvalidRequest(f"mcp_toolset references unknown MCP server {server!r}; declare it in mcp_servers")
    default = _default_config(raw.default_config, "always_ask")
    configs: list[JSONObject] = []
    seen: set[str] = set()
    for config in raw.configs or []:
        if config.name in seen:
            raise InvalidRequest(f"MCP tool {config.name!r} of server {server!r} is configured twice")
        seen.add(config.name)
        configs.append(
            {
                "name": config.name,
                "enabled": _enabled(config.enabled, default["enabled"]),
                "permission_policy": _policy(config.permission_policy, default["permission_policy"]),
            }
        )
    return {"type": raw.type, "mcp_server_name": server, "default_config": default, "configs": configs}


def _custom(raw: CustomToolParams) -> JSONObject:
    schema = raw.input_schema.model_dump(exclude_unset=True, mode="json")
    return {"type": raw.type, "name": raw.name, "description": raw.description, "input_schema": schema}


def resolve_mcp_servers(raw: Sequence[MCPServerParams]) -> list[JSONObject]:
    servers: list[JSONObject] = []
    names: set[str] = set()
    for server in raw:
        if server.name in names:
            raise InvalidRequest(f"MCP server name {server.name!r} is used twice")
        names.add(server.name)
        servers.append({"type": server.type, "name": server.name, "url": server.url})
    return servers


def _custom_names(raw: Sequence[ToolParam]) -> set[str]:
    names: set[str] = set()
    for tool in raw:
        if isinstance(tool, CustomToolParams):
            if tool.name in names:
                raise InvalidRequest(f"custom tool name {tool.name!r} is used twice")
            names.add(tool.name)
    return names


def resolve_tools(raw: Sequence[ToolParam], servers: Sequence[JSONObject], limits: CatalogLimits) -> list[JSONObject]:
    """Resolve ``tools`` against the (already resolved) ``servers``."""
    if len(raw) > limits.max_tools:
        raise InvalidRequest(f"an agent may have at most {limits.max_tools} tools")
    custom_names = _custom_names(raw)
    server_names = {str(server["name"]) for server in servers}
    resolved: list[JSONObject] = []
    referenced: set[str] = set()
    for tool in raw:
        match tool:
            case AgentToolsetParams():
                if any(item["type"] == TOOLSET for item in resolved):
                    raise InvalidRequest(f"{TOOLSET} may appear only once")
                if custom_names & set(BUILTIN_TOOLS):
                    raise InvalidRequest("custom tools cannot reuse the name of a built-in tool")
                resolved.append(dict(_toolset(tool, custom_names, limits)))
            case MCPToolsetParams():
                toolset = _mcp_toolset(tool, server_names)
                if tool.mcp_server_name in referenced:
                    raise InvalidRequest(f"MCP server {tool.mcp_server_name!r} has two toolsets")
                referenced.add(tool.mcp_server_name)
                resolved.append(toolset)
            case CustomToolParams():
                resolved.append(_custom(tool))
            case _:
                assert_never(tool)
    unreferenced = sorted(server_names - referenced)
    if unreferenced:
        raise InvalidRequest(f"MCP servers {unreferenced} are not referenced by any mcp_toolset in tools")
    return resolved
