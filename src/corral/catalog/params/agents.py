"""Agents as a client sends them: ``AgentCreateParams``, ``AgentUpdateParams`` (api.md §3.2–§3.3), and a
session's reference to an agent (``agent``, ``agent_with_overrides``; api.md §5.2)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Tag

from corral.catalog.limits import (
    DESCRIPTION_MAX,
    INFERENCE_GEO_MAX,
    MODEL_ID_MAX,
    NAME_MAX,
    ROLE_ARN_MAX,
    SKILL_ID_MAX,
    SKILLS_MAX,
    SYSTEM_MAX,
)
from corral.catalog.params.base import BY_JSON_TYPE, NOT_BLANK, WHOLE
from corral.catalog.params.extensions import CorralAgentParams
from corral.catalog.params.multiagent import Multiagent
from corral.catalog.params.tools import MCPServers, ToolParam
from corral.vocab.options import EffortLevel, Speed
from corral.wire import Metadata, MetadataPatch, Strict


class EffortParam(Strict):
    type: EffortLevel


ModelId = Annotated[str, Field(min_length=1, max_length=MODEL_ID_MAX)]


Effort = Annotated[Annotated[EffortLevel, Tag("string")] | Annotated[EffortParam, Tag("object")], BY_JSON_TYPE]


class ModelConfigParams(Strict):
    id: ModelId
    effort: Effort | None = None
    speed: Speed | None = None
    inference_geo: Annotated[str, Field(min_length=1, max_length=INFERENCE_GEO_MAX)] | None = None


ModelParam = Annotated[Annotated[ModelId, Tag("string")] | Annotated[ModelConfigParams, Tag("object")], BY_JSON_TYPE]
"""A model id, or the object form."""


class SkillParams(Strict):
    """A skill an agent uses: ``custom`` (``skill_…``) at ``version`` (a version id; omitted, null or ``latest``:
    the newest when a session starts), or ``anthropic`` (refused by this server, by name)."""

    type: Literal["anthropic", "custom"]
    skill_id: Annotated[str, Field(min_length=1, max_length=SKILL_ID_MAX)]
    version: Annotated[str, Field(min_length=1, max_length=SKILL_ID_MAX)] | None = None


Skills = Annotated[list[SkillParams], Field(max_length=SKILLS_MAX)]


class ServiceAccount(Strict):
    type: Literal["service_account"]


class AWSRole(Strict):
    type: Literal["aws_role"]
    role_arn: Annotated[str, Field(min_length=1, max_length=ROLE_ARN_MAX)]


ExecutionIdentity = Annotated[ServiceAccount | AWSRole, Field(discriminator="type")]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), NOT_BLANK]
System = Annotated[str, Field(max_length=SYSTEM_MAX)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX)]
Version = Annotated[int, Field(ge=1), WHOLE]
CORRAL_DOC = (
    "corral extension: the agent's harness extensions (context strategy, compaction policy, model router, "
    "server-side tools, turn observers) by installed name; null clears. The hosted API has no such field."
)


class AgentCreate(Strict):
    name: Name
    model: ModelParam
    description: Description | None = None
    system: System | None = None
    tools: list[ToolParam] | None = None
    mcp_servers: MCPServers | None = None
    skills: Skills | None = None
    multiagent: Multiagent | None = None
    execution_identity: ExecutionIdentity | None = None
    metadata: Metadata | None = None
    corral: CorralAgentParams | None = Field(default=None, description=CORRAL_DOC)


class AgentUpdate(Strict):
    name: Name | None = None
    model: ModelParam | None = None
    description: Description | None = None
    system: System | None = None
    tools: list[ToolParam] | None = None
    mcp_servers: MCPServers | None = None
    skills: Skills | None = None
    multiagent: Multiagent | None = None
    execution_identity: ExecutionIdentity | None = None
    metadata: MetadataPatch | None = None
    version: Version | None = None
    corral: CorralAgentParams | None = Field(default=None, description=CORRAL_DOC)


class AgentRef(Strict):
    type: Literal["agent"]
    id: str
    version: Version | None = None


class AgentWithOverrides(Strict):
    type: Literal["agent_with_overrides"]
    id: str
    version: Version | None = None
    model: ModelParam | None = None
    system: System | None = None
    tools: list[ToolParam] | None = None
    mcp_servers: MCPServers | None = None
    skills: Skills | None = None


SessionAgent = Annotated[
    Annotated[str, Tag("string")]
    | Annotated[AgentRef | AgentWithOverrides, Field(discriminator="type"), Tag("object")],
    BY_JSON_TYPE,
]
"""A session's ``agent``: an agent id (its latest version), a pinned reference, or a reference with overrides."""


class SessionAgentUpdate(Strict):
    """A session's new ``tools``/``mcp_servers`` (``POST /v1/sessions/{id}``); ``model`` is a corral extension."""

    tools: list[ToolParam] | None = None
    mcp_servers: MCPServers | None = None
    model: ModelParam | None = Field(
        default=None,
        description="corral extension: the model (any provider) the session's next turn runs on; the history carries "
        "over. The hosted API has no such field.",
    )
