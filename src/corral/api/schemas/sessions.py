"""Request bodies of ``/v1/sessions`` (``SessionCreateParams``, ``SessionUpdateParams``; api.md §5.2–§5.3)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.api.schemas.events import InitialEvent
from corral.api.schemas.resources import ResourceParam
from corral.catalog import limits
from corral.catalog.params import Metadata, MetadataPatch, SessionAgent, SessionAgentUpdate, Strict


class MonetaryAmount(Strict):
    amount: str
    currency: Literal["USD"]


class BudgetLimit(Strict):
    type: Literal["limit"]
    max_list_cost: MonetaryAmount


Title = Annotated[str, Field(max_length=limits.SESSION_TITLE_MAX)]


class SessionCreate(Strict):
    agent: SessionAgent
    environment_id: str
    title: Title | None = None
    metadata: Metadata | None = None
    resources: list[ResourceParam] | None = None
    vault_ids: list[str] | None = None
    initial_events: Annotated[list[InitialEvent], Field(max_length=limits.INITIAL_EVENTS_MAX)] | None = None
    budget: BudgetLimit | None = None


class SessionUpdate(Strict):
    title: Title | None = None
    metadata: MetadataPatch | None = None
    agent: SessionAgentUpdate | None = None
    budget: BudgetLimit | None = None
    vault_ids: list[str] | None = None
