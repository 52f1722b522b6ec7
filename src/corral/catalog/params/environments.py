"""Environments as a client sends them: ``EnvironmentCreateParams``, ``EnvironmentUpdateParams`` (api.md §4), with
corral's ``config.corral`` extension."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from corral.catalog.limits import (
    ALLOWED_HOSTS_MAX,
    DESCRIPTION_MAX,
    ENV_NAME_MAX,
    HOST_MAX,
    PACKAGE_SPEC_MAX,
    PACKAGES_MAX,
    WARM_POOL_MAX,
)
from corral.catalog.params.base import NO_NUL, NOT_BLANK, WHOLE, Matches, refuse
from corral.vocab.options import ProvisioningMode
from corral.wire import Metadata, MetadataPatch, Strict

HOST_PATTERN = r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:\d{1,5})?$"
Host = Annotated[
    str,
    Field(min_length=1, max_length=HOST_MAX, description="A hostname: no scheme or path"),
    Matches(HOST_PATTERN, "{value} is not a hostname (no scheme or path)"),
]


class UnrestrictedNetwork(Strict):
    type: Literal["unrestricted"]


class LimitedNetwork(Strict):
    type: Literal["limited"]
    allowed_hosts: Annotated[list[Host], Field(max_length=ALLOWED_HOSTS_MAX)] | None = None
    allow_mcp_servers: bool | None = None
    allow_package_managers: bool | None = None


def _trimmed(spec: str) -> str:
    if spec.strip() != spec:
        raise refuse("{value} is not a package specifier (leading or trailing whitespace)", spec)
    return spec


PackageSpec = Annotated[str, Field(min_length=1, max_length=PACKAGE_SPEC_MAX), AfterValidator(_trimmed)]
PackageSpecs = Annotated[list[PackageSpec], Field(max_length=PACKAGES_MAX)]


class PackagesParams(Strict):
    """Field names are ``corral.vocab.options.PACKAGE_MANAGERS`` (a test keeps them equal)."""

    type: Literal["packages"] | None = None
    apt: PackageSpecs | None = None
    cargo: PackageSpecs | None = None
    gem: PackageSpecs | None = None
    go: PackageSpecs | None = None
    npm: PackageSpecs | None = None
    pip: PackageSpecs | None = None


class CorralSandboxParams(Strict):
    """corral extension: how the sandbox provider prepares sandboxes of this environment."""

    warm_pool_size: Annotated[int, Field(ge=0, le=WARM_POOL_MAX), WHOLE] | None = None
    provisioning: ProvisioningMode | None = None


class CloudConfigParams(Strict):
    type: Literal["cloud"]
    networking: Annotated[UnrestrictedNetwork | LimitedNetwork, Field(discriminator="type")] | None = None
    packages: PackagesParams | None = None
    corral: CorralSandboxParams | None = None


class SelfHostedConfigParams(Strict):
    type: Literal["self_hosted"]


ConfigParams = Annotated[CloudConfigParams | SelfHostedConfigParams, Field(discriminator="type")]


EnvName = Annotated[str, Field(min_length=1, max_length=ENV_NAME_MAX), NOT_BLANK, NO_NUL]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX)]
Scope = Literal["organization"]
"""``account`` exists in the SDK; only API organisations' scope is served."""


class EnvironmentCreate(Strict):
    name: EnvName
    config: ConfigParams | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    scope: Scope | None = None


class EnvironmentUpdate(Strict):
    name: EnvName | None = None
    config: ConfigParams | None = None
    description: Description | None = None
    metadata: MetadataPatch | None = None
    scope: Scope | None = None
