"""``credentials.mcp_oauth_validate`` through the SDK, against loopback MCP servers and token endpoints."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import anthropic
import pytest
from anthropic.types.beta.vaults import BetaManagedAgentsCredentialValidation

from corral.testing.http import ThreadedServer
from tests.conformance.helpers import validated
from tests.live import free_port
from tests.vault.helpers import bearer, new_credential, new_vault, oauth
from tests.vault.servers import Grant, MCPServer, TokenEndpoint


@pytest.fixture
def mcp() -> Iterator[tuple[MCPServer, str]]:
    handler = MCPServer()
    with ThreadedServer(handler) as running:
        yield handler, f"{running.url}/mcp"


@pytest.fixture
def tokens() -> Iterator[tuple[TokenEndpoint, str]]:
    handler = TokenEndpoint()
    with ThreadedServer(handler) as running:
        yield handler, f"{running.url}/token"


def validate(client: anthropic.Anthropic, vault_id: str, credential_id: str) -> BetaManagedAgentsCredentialValidation:
    raw = client.beta.vaults.credentials.with_raw_response.mcp_oauth_validate(credential_id, vault_id=vault_id)
    return validated(BetaManagedAgentsCredentialValidation, raw)


@pytest.mark.parametrize("sse", [False, True], ids=["json", "sse"])
def test_a_token_the_server_accepts_is_valid(
    client: anthropic.Anthropic, mcp: tuple[MCPServer, str], tokens: tuple[TokenEndpoint, str], sse: bool
) -> None:
    server, url = mcp
    server.sse = sse
    auth = oauth(url, tokens[1])
    server.accepted.add(auth["access_token"])
    vault = new_vault(client)
    credential = new_credential(client, vault.id, auth)
    result = validate(client, vault.id, credential.id)
    assert (result.status, result.mcp_probe, result.refresh) == ("valid", None, None)
    assert result.type == "vault_credential_validation" and result.has_refresh_token
    assert (result.credential_id, result.vault_id) == (credential.id, vault.id)
    assert server.tokens() == [auth["access_token"]] and server.seen[-1].method == "DELETE"  # session closed
    assert tokens[0].seen == []


def test_a_refused_token_is_refreshed_and_the_new_one_stored(
    client: anthropic.Anthropic, mcp: tuple[MCPServer, str], tokens: tuple[TokenEndpoint, str]
) -> None:
    (server, url), (endpoint, token_url) = mcp, tokens
    auth = oauth(url, token_url)
    fresh = "cnry-vlt-fresh-access"
    endpoint.answers.append(Grant(200, {"access_token": fresh, "token_type": "Bearer", "expires_in": 3600}))
    vault = new_vault(client)
    credential = new_credential(client, vault.id, auth)
    result = validate(client, vault.id, credential.id)
    assert result.status == "unknown"  # refreshed, but the new token was not tested
    assert result.refresh is not None and result.refresh.status == "succeeded" and result.refresh.http_response is None
    assert result.mcp_probe is not None and result.mcp_probe.method == "initialize"
    probe = result.mcp_probe.http_response
    assert probe is not None and probe.status_code == 401 and probe.content_type == "application/json"
    assert "refused" in probe.body and auth["access_token"] not in probe.body  # the echoed token is scrubbed
    refresh = auth.get("refresh")
    assert refresh is not None and refresh["token_endpoint_auth"]["type"] == "client_secret_basic"
    secret = refresh["token_endpoint_auth"]["client_secret"]
    assert endpoint.form() == {
        "grant_type": "refresh_token",
        "refresh_token": refresh["refresh_token"],
        "scope": "read write",
    }
    basic = base64.b64encode(f"corral-client:{secret}".encode()).decode()
    assert endpoint.seen[0].headers["authorization"] == f"Basic {basic}"
    stored = client.beta.vaults.credentials.retrieve(credential.id, vault_id=vault.id)
    expires = stored.model_dump(mode="json")["auth"]["expires_at"]
    assert expires is not None and expires < "2099" and stored.updated_at > credential.updated_at
    server.accepted.add(fresh)
    assert validate(client, vault.id, credential.id).status == "valid"
    assert server.tokens()[-1] == fresh


def test_a_refresh_the_endpoint_refuses_makes_it_invalid(
    client: anthropic.Anthropic, mcp: tuple[MCPServer, str], tokens: tuple[TokenEndpoint, str]
) -> None:
    (_, url), (endpoint, token_url) = mcp, tokens
    auth = oauth(url, token_url)
    refresh = auth.get("refresh")
    assert refresh is not None
    endpoint.answers.append(Grant(400, {"error": "invalid_grant", "refresh_token": refresh["refresh_token"]}))
    vault = new_vault(client)
    credential = new_credential(client, vault.id, auth)
    result = validate(client, vault.id, credential.id)
    assert result.status == "invalid"
    assert result.refresh is not None and result.refresh.status == "failed"
    shown = result.refresh.http_response
    assert shown is not None and shown.status_code == 400 and "invalid_grant" in shown.body
    assert refresh["refresh_token"] not in shown.body and not shown.body_truncated


def test_without_a_refresh_token_a_refused_token_is_invalid(
    client: anthropic.Anthropic, mcp: tuple[MCPServer, str]
) -> None:
    auth = oauth(mcp[1])
    del auth["refresh"]
    vault = new_vault(client)
    credential = new_credential(client, vault.id, auth)
    result = validate(client, vault.id, credential.id)
    assert result.status == "invalid" and not result.has_refresh_token
    assert result.refresh is not None and result.refresh.status == "no_refresh_token"


def test_an_unreachable_server_is_unknown(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    credential = new_credential(client, vault.id, oauth(f"http://127.0.0.1:{free_port()}/mcp"))
    result = validate(client, vault.id, credential.id)
    assert result.status == "unknown" and result.refresh is None
    assert result.mcp_probe is not None and result.mcp_probe.http_response is None


def test_only_active_mcp_oauth_credentials_validate(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    static = new_credential(client, vault.id, bearer())
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.credentials.mcp_oauth_validate(static.id, vault_id=vault.id)
    archived = new_credential(client, vault.id, oauth())
    client.beta.vaults.credentials.archive(archived.id, vault_id=vault.id)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.credentials.mcp_oauth_validate(archived.id, vault_id=vault.id)
