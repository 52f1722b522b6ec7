"""Secrets are write-only: after every path that handles them, no response, log line or database byte holds one.

Every secret the vault tests send starts with ``CANARY_PREFIX``. This test drives the remaining paths that touch
secrets (updates, refusals that carry secrets, a validation whose server and token endpoint echo what they were
sent, archives), then scans every response body the package's SDK clients received, the server's log, and the
database as stored: the SQLite file and its WAL byte for byte, or every row of every PostgreSQL table as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic.types.beta.vaults import BetaManagedAgentsCredential

from corral.testing.http import ThreadedServer
from tests.live import LiveServer
from tests.vault.conftest import Bodies
from tests.vault.helpers import CANARY_PREFIX, bearer, canary, db_rows, new_credential, new_vault, oauth, variable
from tests.vault.servers import MCPServer, TokenEndpoint

MARK = CANARY_PREFIX.encode()


@pytest.fixture
def echoing() -> Iterator[tuple[str, str]]:
    """An MCP server that refuses every token (echoing it) and a token endpoint that refuses every grant (its
    default answer)."""
    with ThreadedServer(MCPServer()) as mcp, ThreadedServer(TokenEndpoint()) as tokens:
        yield f"{mcp.url}/mcp", f"{tokens.url}/token"


def refusals(client: anthropic.Anthropic, vault_id: str) -> None:
    """Bad requests that carry secrets: the 400 must not quote them."""
    bad_bodies: list[dict[str, object]] = [
        {"auth": {"type": "static_bearer", "token": canary()}},  # no mcp_server_url
        {"auth": {"type": "static_bearer", "mcp_server_url": "ftp://x", "token": canary()}},
        {"auth": {**bearer(), "unexpected": canary()}},
        {"auth": {**variable(), "secret_name": "9-bad name"}},
        {"auth": {**oauth(), "expires_at": "2001-01-01T00:00:00Z"}},
        {"auth": {"type": "nope", "token": canary()}},
        {"auth": bearer(), "display_name": 12},
    ]
    for body in bad_bodies:
        with pytest.raises(anthropic.BadRequestError):
            client.post(f"/v1/vaults/{vault_id}/credentials", body=body, cast_to=BetaManagedAgentsCredential)


def exercise(client: anthropic.Anthropic, mcp_url: str, token_url: str) -> None:
    vault = new_vault(client)
    kinds = [bearer(), oauth(mcp_url, token_url), variable()]
    made = [new_credential(client, vault.id, auth) for auth in kinds]
    update = client.beta.vaults.credentials.update
    update(made[0].id, vault_id=vault.id, auth={"type": "static_bearer", "token": canary()})
    update(made[2].id, vault_id=vault.id, auth={"type": "environment_variable", "secret_value": canary()})
    with pytest.raises(anthropic.ConflictError):
        client.beta.vaults.credentials.create(vault.id, auth=bearer(made[0].auth.model_dump()["mcp_server_url"]))
    result = client.beta.vaults.credentials.mcp_oauth_validate(made[1].id, vault_id=vault.id)
    assert result.status == "invalid" and result.refresh is not None and result.refresh.status == "failed"
    refusals(client, vault.id)
    client.beta.vaults.credentials.archive(made[0].id, vault_id=vault.id)
    client.beta.vaults.credentials.list(vault.id, include_archived=True)


def stored_bytes(server: LiveServer) -> bytes:
    if server.db_url.startswith("sqlite:///"):
        path = server.db_url.removeprefix("sqlite:///")
        files = [Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")]
        return b"".join(file.read_bytes() for file in files if file.exists())
    tables = db_rows(server, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    dumped = [db_rows(server, f"SELECT t::text AS row FROM {table['tablename']} t") for table in tables]
    return "\n".join(str(row["row"]) for rows in dumped for row in rows).encode()


def test_no_secret_is_ever_sent_logged_or_stored_in_clear(
    client: anthropic.Anthropic, server: LiveServer, bodies: Bodies, echoing: tuple[str, str]
) -> None:
    exercise(client, *echoing)
    assert bodies.seen and not [body for body in bodies.seen if MARK in body]
    assert MARK not in server.log_path.read_bytes()
    stored = stored_bytes(server)
    assert b"vault_credential" in stored or b"vcrd_" in stored  # the scan did read the credentials
    assert MARK not in stored
    sealed = db_rows(server, "SELECT count(*) AS n FROM vault_credentials WHERE ciphertext IS NOT NULL")
    assert int(sealed[0]["n"]) > 0
