"""Request bodies of ``/v1/environments`` (``EnvironmentCreateParams``, ``EnvironmentUpdateParams``; api.md §4)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.api.schemas.agents import Metadata, MetadataKey, MetadataValue
from corral.api.schemas.base import Strict, WholeNumber
from corral.catalog import limits


class UnrestrictedNetwork(Strict):
    type: Literal["unrestricted"]


class LimitedNetwork(Strict):
    type: Literal["limited"]
    allowed_hosts: list[Annotated[str, Field(min_length=1, max_length=253)]] | None = None
    allow_mcp_servers: bool | None = None
    allow_package_managers: bool | None = None


PackageSpec = Annotated[str, Field(min_length=1, max_length=limits.PACKAGE_SPEC_MAX)]


class PackagesParams(Strict):
    type: Literal["packages"] | None = None
    apt: list[PackageSpec] | None = None
    cargo: list[PackageSpec] | None = None
    gem: list[PackageSpec] | None = None
    go: list[PackageSpec] | None = None
    npm: list[PackageSpec] | None = None
    pip: list[PackageSpec] | None = None


class CorralSandboxParams(Strict):
    """corral extension: how the sandbox provider prepares sandboxes of this environment."""

    warm_pool_size: Annotated[WholeNumber, Field(ge=0, le=limits.WARM_POOL_MAX)] | None = None
    provisioning: Literal["lazy", "speculative", "eager"] | None = None


class CloudConfigParams(Strict):
    type: Literal["cloud"]
    networking: Annotated[UnrestrictedNetwork | LimitedNetwork, Field(discriminator="type")] | None = None
    packages: PackagesParams | None = None
    corral: CorralSandboxParams | None = None


class SelfHostedConfigParams(Strict):
    type: Literal["self_hosted"]


ConfigParams = Annotated[CloudConfigParams | SelfHostedConfigParams, Field(discriminator="type")]
EnvName = Annotated[str, Field(min_length=1, max_length=limits.ENV_NAME_MAX)]
Description = Annotated[str, Field(max_length=limits.DESCRIPTION_MAX)]


class EnvironmentCreate(Strict):
    name: EnvName
    config: ConfigParams | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    scope: Literal["organization"] | None = None  # "account" exists in the SDK; only API orgs' scope is served


class EnvironmentUpdate(Strict):
    name: EnvName | None = None
    config: ConfigParams | None = None
    description: Description | None = None
    metadata: dict[MetadataKey, MetadataValue | None] | None = None
    scope: Literal["organization"] | None = None  # "account" exists in the SDK; only API orgs' scope is served
