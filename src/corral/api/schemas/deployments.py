"""Request bodies of ``/v1/deployments`` (``DeploymentCreateParams``, ``DeploymentUpdateParams``; api.md §15.1)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.api.schemas.events import InitialEvent
from corral.api.schemas.resources import ResourceParam
from corral.api.schemas.sessions import BudgetLimit
from corral.catalog.params import AgentRef, Metadata, MetadataPatch, Strict

InitialEvents = Annotated[list[InitialEvent], Field(min_length=1, max_length=50)]
VaultIds = Annotated[list[str], Field(max_length=50)]
Resources = Annotated[list[ResourceParam], Field(max_length=500)]


class ScheduleParams(Strict):
    type: Literal["cron"]
    expression: str
    timezone: str


class DeploymentCreate(Strict):
    agent: str | AgentRef
    environment_id: str
    initial_events: InitialEvents
    name: Annotated[str, Field(min_length=1, max_length=256)]
    budget: BudgetLimit | None = None
    description: str | None = None
    metadata: Metadata | None = None
    resources: Resources | None = None
    schedule: ScheduleParams | None = None
    vault_ids: VaultIds | None = None


class DeploymentUpdate(Strict):
    """Every field optional; what was sent is ``model_fields_set`` (null clears where api.md §15.1 allows)."""

    agent: str | AgentRef | None = None
    budget: BudgetLimit | None = None
    description: str | None = None
    environment_id: str | None = None
    initial_events: InitialEvents | None = None
    metadata: MetadataPatch | None = None
    name: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    resources: Resources | None = None
    schedule: ScheduleParams | None = None
    vault_ids: VaultIds | None = None
