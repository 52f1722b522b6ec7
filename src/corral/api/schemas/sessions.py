"""Request bodies of ``/v1/sessions`` (``SessionCreateParams``, ``SessionUpdateParams``; api.md §5.2–§5.3)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.api.schemas.agents import MCPServerParams, Metadata, MetadataPatch, ModelParam, SkillParams, ToolParam
from corral.api.schemas.base import FreeJSON, Strict, WholeNumber
from corral.api.schemas.events import InitialEvent
from corral.catalog import limits


class AgentRef(Strict):
    type: Literal["agent"]
    id: str
    version: Annotated[WholeNumber, Field(ge=1)] | None = None


class AgentWithOverrides(Strict):
    type: Literal["agent_with_overrides"]
    id: str
    version: Annotated[WholeNumber, Field(ge=1)] | None = None
    model: ModelParam | None = None
    system: Annotated[str, Field(max_length=limits.SYSTEM_MAX)] | None = None
    tools: list[ToolParam] | None = None
    mcp_servers: list[MCPServerParams] | None = None
    skills: list[SkillParams] | None = None


class MonetaryAmount(Strict):
    amount: str
    currency: Literal["USD"]


class BudgetLimit(Strict):
    type: Literal["limit"]
    max_list_cost: MonetaryAmount


Title = Annotated[str, Field(max_length=limits.SESSION_TITLE_MAX)]


class SessionCreate(Strict):
    agent: str | Annotated[AgentRef | AgentWithOverrides, Field(discriminator="type")]
    environment_id: str
    title: Title | None = None
    metadata: Metadata | None = None
    resources: list[dict[str, FreeJSON]] | None = None
    vault_ids: list[str] | None = None
    initial_events: Annotated[list[InitialEvent], Field(max_length=limits.INITIAL_EVENTS_MAX)] | None = None
    budget: BudgetLimit | None = None


class SessionAgentUpdate(Strict):
    tools: list[ToolParam] | None = None
    mcp_servers: list[MCPServerParams] | None = None


class SessionUpdate(Strict):
    title: Title | None = None
    metadata: MetadataPatch | None = None
    agent: SessionAgentUpdate | None = None
    budget: BudgetLimit | None = None
    vault_ids: list[str] | None = None
