"""``VaultStore.access``: live credentials with their secrets, and the refresh-token grant, on both engines.

The token endpoint is a real loopback HTTP server; a refresh that fails must be recorded on the credential and
logged, and never raise into the caller.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from corral.db import Database, Flow, one
from corral.ids import now, rfc3339
from corral.testing.http import ThreadedServer
from corral.vault import EnvironmentCredential, MCPCredential, VaultStore, parse_keyring
from corral.vault.keyfile import new_entry
from corral.vault.params import CredentialCreate, CredentialUpdate, VaultCreate
from tests.live import free_port
from tests.vault.helpers import canary
from tests.vault.servers import Grant, TokenEndpoint

pytestmark = pytest.mark.anyio
WORKSPACE = "wrkspc_default"


@pytest.fixture
async def store(database: Database) -> AsyncIterator[VaultStore]:
    made = VaultStore(database, parse_keyring(new_entry(), "test"))
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
def endpoint() -> Iterator[tuple[TokenEndpoint, str]]:
    handler = TokenEndpoint()
    with ThreadedServer(handler) as running:
        yield handler, f"{running.url}/token"


def oauth_params(token_url: str, *, expires_in: float, method: str = "client_secret_post") -> CredentialCreate:
    endpoint_auth: dict[str, str] = {"type": method}
    if method != "none":
        endpoint_auth["client_secret"] = "cnry-vlt-client-secret"
    return CredentialCreate.model_validate(
        {
            "auth": {
                "type": "mcp_oauth",
                "mcp_server_url": "https://mcp.example.com/mcp",
                "access_token": "cnry-vlt-old-access",
                "expires_at": rfc3339(now() + timedelta(seconds=expires_in)),
                "refresh": {
                    "client_id": "cid",
                    "refresh_token": "cnry-vlt-refresh",
                    "token_endpoint": token_url,
                    "token_endpoint_auth": endpoint_auth,
                    "resource": "https://mcp.example.com/",
                },
            }
        }
    )


def _doc(credential_id: str) -> Flow[str]:
    row = yield one("SELECT doc FROM vault_credentials WHERE id = $1", credential_id)
    assert row is not None
    return str(row["doc"])


async def test_live_credentials_in_vault_order_with_their_secrets(store: VaultStore) -> None:
    first = await store.create_vault(WORKSPACE, VaultCreate(display_name="first"))
    second = await store.create_vault(WORKSPACE, VaultCreate(display_name="second"))
    secret = canary()
    env = CredentialCreate.model_validate(
        {
            "auth": {
                "type": "environment_variable",
                "secret_name": "GH_TOKEN",
                "secret_value": secret,
                "networking": {"type": "limited", "allowed_hosts": ["api.github.com"]},
                "injection_location": {"header": True},
            }
        }
    )
    bearer = CredentialCreate.model_validate(
        {"auth": {"type": "static_bearer", "mcp_server_url": "https://m.example.com/mcp", "token": "cnry-vlt-b"}}
    )
    env_record = await store.create_credential(WORKSPACE, second.id, env)
    bearer_record = await store.create_credential(WORKSPACE, first.id, bearer)
    archived = await store.create_credential(
        WORKSPACE,
        first.id,
        CredentialCreate.model_validate(
            {"auth": {"type": "static_bearer", "mcp_server_url": "https://gone.example.com", "token": "cnry-vlt-g"}}
        ),
    )
    await store.archive_credential(WORKSPACE, first.id, archived.id)
    live = await store.access.credentials_for(WORKSPACE, [first.id, second.id, "vlt_missing"])
    assert live == [
        MCPCredential(bearer_record.id, first.id, "static_bearer", "https://m.example.com/mcp", "cnry-vlt-b"),
        EnvironmentCredential(env_record.id, second.id, "GH_TOKEN", secret, ("api.github.com",), True, False),
    ]
    assert secret not in repr(live) and "cnry-vlt-b" not in repr(live)
    assert await store.access.credentials_for("wrkspc_other", [first.id, second.id]) == []
    update = CredentialUpdate.model_validate({"auth": {"type": "environment_variable", "secret_value": "cnry-vlt-v2"}})
    await store.update_credential(WORKSPACE, second.id, env_record.id, update)
    await store.archive_vault(WORKSPACE, first.id)
    live = await store.access.credentials_for(WORKSPACE, [first.id, second.id])
    assert [(c.id, getattr(c, "value", None)) for c in live] == [(env_record.id, "cnry-vlt-v2")]


@pytest.mark.parametrize("method", ["none", "client_secret_basic", "client_secret_post"])
async def test_a_token_expiring_within_a_minute_is_refreshed_first(
    store: VaultStore, endpoint: tuple[TokenEndpoint, str], method: str
) -> None:
    handler, url = endpoint
    handler.answers.append(
        Grant(200, {"access_token": "cnry-vlt-new", "refresh_token": "cnry-vlt-r2", "expires_in": 600})
    )
    vault = await store.create_vault(WORKSPACE, VaultCreate(display_name="v"))
    record = await store.create_credential(WORKSPACE, vault.id, oauth_params(url, expires_in=30, method=method))
    [live] = await store.access.credentials_for(WORKSPACE, [vault.id])
    assert isinstance(live, MCPCredential) and live.token == "cnry-vlt-new"
    assert live.expires_at is not None and live.expires_at > rfc3339(now() + timedelta(seconds=500))
    form = handler.form()
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "cnry-vlt-refresh"
    assert form["resource"] == "https://mcp.example.com/"
    assert ("client_id" in form) == (method != "client_secret_basic")
    assert ("client_secret" in form) == (method == "client_secret_post")
    assert ("authorization" in handler.seen[0].headers) == (method == "client_secret_basic")
    stored = await store.get_credential(WORKSPACE, vault.id, record.id)
    assert stored.wire()["auth"]["expires_at"] == live.expires_at
    handler.answers.append(Grant(200, {"access_token": "cnry-vlt-newer", "expires_in": 600}))
    await store.access.refresh(live)  # on demand, as after a 401: uses the rotated refresh token
    assert handler.form()["refresh_token"] == "cnry-vlt-r2"
    [again] = await store.access.credentials_for(WORKSPACE, [vault.id])  # fresh for 10 minutes: no new grant
    assert isinstance(again, MCPCredential) and again.token == "cnry-vlt-newer" and len(handler.seen) == 2


async def test_a_stale_token_is_refreshed_once(store: VaultStore, endpoint: tuple[TokenEndpoint, str]) -> None:
    handler, url = endpoint
    handler.answers.append(Grant(200, {"access_token": "cnry-vlt-one", "expires_in": 3600}))
    vault = await store.create_vault(WORKSPACE, VaultCreate(display_name="v"))
    await store.create_credential(WORKSPACE, vault.id, oauth_params(url, expires_in=3600))
    [live] = await store.access.credentials_for(WORKSPACE, [vault.id])
    assert isinstance(live, MCPCredential) and live.token == "cnry-vlt-old-access" and handler.seen == []
    first = await store.access.refresh(live)
    second = await store.access.refresh(live)  # the token it reports as refused was replaced already
    assert first.token == second.token == "cnry-vlt-one" and len(handler.seen) == 1


async def test_a_failed_refresh_is_recorded_and_logged_never_raised(
    store: VaultStore, database: Database, endpoint: tuple[TokenEndpoint, str], caplog: pytest.LogCaptureFixture
) -> None:
    handler, url = endpoint
    handler.answers.append(Grant(400, {"error": "invalid_grant", "echo": "cnry-vlt-refresh"}))
    vault = await store.create_vault(WORKSPACE, VaultCreate(display_name="v"))
    record = await store.create_credential(WORKSPACE, vault.id, oauth_params(url, expires_in=10))
    with caplog.at_level(logging.WARNING, logger="corral.vault"):
        [live] = await store.access.credentials_for(WORKSPACE, [vault.id])
    assert isinstance(live, MCPCredential) and live.token == "cnry-vlt-old-access"  # what it had
    assert record.id in caplog.text and "failed" in caplog.text and "cnry-vlt" not in caplog.text
    doc = await database.read(_doc, record.id)
    assert '"refresh_failure":{"at":' in doc and '"status":"failed","status_code":400' in doc
    assert "cnry-vlt" not in doc


async def test_an_unreachable_token_endpoint_is_a_connect_error(store: VaultStore, database: Database) -> None:
    vault = await store.create_vault(WORKSPACE, VaultCreate(display_name="v"))
    url = f"http://127.0.0.1:{free_port()}/token"
    record = await store.create_credential(WORKSPACE, vault.id, oauth_params(url, expires_in=10))
    [live] = await store.access.credentials_for(WORKSPACE, [vault.id])
    assert isinstance(live, MCPCredential) and live.token == "cnry-vlt-old-access"
    assert '"status":"connect_error","status_code":null' in await database.read(_doc, record.id)
