"""The extra settings of the ``web_fetch`` and ``web_search`` built-in tools (api.md §19.2).

Invariants: domain lists are non-empty, at most 64 plain hostnames, and never both allowed and blocked;
``url_sources`` is always returned in the object form (``"all"`` → ``{"type": "all"}``) or null, and never
turns every source off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from corral._types import JSONObject
from corral.catalog.limits import DOMAINS_MAX, URL_SOURCE_TOOLS_MAX
from corral.errors import InvalidRequest
from corral.vocab.tools import SERVER_TOOLS, WEB_FETCH, WEB_SEARCH

_HOST = re.compile(r"^[A-Za-z0-9*]([A-Za-z0-9.*-]{0,252})(/[^\s]*)?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SERVER_TOOLS = frozenset(SERVER_TOOLS)


def _domains(tool: str, override: Mapping[str, Any]) -> JSONObject:
    allowed, blocked = override.get("allowed_domains"), override.get("blocked_domains")
    if allowed is not None and blocked is not None:
        raise InvalidRequest(f"{tool}: allowed_domains and blocked_domains cannot be combined")
    for field, value in (("allowed_domains", allowed), ("blocked_domains", blocked)):
        if value is None:
            continue
        if not isinstance(value, list) or not 1 <= len(value) <= DOMAINS_MAX:
            raise InvalidRequest(f"{tool}.{field} must list 1-{DOMAINS_MAX} hostnames (omit it instead of [])")
        for host in value:
            if not isinstance(host, str) or "://" in host or not _HOST.match(host):
                raise InvalidRequest(f"{tool}.{field}: {host!r} is not a plain hostname")
    return {"allowed_domains": allowed, "blocked_domains": blocked}


def _tool_list(field: str, value: Any, allowed: frozenset[str] | set[str], what: str) -> list[JSONObject]:
    tools = value.get("tools") if isinstance(value, Mapping) else None
    if not isinstance(tools, list) or not 1 <= len(tools) <= URL_SOURCE_TOOLS_MAX:
        raise InvalidRequest(f"url_sources.{field}.tools must list 1-{URL_SOURCE_TOOLS_MAX} tools")
    names: list[str] = []
    for ref in tools:
        name = ref.get("name") if isinstance(ref, Mapping) else None
        if not isinstance(name, str) or name not in allowed:
            raise InvalidRequest(f"url_sources.{field}: {name!r} is not {what}")
        if name in names:
            raise InvalidRequest(f"url_sources.{field}: {name!r} is listed twice")
        names.append(name)
    return [{"type": "tool_reference", "name": name} for name in names]


def _source(field: str, value: Any, kinds: tuple[str, ...], names: set[str] | frozenset[str], what: str) -> Any:
    if value is None:
        return None
    kind = value if isinstance(value, str) else (value.get("type") if isinstance(value, Mapping) else None)
    if kind not in kinds:
        raise InvalidRequest(f"url_sources.{field} must be one of {', '.join(kinds)}")
    if kind in ("only", "except"):
        return {"type": kind, "tools": _tool_list(field, value, names, what)}
    return {"type": kind}


def _url_sources(value: Any, custom_names: set[str]) -> JSONObject | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequest("web_fetch.url_sources must be an object")
    resolved = {
        "user_input": _source("user_input", value.get("user_input"), ("all", "none"), set(), ""),
        "client_tool_results": _source(
            "client_tool_results",
            value.get("client_tool_results"),
            ("all", "none", "only", "except"),
            custom_names,
            "a custom tool of this agent",
        ),
        "server_tool_results": _source(
            "server_tool_results",
            value.get("server_tool_results"),
            ("all", "none", "only", "except"),
            _SERVER_TOOLS,
            "web_search or web_fetch",
        ),
    }
    if all(source == {"type": "none"} for source in resolved.values()):
        raise InvalidRequest("web_fetch.url_sources cannot set every source to 'none'")
    return resolved


def web_fetch_extras(override: Mapping[str, Any], custom_names: set[str]) -> JSONObject:
    tokens = override.get("max_content_tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
        raise InvalidRequest("web_fetch.max_content_tokens must be a positive integer")
    return {
        **_domains(WEB_FETCH, override),
        "max_content_tokens": tokens,
        "url_sources": _url_sources(override.get("url_sources"), custom_names),
    }


def _user_location(value: Any) -> JSONObject | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") != "approximate":
        raise InvalidRequest("web_search.user_location.type must be 'approximate'")
    location: JSONObject = {"type": "approximate"}
    for key in ("city", "region", "country", "timezone"):
        item = value.get(key)
        if item is not None and (not isinstance(item, str) or len(item) > 256):
            raise InvalidRequest(f"web_search.user_location.{key} must be a short string")
        location[key] = item
    if location["country"] is not None and not _COUNTRY.match(location["country"]):
        raise InvalidRequest("web_search.user_location.country must be a two-letter ISO 3166-1 code, uppercase")
    return location


def web_search_extras(override: Mapping[str, Any]) -> JSONObject:
    return {**_domains(WEB_SEARCH, override), "user_location": _user_location(override.get("user_location"))}
