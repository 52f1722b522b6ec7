"""An agent's ``tools`` and ``mcp_servers`` as a client sends them (api.md §3.4, §19.2): their typed shapes.

Everything one value decides is checked here: names, lengths, enumerations, the hostname form of the web tools'
domain lists, which tools a ``server_tool_results`` source may name. What involves several entries (duplicate
names, references between toolsets and servers, the tool limit an operator configures) is the catalog's
(``corral.catalog.tools``).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, Tag, TypeAdapter

from corral.catalog.limits import (
    DOMAINS_MAX,
    MCP_NAME_MAX,
    MCP_SERVERS_MAX,
    TOOL_DESCRIPTION_MAX,
    TOOL_NAME_MAX,
    URL_MAX,
    URL_SOURCE_TOOLS_MAX,
    USER_LOCATION_FIELD_MAX,
)
from corral.catalog.params.base import BY_JSON_TYPE, WHOLE, FreeJSON, Matches, Open, refuse
from corral.vocab.tools import BuiltinToolName, PermissionPolicyType, ServerToolName, ToolsetType
from corral.wire import Strict


class PermissionPolicy(Strict):
    type: PermissionPolicyType


class DefaultConfigParams(Strict):
    enabled: bool | None = None
    permission_policy: PermissionPolicy | None = None


# ------------------------------------------------------------------------------- web_fetch / web_search extras

DOMAIN_PATTERN: Final = r"^[A-Za-z0-9*]([A-Za-z0-9.*-]{0,252})(/[^\s]*)?$"


_NOT_PLAIN: Final = "{value} is not a plain hostname"


def _no_scheme(host: str) -> str:
    if "://" in host:
        raise refuse(_NOT_PLAIN, host)
    return host


Domain = Annotated[str, Matches(DOMAIN_PATTERN, _NOT_PLAIN), AfterValidator(_no_scheme)]
Domains = Annotated[list[Domain], Field(min_length=1, max_length=DOMAINS_MAX)]
"""Omit the list rather than send ``[]``."""


class ToolReference(Strict):
    type: Literal["tool_reference"]
    name: str


class ServerToolReference(Strict):
    type: Literal["tool_reference"]
    name: ServerToolName


SourceKind = Literal["all", "none"]


class SourceScope(Strict):
    """``{"type": "all"}`` or ``{"type": "none"}`` (the string alone means the same)."""

    type: SourceKind


class SourceTools(Strict):
    """Only, or all except, the results of the custom tools listed."""

    type: Literal["only", "except"]
    tools: Annotated[list[ToolReference], Field(min_length=1, max_length=URL_SOURCE_TOOLS_MAX)]


class SourceServerTools(Strict):
    """Only, or all except, the results of the server tools listed."""

    type: Literal["only", "except"]
    tools: Annotated[list[ServerToolReference], Field(min_length=1, max_length=URL_SOURCE_TOOLS_MAX)]


UserInputSource = Annotated[Annotated[SourceKind, Tag("string")] | Annotated[SourceScope, Tag("object")], BY_JSON_TYPE]
ClientToolSource = Annotated[
    Annotated[SourceKind, Tag("string")]
    | Annotated[SourceScope | SourceTools, Field(discriminator="type"), Tag("object")],
    BY_JSON_TYPE,
]
ServerToolSource = Annotated[
    Annotated[SourceKind, Tag("string")]
    | Annotated[SourceScope | SourceServerTools, Field(discriminator="type"), Tag("object")],
    BY_JSON_TYPE,
]


class URLSourcesParams(Strict):
    user_input: UserInputSource | None = None
    client_tool_results: ClientToolSource | None = None
    server_tool_results: ServerToolSource | None = None


LocationText = Annotated[str, Field(max_length=USER_LOCATION_FIELD_MAX)]


class UserLocationParam(Strict):
    type: Literal["approximate"]
    city: LocationText | None = None
    country: Annotated[str, Matches(r"^[A-Z]{2}$", "{value} is not a two-letter ISO 3166-1 code, uppercase")] | None = (
        None
    )
    region: LocationText | None = None
    timezone: LocationText | None = None


# ------------------------------------------------------------------------------------------------ toolsets


class BuiltinToolConfigParams(Strict):
    """One built-in tool's override; only ``web_fetch``/``web_search`` read the extra fields."""

    name: BuiltinToolName
    type: BuiltinToolName | None = None
    enabled: bool | None = None
    permission_policy: PermissionPolicy | None = None
    allowed_domains: Domains | None = None
    blocked_domains: Domains | None = None
    max_content_tokens: Annotated[int, Field(ge=1), WHOLE] | None = None
    url_sources: URLSourcesParams | None = None
    user_location: UserLocationParam | None = None


class AgentToolsetParams(Strict):
    type: ToolsetType
    default_config: DefaultConfigParams | None = None
    configs: list[BuiltinToolConfigParams] | None = None


class MCPToolConfigParams(Strict):
    name: Annotated[str, Field(min_length=1, max_length=TOOL_NAME_MAX)]
    enabled: bool | None = None
    permission_policy: PermissionPolicy | None = None


class MCPToolsetParams(Strict):
    type: Literal["mcp_toolset"]
    mcp_server_name: Annotated[str, Field(min_length=1, max_length=MCP_NAME_MAX)]
    default_config: DefaultConfigParams | None = None
    configs: list[MCPToolConfigParams] | None = None


class InputSchemaParam(Open):
    type: Literal["object"]
    properties: dict[str, FreeJSON] | None = None
    required: list[str] | None = None


class CustomToolParams(Strict):
    type: Literal["custom"]
    name: Annotated[str, Field(min_length=1, max_length=TOOL_NAME_MAX, pattern=r"^[A-Za-z0-9_-]+$")]
    description: Annotated[str, Field(max_length=TOOL_DESCRIPTION_MAX)]
    input_schema: InputSchemaParam


ToolParam = Annotated[AgentToolsetParams | MCPToolsetParams | CustomToolParams, Field(discriminator="type")]


_NOT_HTTP: Final = "{value} is not an http(s) url"


class MCPServerParams(Strict):
    type: Literal["url"]
    name: Annotated[str, Field(min_length=1, max_length=MCP_NAME_MAX)]
    url: Annotated[
        str, Field(min_length=1, max_length=URL_MAX), Matches(r"^https?://", "{value} is not an http(s) url")
    ]


MCPServers = Annotated[list[MCPServerParams], Field(max_length=MCP_SERVERS_MAX)]

TOOLS: Final = TypeAdapter(list[ToolParam])
"""Reads a stored ``tools`` list back as parameters (resolution is idempotent, so the stored form is valid input)."""
MCP_SERVERS: Final = TypeAdapter(MCPServers)
