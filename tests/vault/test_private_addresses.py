"""The vault's own requests (the validation probe, the token refresh) go where a user said, so they follow the
egress's address rule: a loopback or private address is refused unless the operator allows it
(``CORRAL_EGRESS_ALLOW_PRIVATE``). The allowed case is every other test here (their servers run on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import anyio
import pytest

from corral.testing.http import ThreadedServer
from tests.conftest import database_url
from tests.live import LiveServer, live_server
from tests.vault.helpers import new_credential, new_vault, oauth
from tests.vault.servers import MCPServer, TokenEndpoint


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[LiveServer]:
    db_url = anyio.run(database_url, "sqlite", tmp_path)
    with live_server(db_url, data_dir=tmp_path / "data", env={"CORRAL_WORKERS": "0"}) as running:
        yield running


def test_a_probe_to_a_loopback_address_is_refused(strict_server: LiveServer) -> None:
    mcp, tokens = MCPServer(), TokenEndpoint()
    with ThreadedServer(mcp) as mcp_server, ThreadedServer(tokens) as token_server:
        with anthropic.Anthropic(base_url=strict_server.base_url, api_key=strict_server.api_key) as client:
            vault = new_vault(client)
            auth = oauth(f"{mcp_server.url}/mcp", f"{token_server.url}/token")
            credential = new_credential(client, vault.id, auth)
            result = client.beta.vaults.credentials.mcp_oauth_validate(credential.id, vault_id=vault.id)
    assert result.status == "unknown"
    assert mcp.seen == [] and tokens.seen == []  # nothing reached either loopback server
