"""``VaultBearers``: MCP tokens from the session's vaults (api.md §11.3), the ``McpCredentials`` of ``corral serve``.

A ``static_bearer`` or ``mcp_oauth`` credential serves the MCP server whose URL is its ``mcp_server_url`` (compared
as ``credentials.server_key`` does), among the vaults the session attached, the first vault in the session's
order winning. An ``mcp_oauth`` token is refreshed by the vault before it expires, and once more after the server
refused it (``refused``).
"""

from __future__ import annotations

from collections.abc import Sequence

from corral.egress.mcp.credentials import server_key
from corral.vault import Access, MCPCredential


class VaultBearers:
    def __init__(self, access: Access):
        self.access = access

    async def bearer_for(self, workspace_id: str, vault_ids: Sequence[str], server_url: str) -> str | None:
        credential = await self._credential(workspace_id, vault_ids, server_url)
        return None if credential is None else credential.token

    async def refused(self, workspace_id: str, vault_ids: Sequence[str], server_url: str, token: str) -> str | None:
        credential = await self._credential(workspace_id, vault_ids, server_url)
        if credential is None:
            return None
        if credential.token != token:  # replaced since: try the new one
            return credential.token
        fresh = await self.access.refresh(credential)
        return fresh.token if fresh.token != token else None

    async def _credential(self, workspace_id: str, vault_ids: Sequence[str], server_url: str) -> MCPCredential | None:
        if not vault_ids:
            return None
        wanted = server_key(server_url)
        found = [
            credential
            for credential in await self.access.credentials_for(workspace_id, list(vault_ids))
            if isinstance(credential, MCPCredential) and server_key(credential.mcp_server_url) == wanted
        ]
        found.sort(key=lambda credential: list(vault_ids).index(credential.vault_id))
        return found[0] if found else None
