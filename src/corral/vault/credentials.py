"""The three credential kinds: what of a request is public (the response ``auth``), what is secret, how updates merge.

A credential is stored as two parts: ``auth``, exactly the response form (``BetaManagedAgents*AuthResponse``),
and ``Secrets``, the write-only fields, which only ever leave this module to be sealed (``corral.vault.crypto``):

=====================  =====================================================  =================================
kind                   public ``auth``                                        secret fields
=====================  =====================================================  =================================
static_bearer          type, mcp_server_url                                   token
mcp_oauth              type, mcp_server_url, expires_at, refresh{client_id,   access_token, refresh_token,
                       token_endpoint, token_endpoint_auth{type}, scope,      client_secret
                       resource}
environment_variable   type, secret_name, networking, injection_location      secret_value
=====================  =====================================================  =================================

Invariants:

* ``auth`` never holds a secret field, so rendering a credential cannot leak one whatever the code path.
* The immutable fields (``mcp_server_url``, ``secret_name``, ``client_id``, ``token_endpoint``, the kind) never
  change on update; the kind of an update must be the credential's (400 otherwise).
* ``injection_location`` (api.md §11.2): left out on create, both on; given, a location left out is off; on
  update, per-field merge; null refused; after either, at least one location is on.
* ``expires_at`` is kept unless the update sends one (a new ``access_token`` alone keeps the old expiry).
* Messages of the errors raised here name fields, never values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from corral._types import JSONObject
from corral.errors import ErrorCode, InvalidRequest
from corral.vault.params import (
    AuthCreate,
    AuthUpdate,
    EnvironmentVariableCreate,
    EnvironmentVariableUpdate,
    InjectionLocation,
    LimitedNetworking,
    MCPOAuthCreate,
    MCPOAuthUpdate,
    OAuthRefresh,
    OAuthRefreshUpdate,
    StaticBearerCreate,
    StaticBearerUpdate,
    UnrestrictedNetworking,
)

Kind = Literal["static_bearer", "mcp_oauth", "environment_variable"]
Secrets = dict[str, str]
"""The write-only fields of one credential, by name (``token``, ``access_token``, ``refresh_token`` …)."""

MAX_PER_VAULT = 20


@dataclass(frozen=True)
class Resolved:
    kind: Kind
    auth: JSONObject
    secrets: Secrets

    @property
    def match_key(self) -> str:
        """What must be unique among a vault's active credentials: the MCP server URL, or the variable name."""
        return match_key(self.auth)


def match_key(auth: JSONObject) -> str:
    if auth["type"] == "environment_variable":
        return "env:" + str(auth["secret_name"])
    return "mcp:" + str(auth["mcp_server_url"])


def _refused(message: str) -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.INVALID_REQUEST)


def _networking(value: UnrestrictedNetworking | LimitedNetworking | None) -> JSONObject:
    if value is None:
        raise _refused("auth.networking cannot be null")
    if isinstance(value, LimitedNetworking):
        return {"type": "limited", "allowed_hosts": list(value.allowed_hosts)}
    return {"type": "unrestricted"}


def _locations(merged: JSONObject) -> JSONObject:
    if not (merged["header"] or merged["body"]):
        raise _refused("auth.injection_location: at least one of header and body must be true")
    return merged


def _injection(sent: InjectionLocation | None, stored: JSONObject | None) -> JSONObject:
    """The injection locations after a create (``stored`` None) or an update."""
    if sent is None:
        raise _refused("auth.injection_location cannot be null")
    merged = dict(stored or {"header": False, "body": False})
    for field in ("header", "body"):
        if field in sent.model_fields_set:
            value = getattr(sent, field)
            if value is None:
                raise _refused(f"auth.injection_location.{field} cannot be null")
            merged[field] = value
    return _locations(merged)


def _refresh(refresh: OAuthRefresh, secrets: Secrets) -> JSONObject:
    secrets["refresh_token"] = refresh.refresh_token
    endpoint_auth = refresh.token_endpoint_auth
    if endpoint_auth.type != "none":
        secrets["client_secret"] = endpoint_auth.client_secret
    return {
        "client_id": refresh.client_id,
        "token_endpoint": refresh.token_endpoint,
        "token_endpoint_auth": {"type": endpoint_auth.type},
        "scope": refresh.scope or None,
        "resource": refresh.resource,
    }


def _create_oauth(params: MCPOAuthCreate) -> Resolved:
    secrets: Secrets = {"access_token": params.access_token}
    refresh = _refresh(params.refresh, secrets) if params.refresh is not None else None
    auth = {
        "type": "mcp_oauth",
        "mcp_server_url": params.mcp_server_url,
        "expires_at": params.expires_at,
        "refresh": refresh,
    }
    return Resolved("mcp_oauth", auth, secrets)


def resolve_create(params: AuthCreate) -> Resolved:
    """The public ``auth`` and the secrets of a new credential."""
    if isinstance(params, StaticBearerCreate):
        auth: JSONObject = {"type": "static_bearer", "mcp_server_url": params.mcp_server_url}
        return Resolved("static_bearer", auth, {"token": params.token})
    if isinstance(params, MCPOAuthCreate):
        return _create_oauth(params)
    return _create_variable(params)


def _create_variable(params: EnvironmentVariableCreate) -> Resolved:
    sent_location = "injection_location" in params.model_fields_set
    location = _injection(params.injection_location, None) if sent_location else {"header": True, "body": True}
    auth = {
        "type": "environment_variable",
        "secret_name": params.secret_name,
        "networking": _networking(params.networking),
        "injection_location": location,
    }
    return Resolved("environment_variable", auth, {"secret_value": params.secret_value})


# ---------------------------------------------------------------- updates


def _secret(sent: BaseModel, field: str, secrets: Secrets, name: str | None = None) -> None:
    """Replace secret ``name`` (default: ``field``) when ``field`` was sent; a null cannot clear a secret."""
    if field not in sent.model_fields_set:
        return
    value = getattr(sent, field)
    if value is None:
        raise _refused(f"auth.{field} cannot be cleared; send a new value")
    secrets[name or field] = value


def _update_refresh(stored: JSONObject | None, sent: OAuthRefreshUpdate, secrets: Secrets) -> JSONObject:
    if stored is None:
        raise _refused("auth.refresh: this credential has no refresh configuration to update")
    refresh = dict(stored)
    _secret(sent, "refresh_token", secrets)
    if "scope" in sent.model_fields_set and sent.scope is not None:
        refresh["scope"] = sent.scope or None
    if sent.token_endpoint_auth is not None:
        if refresh["token_endpoint_auth"]["type"] == "none":
            raise _refused("auth.refresh.token_endpoint_auth: this credential's token endpoint takes no client secret")
        _secret(sent.token_endpoint_auth, "client_secret", secrets)
    return refresh


def _update_oauth(auth: JSONObject, secrets: Secrets, sent: MCPOAuthUpdate) -> None:
    _secret(sent, "access_token", secrets)
    if "expires_at" in sent.model_fields_set:
        auth["expires_at"] = sent.expires_at
    if "refresh" in sent.model_fields_set:
        if sent.refresh is None:
            auth["refresh"] = None
            secrets.pop("refresh_token", None)
            secrets.pop("client_secret", None)
        else:
            auth["refresh"] = _update_refresh(auth.get("refresh"), sent.refresh, secrets)


def _update_variable(auth: JSONObject, secrets: Secrets, sent: EnvironmentVariableUpdate) -> None:
    _secret(sent, "secret_value", secrets)
    if "networking" in sent.model_fields_set:
        auth["networking"] = _networking(sent.networking)
    if "injection_location" in sent.model_fields_set:
        auth["injection_location"] = _injection(sent.injection_location, auth["injection_location"])


def resolve_update(auth: JSONObject, secrets: Secrets, sent: AuthUpdate) -> tuple[JSONObject, Secrets]:
    """The stored ``auth`` and secrets after ``sent`` (new objects; the arguments are not changed)."""
    if sent.type != auth["type"]:
        raise _refused(f"auth.type must be {auth['type']!r}, the credential's kind, which cannot change")
    auth, secrets = dict(auth), dict(secrets)
    if isinstance(sent, StaticBearerUpdate):
        _secret(sent, "token", secrets)
    elif isinstance(sent, MCPOAuthUpdate):
        _update_oauth(auth, secrets, sent)
    else:
        _update_variable(auth, secrets, sent)
    return auth, secrets
