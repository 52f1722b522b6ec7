"""The extra settings of the ``web_fetch`` and ``web_search`` built-in tools, resolved (api.md §19.2).

The request models check each value (hostnames, list sizes, the tools a source may name); this module keeps the
rules across fields and the resolved form.

Invariants: a tool has an allowed or a blocked domain list, never both; ``url_sources`` is always returned in
the object form (``"all"`` → ``{"type": "all"}``) or null, names only custom tools of this agent in
``client_tool_results``, lists no tool twice, and never turns every source off.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from corral._types import JSONObject
from corral.catalog.params.tools import (
    BuiltinToolConfigParams,
    ServerToolReference,
    SourceKind,
    SourceScope,
    SourceServerTools,
    SourceTools,
    ToolReference,
    URLSourcesParams,
    UserLocationParam,
)
from corral.errors import ErrorCode, InvalidRequest
from corral.vocab.tools import BuiltinToolConfig

Source = SourceKind | SourceScope | SourceTools | SourceServerTools


def _add_domains(entry: BuiltinToolConfig, override: BuiltinToolConfigParams) -> None:
    allowed, blocked = override.allowed_domains, override.blocked_domains
    if allowed is not None and blocked is not None:
        raise InvalidRequest(f"{entry['name']}: allowed_domains and blocked_domains cannot be combined")
    entry["allowed_domains"] = None if allowed is None else list(allowed)
    entry["blocked_domains"] = None if blocked is None else list(blocked)


def _tool_list(
    field: str, refs: Sequence[ToolReference | ServerToolReference], allowed: Collection[str] | None
) -> list[JSONObject]:
    """The references of an ``only``/``except`` source; ``allowed`` (when given) is what they may name."""
    names: list[str] = []
    for ref in refs:
        if allowed is not None and ref.name not in allowed:
            raise InvalidRequest(f"url_sources.{field}: {ref.name!r} is not a custom tool of this agent")
        if ref.name in names:
            raise InvalidRequest(f"url_sources.{field}: {ref.name!r} is listed twice")
        names.append(ref.name)
    return [{"type": "tool_reference", "name": name} for name in names]


def _source(field: str, value: Source | None, allowed: Collection[str] | None = None) -> JSONObject | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, SourceScope):
        return {"type": value.type}
    return {"type": value.type, "tools": _tool_list(field, value.tools, allowed)}


def _url_sources(value: URLSourcesParams | None, custom_names: Collection[str]) -> JSONObject | None:
    if value is None:
        return None
    resolved = {
        "user_input": _source("user_input", value.user_input),
        "client_tool_results": _source("client_tool_results", value.client_tool_results, custom_names),
        "server_tool_results": _source("server_tool_results", value.server_tool_results),
    }
    if all(source == {"type": "none"} for source in resolved.values()):
        raise InvalidRequest("web_fetch.url_sources cannot set every source to 'none'")
    return resolved


def add_web_fetch(entry: BuiltinToolConfig, override: BuiltinToolConfigParams, custom_names: Collection[str]) -> None:
    """Add ``web_fetch``'s settings to its resolved entry (in the stored form's key order)."""
    _add_domains(entry, override)
    entry["max_content_tokens"] = override.max_content_tokens
    entry["url_sources"] = _url_sources(override.url_sources, custom_names)


def _user_location(value: UserLocationParam | None) -> JSONObject | None:
    """The approximate location; corral's search backends localise by ``country`` only, so the finer fields are
    refused rather than stored and ignored."""
    if value is None:
        return None
    unread = [field for field in ("city", "region", "timezone") if getattr(value, field) is not None]
    if unread:
        raise InvalidRequest(
            f"web_search.user_location: {', '.join(unread)} not supported (corral's search backends use the country)",
            code=ErrorCode.NOT_SUPPORTED,
        )
    return {
        "type": value.type,
        "city": value.city,
        "region": value.region,
        "country": value.country,
        "timezone": value.timezone,
    }


def add_web_search(entry: BuiltinToolConfig, override: BuiltinToolConfigParams) -> None:
    """Add ``web_search``'s settings to its resolved entry (in the stored form's key order)."""
    _add_domains(entry, override)
    entry["user_location"] = _user_location(override.user_location)
