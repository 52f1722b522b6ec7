"""Request bodies of ``/v1/agents`` (``AgentCreateParams``, ``AgentUpdateParams``; api.md §3.2–§3.3)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.api.schemas.base import FreeJSON, Open, Strict, WholeNumber
from corral.catalog import limits
from corral.vocab.tools import BuiltinToolName, ToolsetType


class AlwaysAllow(Strict):
    type: Literal["always_allow"]


class AlwaysAsk(Strict):
    type: Literal["always_ask"]


class Auto(Strict):
    type: Literal["auto"]


Policy = Annotated[AlwaysAllow | AlwaysAsk | Auto, Field(discriminator="type")]


EffortLevel = Literal["low", "medium", "high", "xhigh", "max"]


class EffortParam(Strict):
    type: EffortLevel


class ModelConfigParams(Strict):
    id: Annotated[str, Field(min_length=1, max_length=limits.MODEL_ID_MAX)]
    effort: EffortLevel | EffortParam | None = None
    speed: Literal["standard", "fast"] | None = None
    inference_geo: str | None = None


ModelParam = Annotated[str, Field(min_length=1, max_length=limits.MODEL_ID_MAX)] | ModelConfigParams


class DefaultConfigParams(Strict):
    enabled: bool | None = None
    permission_policy: Policy | None = None


class ToolReference(Strict):
    type: Literal["tool_reference"]
    name: str


class SourceAll(Strict):
    type: Literal["all"]


class SourceNone(Strict):
    type: Literal["none"]


class SourceOnly(Strict):
    type: Literal["only"]
    tools: list[ToolReference]


class SourceExcept(Strict):
    type: Literal["except"]
    tools: list[ToolReference]


ToolSource = (
    Literal["all", "none"] | Annotated[SourceAll | SourceNone | SourceOnly | SourceExcept, Field(discriminator="type")]
)


class URLSourcesParams(Strict):
    user_input: Literal["all", "none"] | Annotated[SourceAll | SourceNone, Field(discriminator="type")] | None = None
    client_tool_results: ToolSource | None = None
    server_tool_results: ToolSource | None = None


class UserLocationParam(Strict):
    type: Literal["approximate"]
    city: str | None = None
    country: str | None = None
    region: str | None = None
    timezone: str | None = None


class BuiltinToolConfig(Strict):
    """One built-in tool's override; ``web_fetch``/``web_search`` take the extra fields (checked by name)."""

    name: BuiltinToolName
    type: BuiltinToolName | None = None
    enabled: bool | None = None
    permission_policy: Policy | None = None
    allowed_domains: list[str] | None = None
    blocked_domains: list[str] | None = None
    max_content_tokens: WholeNumber | None = None
    url_sources: URLSourcesParams | None = None
    user_location: UserLocationParam | None = None


class AgentToolsetParams(Strict):
    type: ToolsetType
    default_config: DefaultConfigParams | None = None
    configs: list[BuiltinToolConfig] | None = None


class MCPToolConfigParams(Strict):
    name: Annotated[str, Field(min_length=1, max_length=limits.TOOL_NAME_MAX)]
    enabled: bool | None = None
    permission_policy: Policy | None = None


class MCPToolsetParams(Strict):
    type: Literal["mcp_toolset"]
    mcp_server_name: Annotated[str, Field(min_length=1, max_length=limits.MCP_NAME_MAX)]
    default_config: DefaultConfigParams | None = None
    configs: list[MCPToolConfigParams] | None = None


class InputSchemaParam(Open):
    type: Literal["object"]
    properties: dict[str, FreeJSON] | None = None
    required: list[str] | None = None


class CustomToolParams(Strict):
    type: Literal["custom"]
    name: Annotated[str, Field(min_length=1, max_length=limits.TOOL_NAME_MAX, pattern=r"^[A-Za-z0-9_-]+$")]
    description: Annotated[str, Field(max_length=limits.TOOL_DESCRIPTION_MAX)]
    input_schema: InputSchemaParam


ToolParam = Annotated[AgentToolsetParams | MCPToolsetParams | CustomToolParams, Field(discriminator="type")]


class MCPServerParams(Strict):
    type: Literal["url"]
    name: Annotated[str, Field(min_length=1, max_length=limits.MCP_NAME_MAX)]
    url: Annotated[str, Field(min_length=1, max_length=limits.URL_MAX)]


class SkillParams(Strict):
    type: Literal["anthropic", "custom"]
    skill_id: str
    version: str | None = None


class ServiceAccount(Strict):
    type: Literal["service_account"]


class AWSRole(Strict):
    type: Literal["aws_role"]
    role_arn: Annotated[str, Field(min_length=1, max_length=limits.ROLE_ARN_MAX)]


ExecutionIdentity = Annotated[ServiceAccount | AWSRole, Field(discriminator="type")]
Name = Annotated[str, Field(min_length=1, max_length=limits.NAME_MAX)]
System = Annotated[str, Field(max_length=limits.SYSTEM_MAX)]
Description = Annotated[str, Field(max_length=limits.DESCRIPTION_MAX)]
MetadataKey = Annotated[str, Field(min_length=1, max_length=limits.METADATA_KEY_MAX)]
MetadataValue = Annotated[str, Field(max_length=limits.METADATA_VALUE_MAX)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=limits.METADATA_PAIRS)]
MetadataPatch = dict[MetadataKey, MetadataValue | None]


class AgentCreate(Strict):
    name: Name
    model: ModelParam
    description: Description | None = None
    system: System | None = None
    tools: list[ToolParam] | None = None
    mcp_servers: list[MCPServerParams] | None = None
    skills: list[SkillParams] | None = None
    multiagent: dict[str, FreeJSON] | None = None
    execution_identity: ExecutionIdentity | None = None
    metadata: Metadata | None = None


class AgentUpdate(Strict):
    name: Name | None = None
    model: ModelParam | None = None
    description: Description | None = None
    system: System | None = None
    tools: list[ToolParam] | None = None
    mcp_servers: list[MCPServerParams] | None = None
    skills: list[SkillParams] | None = None
    multiagent: dict[str, FreeJSON] | None = None
    execution_identity: ExecutionIdentity | None = None
    metadata: MetadataPatch | None = None
    version: Annotated[WholeNumber, Field(ge=1)] | None = None
