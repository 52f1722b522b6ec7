"""Response models, for ``/openapi.json``: handlers build JSON directly and never run these.

Wherever the official SDK has a model, it *is* the documentation (the SDK is the client this server must
satisfy); corral adds only the error body, the page wrappers, the keep-alive frame of event streams, its
environment-config extension (declared once, as the request model ``CorralSandboxParams``: it is echoed as sent)
and the agent's ``corral`` object (``CorralAgentParams``, echoed as stored on agents and sessions' agents: the
SDK's models are subclassed under their own names, so the documented schemas keep them).

Invariant: every response a route sends validates against the schema ``/openapi.json`` declares for its route and
status, with no undeclared property (``tests/api/test_wire.py`` checks real responses of every operation).
"""

from __future__ import annotations

from types import GenericAlias
from typing import Any, Literal, cast

from anthropic.types.beta import (
    BetaDeletedFile,
    BetaDeletedSkill,
    BetaEnvironmentDeleteResponse,
    BetaFileMetadata,
    BetaLimitedNetwork,
    BetaManagedAgentsAdvisor,
    BetaManagedAgentsDeletedMemoryStore,
    BetaManagedAgentsDeletedSession,
    BetaManagedAgentsDeletedVault,
    BetaManagedAgentsMemoryStore,
    BetaManagedAgentsVault,
    BetaPackages,
    BetaSelfHostedConfig,
    BetaSkill,
    BetaUnrestrictedNetwork,
)
from anthropic.types.beta import (
    BetaManagedAgentsAgent as SDKAgent,
)
from anthropic.types.beta import (
    BetaManagedAgentsSession as SDKSession,
)
from anthropic.types.beta import (
    BetaManagedAgentsSessionAgent as SDKSessionAgent,
)
from anthropic.types.beta import (
    BetaManagedAgentsSessionThreadAgent as SDKSessionThreadAgent,
)
from anthropic.types.beta.environments import (
    BetaSelfHostedWork,
)
from anthropic.types.beta.memory_stores import (
    BetaManagedAgentsDeletedMemory,
    BetaManagedAgentsMemory,
    BetaManagedAgentsMemoryListItem,
    BetaManagedAgentsMemoryVersion,
)
from anthropic.types.beta.sessions import (
    BetaManagedAgentsDeleteSessionResource,
    BetaManagedAgentsFileResource,
    BetaManagedAgentsInlineAgent,
    BetaManagedAgentsSendSessionEvents,
    BetaManagedAgentsSessionEvent,
    BetaManagedAgentsSessionResource,
    BetaManagedAgentsStreamSessionEvents,
)
from anthropic.types.beta.sessions import (
    BetaManagedAgentsSessionThread as SDKSessionThread,
)
from anthropic.types.beta.skills import BetaDeletedSkillVersion, BetaSkillVersion
from anthropic.types.beta.vaults import (
    BetaManagedAgentsCredential,
    BetaManagedAgentsCredentialValidation,
    BetaManagedAgentsDeletedCredential,
)
from pydantic import BaseModel, Field, create_model

from corral.catalog.params.environments import CorralSandboxParams
from corral.catalog.params.extensions import CorralAgentParams

__all__ = [
    "AgentPage",
    "BetaDeletedFile",
    "BetaDeletedSkill",
    "BetaDeletedSkillVersion",
    "BetaEnvironmentDeleteResponse",
    "BetaFileMetadata",
    "BetaManagedAgentsAgent",
    "BetaManagedAgentsCredential",
    "BetaManagedAgentsCredentialValidation",
    "BetaManagedAgentsDeleteSessionResource",
    "BetaManagedAgentsDeletedCredential",
    "BetaManagedAgentsDeletedMemory",
    "BetaManagedAgentsDeletedMemoryStore",
    "BetaManagedAgentsDeletedSession",
    "BetaManagedAgentsDeletedVault",
    "BetaManagedAgentsFileResource",
    "BetaManagedAgentsMemory",
    "BetaManagedAgentsMemoryStore",
    "BetaManagedAgentsMemoryVersion",
    "BetaManagedAgentsSendSessionEvents",
    "BetaManagedAgentsSession",
    "BetaManagedAgentsVault",
    "BetaSkill",
    "BetaSkillVersion",
    "CredentialPage",
    "Environment",
    "EnvironmentPage",
    "ErrorBody",
    "EventPage",
    "FilePage",
    "MemoryPage",
    "MemoryStorePage",
    "MemoryVersionPage",
    "ResourcePage",
    "SessionPage",
    "SessionThread",
    "SessionThreadPage",
    "SessionResource",
    "SkillPage",
    "SkillVersionPage",
    "StreamFrame",
    "VaultPage",
]


class ErrorDetail(BaseModel):
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, …")
    message: str
    details: dict[str, Any] | None = Field(None, description="error_code and other machine-readable context")


class ErrorBody(BaseModel):
    type: Literal["error"]
    error: ErrorDetail
    request_id: str


class CloudConfig(BaseModel):
    type: Literal["cloud"]
    networking: BetaUnrestrictedNetwork | BetaLimitedNetwork
    packages: BetaPackages
    corral: CorralSandboxParams | None = Field(None, description="corral extension, echoed as sent; absent unless set")


class Environment(BaseModel):
    """``BetaEnvironment`` with corral's optional ``config.corral``."""

    type: Literal["environment"]
    id: str
    name: str
    description: str | None
    config: CloudConfig | BetaSelfHostedConfig
    metadata: dict[str, str]
    scope: Literal["organization", "account"] | None
    created_at: str
    updated_at: str
    archived_at: str | None


_CORRAL_AGENT = "corral extension: the agent's harness extensions (corral.extend), as stored; absent unless set"


class BetaManagedAgentsAgent(SDKAgent):
    """The SDK's ``BetaManagedAgentsAgent`` with corral's optional ``corral`` object (its harness extensions)."""

    corral: CorralAgentParams | None = Field(None, description=_CORRAL_AGENT)


class BetaManagedAgentsSessionAgent(SDKSessionAgent):
    """The SDK's ``BetaManagedAgentsSessionAgent`` with the agent's optional ``corral`` object."""

    corral: CorralAgentParams | None = Field(None, description=_CORRAL_AGENT)


# The SDK's ``BetaManagedAgentsSession``, whose agent may carry corral's ``corral`` object: made rather than
# declared, because a declared subclass may not narrow an inherited field's type
BetaManagedAgentsSession = create_model(
    "BetaManagedAgentsSession",
    __base__=SDKSession,
    __doc__=SDKSession.__doc__,
    agent=(BetaManagedAgentsSessionAgent, ...),
)


class AgentPage(BaseModel):
    data: list[BetaManagedAgentsAgent]
    next_page: str | None


class EnvironmentPage(BaseModel):
    data: list[Environment]
    next_page: str | None


class WorkPage(BaseModel):
    data: list[BetaSelfHostedWork]
    next_page: str | None


class EnvironmentKey(BaseModel):
    """A self-hosted environment's worker key (a corral extension); ``key`` only in the response that made it."""

    type: Literal["environment_key"]
    id: str
    environment_id: str
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None
    key: str | None = None


class EnvironmentKeyPage(BaseModel):
    data: list[EnvironmentKey]
    next_page: str | None


SessionPage = create_model(
    "SessionPage",
    # ``list[…]`` of a made model: built at run time, which a type checker cannot follow
    data=(cast(Any, GenericAlias(list, (BetaManagedAgentsSession,))), ...),
    next_page=(str | None, ...),
    prev_page=(str | None, ...),
)


class VaultPage(BaseModel):
    data: list[BetaManagedAgentsVault]
    next_page: str | None


class CredentialPage(BaseModel):
    data: list[BetaManagedAgentsCredential]
    next_page: str | None


class FilePage(BaseModel):
    data: list[BetaFileMetadata]
    next_page: str | None


class MemoryStorePage(BaseModel):
    data: list[BetaManagedAgentsMemoryStore]
    next_page: str | None


class MemoryPage(BaseModel):
    data: list[BetaManagedAgentsMemoryListItem]
    next_page: str | None


class MemoryVersionPage(BaseModel):
    data: list[BetaManagedAgentsMemoryVersion]
    next_page: str | None


class SkillPage(BaseModel):
    data: list[BetaSkill]
    next_page: str | None


class SkillVersionPage(BaseModel):
    data: list[BetaSkillVersion]
    next_page: str | None


SessionResource = BetaManagedAgentsSessionResource
"""One session resource (``github_repository``, ``file`` or ``memory_store``, by ``type``)."""


class ResourcePage(BaseModel):
    data: list[BetaManagedAgentsSessionResource]
    next_page: str | None


class BetaManagedAgentsSessionThreadAgent(SDKSessionThreadAgent):
    """The SDK's ``BetaManagedAgentsSessionThreadAgent`` with the agent's optional ``corral`` object."""

    corral: CorralAgentParams | None = Field(None, description=_CORRAL_AGENT)


# The SDK's ``BetaManagedAgentsSessionThread``, whose agent may carry corral's ``corral`` object (made, as above)
SessionThread = create_model(
    "BetaManagedAgentsSessionThread",
    __base__=SDKSessionThread,
    __doc__=SDKSessionThread.__doc__,
    agent=(BetaManagedAgentsSessionThreadAgent | BetaManagedAgentsAdvisor | BetaManagedAgentsInlineAgent, ...),
)


SessionThreadPage = create_model(
    "SessionThreadPage",
    data=(cast(Any, GenericAlias(list, (SessionThread,))), ...),
    next_page=(str | None, ...),
)


class EventPage(BaseModel):
    data: list[BetaManagedAgentsSessionEvent]
    next_page: str | None


class Ping(BaseModel):
    """The keep-alive frame of an event stream (``event: ping``)."""

    type: Literal["ping"]


StreamFrame = BetaManagedAgentsStreamSessionEvents | Ping
"""The JSON ``data`` of one frame of ``GET /v1/sessions/{id}/events/stream`` (``event:`` is its ``type``)."""
