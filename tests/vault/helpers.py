"""Helpers of the vault tests: canary secrets, credential bodies of each kind, reading the server's database."""

from __future__ import annotations

import secrets
from typing import Any

import anthropic
import anyio
from anthropic.types.beta import BetaManagedAgentsVault
from anthropic.types.beta.vaults import (
    BetaManagedAgentsCredential,
    BetaManagedAgentsEnvironmentVariableCreateParams,
    BetaManagedAgentsInjectionLocationParams,
    BetaManagedAgentsMCPOAuthCreateParams,
    BetaManagedAgentsStaticBearerCreateParams,
)

from corral.db import Flow, Row, all_rows
from corral.db.engines import open_database
from tests.conformance.helpers import unique, validated
from tests.live import LiveServer

CANARY_PREFIX = "cnry-vlt-"
"""Every secret these tests send starts with this; base64 (what the database holds) never contains ``-``."""


def canary() -> str:
    return CANARY_PREFIX + secrets.token_hex(8)


def bearer(url: str | None = None, token: str | None = None) -> BetaManagedAgentsStaticBearerCreateParams:
    return {
        "type": "static_bearer",
        "mcp_server_url": url or f"https://{unique('mcp')}.example.com/mcp",
        "token": token or canary(),
    }


def variable(
    name: str | None = None, location: BetaManagedAgentsInjectionLocationParams | None = None
) -> BetaManagedAgentsEnvironmentVariableCreateParams:
    auth: BetaManagedAgentsEnvironmentVariableCreateParams = {
        "type": "environment_variable",
        "secret_name": name or unique("KEY").replace("-", "_").upper(),
        "secret_value": canary(),
        "networking": {"type": "limited", "allowed_hosts": ["api.example.com", "*.example.org"]},
    }
    if location is not None:
        auth["injection_location"] = location
    return auth


def oauth(
    url: str | None = None, token_endpoint: str = "https://auth.example.com/token"
) -> BetaManagedAgentsMCPOAuthCreateParams:
    return {
        "type": "mcp_oauth",
        "mcp_server_url": url or f"https://{unique('mcp')}.example.com/mcp",
        "access_token": canary(),
        "expires_at": "2099-01-01T00:00:00Z",
        "refresh": {
            "client_id": "corral-client",
            "refresh_token": canary(),
            "token_endpoint": token_endpoint,
            "token_endpoint_auth": {"type": "client_secret_basic", "client_secret": canary()},
            "scope": "read write",
        },
    }


def new_vault(client: anthropic.Anthropic, **fields: Any) -> BetaManagedAgentsVault:
    fields.setdefault("display_name", unique("vault"))
    return validated(BetaManagedAgentsVault, client.beta.vaults.with_raw_response.create(**fields))


Auth = (
    BetaManagedAgentsStaticBearerCreateParams
    | BetaManagedAgentsMCPOAuthCreateParams
    | BetaManagedAgentsEnvironmentVariableCreateParams
)


def new_credential(
    client: anthropic.Anthropic, vault_id: str, auth: Auth, **fields: Any
) -> BetaManagedAgentsCredential:
    raw = client.beta.vaults.credentials.with_raw_response.create(vault_id, auth=auth, **fields)
    return validated(BetaManagedAgentsCredential, raw)


def _select(sql: str) -> Flow[list[Row]]:
    rows: list[Row] = yield all_rows(sql)
    return rows


async def _query(url: str, sql: str) -> list[dict[str, Any]]:
    db = open_database(url)
    await db.open()
    try:
        rows = await db.read(_select, sql)
        return [{key: row[key] for key in _keys(row)} for row in rows]
    finally:
        await db.close()


def _keys(row: Any) -> list[str]:
    return list(row.keys())


def db_rows(server: LiveServer, sql: str) -> list[dict[str, Any]]:
    """The rows ``sql`` selects in the server's database (read by a second connection, as anyone could)."""
    return anyio.run(_query, server.db_url, sql)
