"""Agent ``tools`` and ``mcp_servers``: validated and resolved to the response form (api.md §3.4, §19).

Invariants:

* ``agent_toolset_20260401`` always resolves to a ``default_config`` plus one entry per built-in tool (all
  eight, in ``BUILTIN_TOOLS`` order), each with ``enabled`` and ``permission_policy`` filled in; per-tool
  settings override the default. The agent toolset defaults to ``always_allow``; MCP toolsets to
  ``always_ask`` (newly added MCP tools never run unapproved).
* Every MCP server is referenced by exactly the toolsets that name it, and every ``mcp_toolset`` names a
  declared server; server names and custom tool names are unique.
* Resolution is idempotent: resolving an already resolved list gives the same list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from corral._types import JSONObject
from corral.catalog.limits import MCP_NAME_MAX, MCP_SERVERS_MAX, TOOL_DESCRIPTION_MAX, TOOL_NAME_MAX, URL_MAX
from corral.catalog.web_tools import web_fetch_extras, web_search_extras
from corral.errors import InvalidRequest
from corral.vocab.tools import BUILTIN_TOOLS, PERMISSION_POLICIES, TOOLSET, WEB_FETCH, WEB_SEARCH

POLICIES = frozenset(PERMISSION_POLICIES)
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _policy(value: Any, default: JSONObject) -> JSONObject:
    if value is None:
        return dict(default)
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind not in POLICIES:
        raise InvalidRequest(f"permission_policy.type must be one of {sorted(POLICIES)}")
    return {"type": kind}


def _enabled(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest("enabled must be a boolean")
    return value


def _default_config(raw: Any, policy: str) -> JSONObject:
    raw = raw or {}
    return {
        "enabled": _enabled(raw.get("enabled"), True),
        "permission_policy": _policy(raw.get("permission_policy"), {"type": policy}),
    }


def _builtin_overrides(configs: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    overrides: dict[str, Mapping[str, Any]] = {}
    for config in configs:
        name = config.get("name")
        if name not in BUILTIN_TOOLS:
            raise InvalidRequest(f"unknown built-in tool {name!r}; expected one of {', '.join(BUILTIN_TOOLS)}")
        if config.get("type") not in (None, name):
            raise InvalidRequest(f"tool config {name!r} has a mismatched type {config.get('type')!r}")
        if name in overrides:
            raise InvalidRequest(f"tool {name!r} is configured twice")
        overrides[name] = config
    return overrides


def _toolset(raw: Mapping[str, Any], custom_names: set[str]) -> JSONObject:
    default = _default_config(raw.get("default_config"), "always_allow")
    overrides = _builtin_overrides(raw.get("configs") or [])
    configs: list[JSONObject] = []
    for name in BUILTIN_TOOLS:
        override = overrides.get(name, {})
        entry: JSONObject = {
            "type": name,
            "name": name,
            "enabled": _enabled(override.get("enabled"), default["enabled"]),
            "permission_policy": _policy(override.get("permission_policy"), default["permission_policy"]),
        }
        if name == WEB_FETCH:
            entry.update(web_fetch_extras(override, custom_names))
        elif name == WEB_SEARCH:
            entry.update(web_search_extras(override))
        configs.append(entry)
    return {"type": TOOLSET, "default_config": default, "configs": configs}


def _mcp_toolset(raw: Mapping[str, Any], servers: set[str]) -> JSONObject:
    server = raw.get("mcp_server_name")
    if server not in servers:
        raise InvalidRequest(f"mcp_toolset references unknown MCP server {server!r}; declare it in mcp_servers")
    default = _default_config(raw.get("default_config"), "always_ask")
    configs: list[JSONObject] = []
    seen: set[str] = set()
    for config in raw.get("configs") or []:
        name = config.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= TOOL_NAME_MAX:
            raise InvalidRequest(f"MCP tool names must be 1-{TOOL_NAME_MAX} characters")
        if name in seen:
            raise InvalidRequest(f"MCP tool {name!r} of server {server!r} is configured twice")
        seen.add(name)
        configs.append(
            {
                "name": name,
                "enabled": _enabled(config.get("enabled"), default["enabled"]),
                "permission_policy": _policy(config.get("permission_policy"), default["permission_policy"]),
            }
        )
    return {"type": "mcp_toolset", "mcp_server_name": server, "default_config": default, "configs": configs}


def _custom(raw: Mapping[str, Any]) -> JSONObject:
    name = raw.get("name")
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise InvalidRequest("custom tool names must be 1-128 characters of letters, digits, '_' and '-'")
    description = raw.get("description")
    if not isinstance(description, str) or len(description) > TOOL_DESCRIPTION_MAX:
        raise InvalidRequest(f"custom tool {name!r} needs a description of at most {TOOL_DESCRIPTION_MAX} characters")
    schema = raw.get("input_schema")
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        raise InvalidRequest(f"custom tool {name!r} needs an input_schema with type 'object'")
    if not isinstance(schema.get("properties") or {}, Mapping):
        raise InvalidRequest(f"input_schema.properties of custom tool {name!r} must be an object")
    required = schema.get("required") or []
    if not isinstance(required, list) or not all(isinstance(item, str) for item in required):
        raise InvalidRequest(f"input_schema.required of custom tool {name!r} must be a list of strings")
    return {"type": "custom", "name": name, "description": description, "input_schema": dict(schema)}


def resolve_mcp_servers(raw: Sequence[Mapping[str, Any]] | None) -> list[JSONObject]:
    servers: list[JSONObject] = []
    names: set[str] = set()
    for server in raw or []:
        name, url = server.get("name"), server.get("url")
        if server.get("type", "url") != "url":
            raise InvalidRequest("mcp_servers entries must have type 'url'")
        if not isinstance(name, str) or not 1 <= len(name) <= MCP_NAME_MAX:
            raise InvalidRequest(f"MCP server names must be 1-{MCP_NAME_MAX} characters")
        if name in names:
            raise InvalidRequest(f"MCP server name {name!r} is used twice")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > URL_MAX:
            raise InvalidRequest(f"MCP server {name!r} needs an http(s) url of at most {URL_MAX} characters")
        names.add(name)
        servers.append({"type": "url", "name": name, "url": url})
    if len(servers) > MCP_SERVERS_MAX:
        raise InvalidRequest(f"an agent may declare at most {MCP_SERVERS_MAX} MCP servers")
    return servers


def _custom_names(raw: Sequence[Mapping[str, Any]]) -> set[str]:
    names: set[str] = set()
    for tool in raw:
        if tool.get("type") == "custom":
            name = tool.get("name")
            if name in names:
                raise InvalidRequest(f"custom tool name {name!r} is used twice")
            names.add(str(name))
    return names


def resolve_tools(
    raw: Sequence[Mapping[str, Any]] | None, servers: list[JSONObject], max_tools: int
) -> list[JSONObject]:
    """Resolve ``tools`` against the (already resolved) ``servers``."""
    raw = list(raw or [])
    if len(raw) > max_tools:
        raise InvalidRequest(f"an agent may have at most {max_tools} tools")
    custom_names = _custom_names(raw)
    server_names = {server["name"] for server in servers}
    resolved: list[JSONObject] = []
    referenced: set[str] = set()
    for tool in raw:
        kind = tool.get("type")
        if kind == TOOLSET:
            if any(item["type"] == TOOLSET for item in resolved):
                raise InvalidRequest(f"{TOOLSET} may appear only once")
            if custom_names & set(BUILTIN_TOOLS):
                raise InvalidRequest("custom tools cannot reuse the name of a built-in tool")
            resolved.append(_toolset(tool, custom_names))
        elif kind == "mcp_toolset":
            toolset = _mcp_toolset(tool, server_names)
            if toolset["mcp_server_name"] in referenced:
                raise InvalidRequest(f"MCP server {toolset['mcp_server_name']!r} has two toolsets")
            referenced.add(toolset["mcp_server_name"])
            resolved.append(toolset)
        elif kind == "custom":
            resolved.append(_custom(tool))
        else:
            raise InvalidRequest(f"unknown tool type {kind!r}")
    unreferenced = sorted(server_names - referenced)
    if unreferenced:
        raise InvalidRequest(f"MCP servers {unreferenced} are not referenced by any mcp_toolset in tools")
    return resolved
