"""Vaults and credentials as a client sends them (``VaultCreateParams`` … ``CredentialUpdateParams``, api.md §11).

``corral.api`` declares these as request bodies (so ``/openapi.json`` documents them) and the vault's verbs take
them, like the catalog's typed inputs (``corral.catalog.params``; both take the strict base and the metadata bags
from ``corral.wire``). Parsing enforces every rule that one value decides; ``corral.vault.credentials``
keeps the rules across fields and against what is stored.

Invariants: unknown fields are refused and nothing is coerced; no error this module raises quotes a value (a
secret sent in the wrong place must not come back in a 400); "omitted" and "sent as null" stay distinguishable
through ``model_fields_set``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from corral.ids import now, parse_rfc3339, rfc3339
from corral.wire import Metadata, MetadataPatch, Strict

DISPLAY_NAME_MAX = 255
SECRET_MAX = 65_536
URL_MAX = 2048
SECRET_NAME_MAX = 255
ALLOWED_HOSTS_MAX = 16
OAUTH_FIELD_MAX = 2048

_URL = r"^https?://[^\s/?#@]+(/[^\s]*)?$"
_HOST = r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _future(value: str) -> str:
    try:
        moment = parse_rfc3339(value)
    except ValueError:
        raise ValueError("expected an RFC 3339 timestamp such as 2026-01-01T00:00:00Z") from None
    if moment <= now():
        raise ValueError("must be in the future")
    return rfc3339(moment)


Secret = Annotated[str, Field(min_length=1, max_length=SECRET_MAX, description="Write-only; never returned.")]
Url = Annotated[str, Field(min_length=1, max_length=URL_MAX, pattern=_URL, description="An http(s) URL")]
Expiry = Annotated[str, AfterValidator(_future), Field(description="RFC 3339, in the future")]
OAuthText = Annotated[str, Field(max_length=OAUTH_FIELD_MAX)]
DisplayName = Annotated[str, Field(min_length=1, max_length=DISPLAY_NAME_MAX)]
Host = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=_HOST, description="hostname, IPv4 or *.domain; no port or path"),
]
SecretName = Annotated[str, Field(min_length=1, max_length=SECRET_NAME_MAX, pattern=_ENV_NAME)]


# ---------------------------------------------------------------- vaults


class VaultCreate(Strict):
    display_name: DisplayName
    metadata: Metadata | None = None


class VaultUpdate(Strict):
    display_name: DisplayName | None = None
    metadata: MetadataPatch | None = None


# ---------------------------------------------------------------- shared parts of credentials


class UnrestrictedNetworking(Strict):
    type: Literal["unrestricted"]


class LimitedNetworking(Strict):
    type: Literal["limited"]
    allowed_hosts: Annotated[list[Host], Field(min_length=1, max_length=ALLOWED_HOSTS_MAX)]


Networking = Annotated[UnrestrictedNetworking | LimitedNetworking, Field(discriminator="type")]


class InjectionLocation(Strict):
    """Create: a location left out is off (both are on when the whole object is left out). Update: a location
    left out keeps its setting. Null is refused either way."""

    header: bool | None = None
    body: bool | None = None


class TokenEndpointAuthNone(Strict):
    type: Literal["none"]


class TokenEndpointAuthBasic(Strict):
    type: Literal["client_secret_basic"]
    client_secret: Secret


class TokenEndpointAuthPost(Strict):
    type: Literal["client_secret_post"]
    client_secret: Secret


TokenEndpointAuth = Annotated[
    TokenEndpointAuthNone | TokenEndpointAuthBasic | TokenEndpointAuthPost, Field(discriminator="type")
]


class TokenEndpointAuthUpdate(Strict):
    """A new client secret; the credential keeps its ``token_endpoint_auth`` type whichever of the two is sent."""

    type: Literal["client_secret_basic", "client_secret_post"]
    client_secret: Secret | None = None


# ---------------------------------------------------------------- credential create


class OAuthRefresh(Strict):
    client_id: Annotated[str, Field(min_length=1, max_length=OAUTH_FIELD_MAX)]
    refresh_token: Secret
    token_endpoint: Url
    token_endpoint_auth: TokenEndpointAuth
    resource: OAuthText | None = None
    scope: OAuthText | None = None


class MCPOAuthCreate(Strict):
    type: Literal["mcp_oauth"]
    mcp_server_url: Url
    access_token: Secret
    expires_at: Expiry | None = None
    refresh: OAuthRefresh | None = None


class StaticBearerCreate(Strict):
    type: Literal["static_bearer"]
    mcp_server_url: Url
    token: Secret


class EnvironmentVariableCreate(Strict):
    type: Literal["environment_variable"]
    secret_name: SecretName
    secret_value: Secret
    networking: Networking
    injection_location: InjectionLocation | None = None


AuthCreate = Annotated[MCPOAuthCreate | StaticBearerCreate | EnvironmentVariableCreate, Field(discriminator="type")]


class CredentialCreate(Strict):
    auth: AuthCreate
    display_name: Annotated[str, Field(max_length=DISPLAY_NAME_MAX)] | None = None
    metadata: Metadata | None = None


# ---------------------------------------------------------------- credential update


class OAuthRefreshUpdate(Strict):
    refresh_token: Secret | None = None
    scope: OAuthText | None = Field(None, description='"" clears the stored scope; null keeps it')
    token_endpoint_auth: TokenEndpointAuthUpdate | None = None


class MCPOAuthUpdate(Strict):
    type: Literal["mcp_oauth"]
    access_token: Secret | None = None
    expires_at: Expiry | None = Field(None, description="left out: the stored expiry is kept; null: unknown")
    refresh: OAuthRefreshUpdate | None = Field(None, description="null removes refresh support")


class StaticBearerUpdate(Strict):
    type: Literal["static_bearer"]
    token: Secret | None = None


class EnvironmentVariableUpdate(Strict):
    type: Literal["environment_variable"]
    secret_value: Secret | None = None
    networking: Networking | None = None
    injection_location: InjectionLocation | None = None


AuthUpdate = Annotated[MCPOAuthUpdate | StaticBearerUpdate | EnvironmentVariableUpdate, Field(discriminator="type")]


class CredentialUpdate(Strict):
    auth: AuthUpdate | None = None
    display_name: Annotated[str, Field(max_length=DISPLAY_NAME_MAX)] | None = None
    metadata: MetadataPatch | None = None
