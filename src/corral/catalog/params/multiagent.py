"""An agent's ``multiagent`` field as a client sends it (api.md §17; the SDK's ``BetaManagedAgentsMultiagent*Params``).

Two forms: the older ``coordinator`` roster and ``multiagent_20261001`` (advisor, subagents, workflows, each
``enabled`` or ``disabled``). Only shapes and fixed limits are checked here; what depends on stored agents
(existence, archive, depth, distinctness) is checked by ``corral.catalog.multiagent``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Tag

from corral.catalog.limits import MODEL_ID_MAX, ROSTER_MAX
from corral.catalog.params.base import BY_JSON_TYPE, WHOLE
from corral.wire import Strict

AdvisorModel = Annotated[str, Field(min_length=1, max_length=MODEL_ID_MAX)]


class AgentRef(Strict):
    """A saved agent: its latest version when the configuration is saved, or ``version``."""

    type: Literal["agent"]
    id: str
    version: Annotated[int, Field(ge=1), WHOLE] | None = None


class SelfRef(Strict):
    """The agent that owns the configuration (``{"type": "self"}``)."""

    type: Literal["self"]


class AdvisorRef(Strict):
    """A roster's advisor: a model the primary thread may consult (roster name ``anthropic.advisor``)."""

    type: Literal["advisor"]
    model: AdvisorModel


RosterEntry = Annotated[
    Annotated[str, Tag("string")]
    | Annotated[AgentRef | SelfRef | AdvisorRef, Field(discriminator="type"), Tag("object")],
    BY_JSON_TYPE,
]
PredefinedAgent = Annotated[
    Annotated[str, Tag("string")] | Annotated[AgentRef | SelfRef, Field(discriminator="type"), Tag("object")],
    BY_JSON_TYPE,
]


class Coordinator(Strict):
    type: Literal["coordinator"]
    agents: Annotated[list[RosterEntry], Field(min_length=1, max_length=ROSTER_MAX)]


class Disabled(Strict):
    type: Literal["disabled"]


class AdvisorEnabled(Strict):
    type: Literal["enabled"]
    model: AdvisorModel


class InlineAgents(Strict):
    type: Literal["enabled", "disabled"]


class MembersEnabled(Strict):
    """``subagents`` or ``workflows`` enabled: inline agents (default enabled) and predefined agents (≤20)."""

    type: Literal["enabled"]
    inline_agents: InlineAgents | None = None
    predefined_agents: Annotated[list[PredefinedAgent], Field(max_length=ROSTER_MAX)] | None = None


Advisor = Annotated[AdvisorEnabled | Disabled, Field(discriminator="type")]
Members = Annotated[MembersEnabled | Disabled, Field(discriminator="type")]


class Multiagent20261001(Strict):
    type: Literal["multiagent_20261001"]
    advisor: Advisor | None = None
    subagents: Members | None = None
    workflows: Members | None = None


Multiagent = Annotated[Coordinator | Multiagent20261001, Field(discriminator="type")]
"""An agent's ``multiagent``: ``coordinator`` or ``multiagent_20261001``."""
